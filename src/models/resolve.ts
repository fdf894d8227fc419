import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CnnfeatError, ExitCode } from '../errors.js';
import { statOrNull } from '../util/fs.js';
import type { PreprocessMode } from '../image/preprocess.js';
import type { ResizeMode } from '../image/resize.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { urlCacheDir } from '../util/cache.js';
import { findCard, listCards, type ModelCard } from './card.js';
import { pullModel } from './download.js';
import { pullHttpModel } from './http-model.js';
import { weightsDigest, type InstalledModel } from './install.js';
import { modelFormatOf, type ModelFormat } from '../formats/model-format.js';
import { isOnnxPath } from '../formats/onnx-model.js';

/** A model ready to load: its files on disk and the defaults its card (if any) gives. */
export interface ResolvedModel {
  /** Card id, the URL of a model given by URL, or the absolute path of a local model file. */
  id: string;
  /** The model.json or .onnx file. */
  modelFile: string;
  weightsDigest: string;
  /** LayersModel (`tf.loadLayersModel`), GraphModel (`tf.loadGraphModel`, cut with `execute`) or ONNX (cut by editing the graph). */
  format: ModelFormat;
  /** How `--model` was understood. */
  kind: 'card' | 'user-card' | 'url' | 'path';
  /** Defaults from the card; undefined otherwise (then derived from the graph). */
  featureLayer?: string;
  preprocess?: PreprocessMode;
  /** Input size from the card (a GraphModel may leave it open); else read from the model. */
  input?: { height: number; width: number };
  /** Feature length the card announces for `featureLayer`. */
  dim?: number;
  /** The card's fitting of images, when it names one (see `ModelCard.resize`, `cropFraction`). */
  resize?: ResizeMode;
  cropFraction?: number;
}

/** Whether a `--model` value is an http(s) URL. */
export function isModelUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/**
 * Resolves `--model`: a card id (built-in or user; downloaded into the cache on first use, saying
 * so on the logger), an http(s) URL of a TensorFlow.js model.json or of a `.onnx` file
 * (downloaded into the cache keyed by the URL, checked against the recorded sizes and sha256 on
 * later uses), or a path to a local `model.json` (or its folder; LayersModel or GraphModel) or
 * `.onnx` file (or a folder holding one).
 */
export async function resolveModel(spec: string, logger: Logger = silentLogger): Promise<ResolvedModel> {
  const card = await findCard(spec);
  if (card) return resolveCard(card, logger);
  if (isModelUrl(spec)) {
    const installed = await pullHttpModel({ id: spec, url: spec, dir: urlCacheDir(spec), logger });
    const format = await modelFormatOf(installed.modelFile);
    return { id: spec, kind: 'url', modelFile: installed.modelFile, weightsDigest: installed.record.weightsDigest, format };
  }
  const modelFile = await localModelFile(spec);
  if (!modelFile) {
    const ids = (await listCards()).map((c) => c.id).join(', ');
    throw new CnnfeatError(`--model ${spec}: not a model id (${ids}), an http(s) URL nor a path to a TensorFlow.js model.json or an .onnx file`);
  }
  const format = await modelFormatOf(modelFile);
  return { id: modelFile, kind: 'path', modelFile, weightsDigest: await weightsDigest(modelFile), format };
}

async function resolveCard(card: ModelCard, logger: Logger): Promise<ResolvedModel> {
  let modelFile: string;
  let digest: string;
  if (card.source.type === 'local') {
    modelFile = card.source.path;
    if (!(await statOrNull(modelFile))?.isFile()) {
      throw new CnnfeatError(`model ${card.id}: ${modelFile} is gone; restore it or re-add the model with \`cnnfeat models add ${card.id} … --force\``);
    }
    digest = await weightsDigest(modelFile);
    if (card.source.weightsDigest && card.source.weightsDigest !== digest) {
      throw new CnnfeatError(
        `model ${card.id}: the weights of ${modelFile} changed since \`cnnfeat models add\` (digest ${digest} instead of ${card.source.weightsDigest}); re-add it with --force if the change is intended`,
        ExitCode.model,
      );
    }
  } else {
    const installed = await pullModel(card, { logger });
    modelFile = installed.modelFile;
    digest = installed.record.weightsDigest;
  }
  const format = await modelFormatOf(modelFile);
  return {
    id: card.id,
    kind: card.user ? 'user-card' : 'card',
    modelFile,
    weightsDigest: digest,
    format,
    featureLayer: card.featureLayer,
    preprocess: card.preprocess,
    input: { height: card.input.height, width: card.input.width },
    dim: card.dim,
    ...(card.resize ? { resize: card.resize } : {}),
    ...(card.cropFraction !== undefined ? { cropFraction: card.cropFraction } : {}),
  };
}

/**
 * The absolute path of a local model file given as itself or as its folder (which holds a
 * model.json, or a single .onnx file); null when there is none.
 */
export async function localModelFile(spec: string): Promise<string | null> {
  const abs = path.resolve(spec);
  const stat = await statOrNull(abs);
  if (stat?.isFile()) return abs;
  if (!stat?.isDirectory()) return null;
  const inside = path.join(abs, 'model.json');
  if ((await statOrNull(inside))?.isFile()) return inside;
  const onnxFiles = (await fsp.readdir(abs)).filter((name) => isOnnxPath(name)).sort();
  if (onnxFiles.length > 1) {
    throw new CnnfeatError(`${spec}: the folder holds several ONNX models (${onnxFiles.join(', ')}); name the file`);
  }
  return onnxFiles.length === 1 ? path.join(abs, onnxFiles[0]!) : null;
}

async function cardOrFail(id: string): Promise<ModelCard> {
  const card = await findCard(id);
  if (!card) {
    const ids = (await listCards()).map((c) => c.id).join(', ');
    throw new CnnfeatError(`unknown model "${id}"; known models: ${ids} (or give the http(s) URL of a model.json or .onnx file)`);
  }
  return card;
}

/**
 * Installs (or finds) a card's model or a model given by URL, for `models pull|path`; a local
 * card's folder is used as is.
 */
export async function fetchModel(spec: string, opts: { force?: boolean; logger?: Logger } = {}): Promise<{ id: string; dir: string; modelFile: string; weightsDigest?: string }> {
  if (isModelUrl(spec) && !(await findCard(spec))) {
    return summary(spec, await pullHttpModel({ id: spec, url: spec, dir: urlCacheDir(spec), ...opts }));
  }
  const card = await cardOrFail(spec);
  if (card.source.type === 'local') return { id: card.id, dir: path.dirname(card.source.path), modelFile: card.source.path };
  return summary(card.id, await pullModel(card, opts));
}

function summary(id: string, installed: InstalledModel) {
  return { id, dir: installed.dir, modelFile: installed.modelFile, weightsDigest: installed.record.weightsDigest };
}
