import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import { exists, makeDir, writeJsonAtomic } from '../util/fs.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { modelCacheDir, userCardsDir } from '../util/cache.js';
import { findBuiltInCard, isValidModelId, type ModelCard, type ModelSource } from './card.js';
import { pullHttpModel } from './http-model.js';
import { weightsDigest } from './install.js';
import { isModelUrl, localModelFile } from './resolve.js';

/** The file of a user card. */
export function userCardFile(id: string): string {
  return path.join(userCardsDir(), `${id}.json`);
}

/**
 * Checks that `id` can name a new user card: a valid id, not a built-in card, and not an existing
 * user card unless `force`.
 */
export async function checkNewCardId(id: string, force = false): Promise<void> {
  if (!isValidModelId(id)) {
    throw new CnnfeatError(`model id "${id}": use letters, digits, ".", "_" and "-" (not first), at most 100 characters`);
  }
  if (await findBuiltInCard(id)) throw new CnnfeatError(`model id "${id}" is a built-in model; choose another id`);
  const file = userCardFile(id);
  if (!force && (await exists(file))) throw new CnnfeatError(`model "${id}" already exists (${file}); replace it with the force option (--force)`);
}

/** Writes a user card into the cache (`<cache>/cards/<id>.json`); returns the file. */
export async function writeUserCard(card: ModelCard): Promise<string> {
  const file = userCardFile(card.id);
  await makeDir(userCardsDir());
  await writeJsonAtomic(file, card);
  return file;
}

/**
 * Where a new user card's model comes from: a URL is downloaded into the cache (the source pins
 * the size and sha256 of every file); a local model is referenced by absolute path with its
 * weights digest.
 */
export async function fetchCardSource(opts: { id: string; model: string; logger?: Logger }): Promise<{ source: ModelSource; modelFile: string; weightsDigest: string }> {
  const logger = opts.logger ?? silentLogger;
  if (isModelUrl(opts.model)) {
    const installed = await pullHttpModel({ id: opts.id, url: opts.model, dir: modelCacheDir(opts.id), logger });
    const files = Object.fromEntries(installed.record.files.map((f) => [f.name, { bytes: f.bytes, ...(f.sha256 ? { sha256: f.sha256 } : {}) }]));
    return { source: { type: 'http', url: opts.model, files }, modelFile: installed.modelFile, weightsDigest: installed.record.weightsDigest };
  }
  const modelFile = await localModelFile(opts.model);
  if (!modelFile) throw new CnnfeatError(`${opts.model}: no such model.json or .onnx file (nor folder holding one), and not an http(s) URL`);
  const digest = await weightsDigest(modelFile);
  return { source: { type: 'local', path: modelFile, weightsDigest: digest }, modelFile, weightsDigest: digest };
}

