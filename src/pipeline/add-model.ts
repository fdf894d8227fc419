/**
 * `models add`: a user model card checked against the model itself (it loads, the layers exist,
 * their feature length and the input size), then written into the cache.
 */
import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import type { PreprocessMode } from '../image/preprocess.js';
import type { Logger } from '../util/log.js';
import { modelFormatOf, type ModelFormat } from '../formats/model-format.js';
import type { Layout } from '../formats/onnx-model.js';
import { checkFitting, type ModelCard } from '../models/card.js';
import type { ResizeMode } from '../image/resize.js';
import { checkNewCardId, fetchCardSource, writeUserCard } from '../models/user-card.js';
import { listLayers } from '../engines/tfjs.js';
import { loadGraphExtractor, listGraphNodes } from '../engines/tfjs-graph.js';
import { checkPreprocess, cutGraph } from '../engines/onnx/user-graph.js';
import { unknownCutError } from '../util/names.js';

/** What `cnnfeat models add` is given. */
export interface AddCardOptions {
  id: string;
  /** Path to a local model.json or .onnx file (or its folder), or the http(s) URL of one. */
  model: string;
  preprocess: PreprocessMode;
  /** Layer(s), node(s) or ONNX tensor(s), comma-separated (default: the model's default feature layer). */
  layer?: string;
  /** Expected feature length; refused when the model gives another. */
  dim?: number;
  title?: string;
  /** Input size for a graph whose input size is open. */
  input?: { height: number; width: number };
  /** The model's fitting of images (default: none recorded, i.e. center-crop at fraction 1). */
  resize?: ResizeMode;
  /** With center-crop: the share of the scaled image kept (e.g. timm's `crop_pct`). */
  cropFraction?: number;
  /** Replace an existing user card with this id. */
  force?: boolean;
  logger?: Logger;
}

/**
 * Writes a user model card into the cache (`<cache>/cards/<id>.json`) after checking the id, that
 * it does not shadow a built-in card, that the model loads and that the layers exist (their
 * feature length becomes the card's `dim`). A URL is downloaded into the cache first and the card
 * pins the size and sha256 of every file; a local model is referenced by absolute path with its
 * weights digest.
 */
export async function addUserCard(opts: AddCardOptions): Promise<{ card: ModelCard; file: string }> {
  await checkNewCardId(opts.id, opts.force);
  checkFitting(opts.resize, opts.cropFraction); // before anything is downloaded
  const { source, modelFile, weightsDigest } = await fetchCardSource(opts);
  const format = await modelFormatOf(modelFile);
  const cut = await inspectCut({ modelFile, weightsDigest }, format, opts);
  if (opts.dim !== undefined && opts.dim !== cut.dim) {
    throw new CnnfeatError(`expected feature length ${opts.dim} (--dim): ${cut.layer} gives ${cut.dim} features; leave it out or correct it`);
  }
  const card: ModelCard = {
    id: opts.id,
    title: opts.title ?? `${opts.id} (added from ${opts.model})`,
    source,
    format,
    modelFile: path.basename(modelFile),
    input: { height: cut.input.height, width: cut.input.width, channels: 3 },
    ...(cut.layout ? { layout: cut.layout } : {}),
    preprocess: opts.preprocess,
    ...(opts.resize ? { resize: opts.resize } : {}),
    ...(opts.cropFraction !== undefined ? { cropFraction: opts.cropFraction } : {}),
    featureLayer: cut.layer,
    dim: cut.dim,
    license: 'unknown (user model)',
  };
  const file = await writeUserCard(card);
  return { card: { ...card, user: true }, file };
}

/** Loads the model cut at the requested (or default) layers: their names, total dim and input size. */
async function inspectCut(
  { modelFile, weightsDigest }: { modelFile: string; weightsDigest: string },
  format: ModelFormat,
  opts: AddCardOptions,
): Promise<{ layer: string; dim: number; input: { height: number; width: number }; layout?: Layout }> {
  const requested = opts.layer?.split(',').map((l) => l.trim());
  if (format === 'onnx') {
    const cut = await cutGraph({ modelFile, weightsDigest, input: opts.input }, { layers: requested ?? [], pool: 'avg' }, { logger: opts.logger });
    checkPreprocess(cut, opts.preprocess, modelFile);
    return { layer: cut.layers.join(','), dim: cut.dim, input: cut.input, layout: cut.layout };
  }
  if (format === 'graph') {
    const layers = requested ?? [(await listGraphNodes(modelFile, { input: opts.input })).defaultNode ?? missingDefault(modelFile)];
    const extractor = await loadGraphExtractor(modelFile, { layers, input: opts.input });
    extractor.dispose();
    return { layer: layers.join(','), dim: extractor.dim, input: extractor.input };
  }
  const { layers, defaultLayer } = await listLayers(modelFile);
  const names = requested ?? [defaultLayer ?? missingDefault(modelFile)];
  let dim = 0;
  for (const name of names) {
    const layer = layers.find((l) => l.name === name);
    if (!layer) throw unknownCutError('layer', name, layers.map((l) => l.name), modelFile);
    const shape = layer.outputShape;
    dim += shape.length === 4 ? shape[3]! : shape.slice(1).reduce<number>((a, b) => a * (b ?? NaN), 1);
  }
  if (!Number.isInteger(dim) || dim <= 0) throw new CnnfeatError(`${modelFile}: cannot tell the feature length of ${names.join(', ')}`);
  const inputShape = layers.find((l) => l.className === 'InputLayer')?.outputShape;
  const input = inputShape && inputShape[1] && inputShape[2] ? { height: inputShape[1], width: inputShape[2] } : opts.input;
  if (!input) throw new CnnfeatError(`${modelFile}: the model's input size is open; give the input size (--input HxW)`);
  return { layer: names.join(','), dim, input };
}

function missingDefault(modelFile: string): never {
  throw new CnnfeatError(`${modelFile}: no default feature layer (no Dense head or global pooling); name the layer to cut at (--layer; see \`cnnfeat layers\`)`);
}
