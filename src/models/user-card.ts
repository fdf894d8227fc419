import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import type { PreprocessMode } from '../image/preprocess.js';
import { listLayers } from '../engines/tfjs.js';
import { loadGraphExtractor, listGraphNodes } from '../engines/tfjs-graph.js';
import { exists, makeDir, writeJsonAtomic } from '../util/fs.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { modelCacheDir, userCardsDir } from './cache.js';
import { findBuiltInCard, isValidModelId, type ModelCard, type ModelSource } from './card.js';
import { pullHttpModel } from './http-model.js';
import { weightsDigest } from './install.js';
import { readModelJson, type ModelFormat } from './model-json.js';
import { isModelUrl, localModelJson } from './resolve.js';

/** What `cnnfeat models add` is given. */
export interface AddCardOptions {
  id: string;
  /** Path to a local model.json (or its folder), or the http(s) URL of one. */
  model: string;
  preprocess: PreprocessMode;
  /** Layer(s) or node(s), comma-separated (default: the model's default feature layer). */
  layer?: string;
  /** Expected feature length; refused when the model gives another. */
  dim?: number;
  title?: string;
  /** Input size for a graph whose input size is open. */
  input?: { height: number; width: number };
  /** Replace an existing user card with this id. */
  force?: boolean;
  logger?: Logger;
}

/** The file of a user card. */
export function userCardFile(id: string): string {
  return path.join(userCardsDir(), `${id}.json`);
}

/**
 * Writes a user model card into the cache (`<cache>/cards/<id>.json`) after checking the id, that
 * it does not shadow a built-in card, that the model loads and that the layers exist (their
 * feature length becomes the card's `dim`). A URL is downloaded into the cache first and the card
 * pins the size and sha256 of every file; a local model is referenced by absolute path with its
 * weights digest.
 */
export async function addUserCard(opts: AddCardOptions): Promise<{ card: ModelCard; file: string }> {
  const { id, logger = silentLogger } = opts;
  if (!isValidModelId(id)) {
    throw new CnnfeatError(`model id "${id}": use letters, digits, ".", "_" and "-" (not first), at most 100 characters`);
  }
  if (await findBuiltInCard(id)) throw new CnnfeatError(`model id "${id}" is a built-in model; choose another id`);
  const file = userCardFile(id);
  if (!opts.force && (await exists(file))) throw new CnnfeatError(`model "${id}" already exists (${file}); pass --force to replace it`);

  const { source, modelJson } = await fetchSource(opts, logger);
  const { format } = await readModelJson(modelJson);
  const cut = await inspectCut(modelJson, format, opts);
  if (opts.dim !== undefined && opts.dim !== cut.dim) {
    throw new CnnfeatError(`--dim ${opts.dim}: ${cut.layer} gives ${cut.dim} features; drop --dim or fix it`);
  }
  const card: ModelCard = {
    id,
    title: opts.title ?? `${id} (added from ${opts.model})`,
    source,
    format,
    modelFile: 'model.json',
    input: { height: cut.input.height, width: cut.input.width, channels: 3 },
    preprocess: opts.preprocess,
    featureLayer: cut.layer,
    dim: cut.dim,
    license: 'unknown (user model)',
  };
  if (source.type === 'local') card.modelFile = path.basename(source.path);
  await makeDir(userCardsDir());
  await writeJsonAtomic(file, card);
  return { card: { ...card, user: true }, file };
}

async function fetchSource(opts: AddCardOptions, logger: Logger): Promise<{ source: ModelSource; modelJson: string }> {
  if (isModelUrl(opts.model)) {
    const installed = await pullHttpModel({ id: opts.id, url: opts.model, dir: modelCacheDir(opts.id), logger });
    const files = Object.fromEntries(installed.record.files.map((f) => [f.name, { bytes: f.bytes, ...(f.sha256 ? { sha256: f.sha256 } : {}) }]));
    return { source: { type: 'http', url: opts.model, files }, modelJson: installed.modelJson };
  }
  const modelJson = await localModelJson(opts.model);
  if (!modelJson) throw new CnnfeatError(`${opts.model}: no such model.json (nor folder holding one), and not an http(s) URL`);
  return { source: { type: 'local', path: modelJson, weightsDigest: await weightsDigest(modelJson) }, modelJson };
}

/** Loads the model cut at the requested (or default) layers: their names, total dim and input size. */
async function inspectCut(
  modelJson: string,
  format: ModelFormat,
  opts: AddCardOptions,
): Promise<{ layer: string; dim: number; input: { height: number; width: number } }> {
  const requested = opts.layer?.split(',').map((l) => l.trim());
  if (format === 'graph') {
    const layers = requested ?? [(await listGraphNodes(modelJson, { input: opts.input })).defaultNode ?? missingDefault(modelJson)];
    const extractor = await loadGraphExtractor(modelJson, { layers, input: opts.input });
    extractor.dispose();
    return { layer: layers.join(','), dim: extractor.dim, input: extractor.input };
  }
  const { layers, defaultLayer } = await listLayers(modelJson);
  const names = requested ?? [defaultLayer ?? missingDefault(modelJson)];
  let dim = 0;
  for (const name of names) {
    const layer = layers.find((l) => l.name === name);
    if (!layer) throw new CnnfeatError(`${modelJson}: no layer named "${name}"; list them with \`cnnfeat layers\``);
    const shape = layer.outputShape;
    dim += shape.length === 4 ? shape[3]! : shape.slice(1).reduce<number>((a, b) => a * (b ?? NaN), 1);
  }
  if (!Number.isInteger(dim) || dim <= 0) throw new CnnfeatError(`${modelJson}: cannot tell the feature length of ${names.join(', ')}`);
  const inputShape = layers.find((l) => l.className === 'InputLayer')?.outputShape;
  const input = inputShape && inputShape[1] && inputShape[2] ? { height: inputShape[1], width: inputShape[2] } : opts.input;
  if (!input) throw new CnnfeatError(`${modelJson}: the model's input size is open; give it with --input HxW`);
  return { layer: names.join(','), dim, input };
}

function missingDefault(modelJson: string): never {
  throw new CnnfeatError(`${modelJson}: no default feature layer (no Dense head or global pooling); name one with --layer (see \`cnnfeat layers\`)`);
}
