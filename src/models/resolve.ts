import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import { statOrNull } from '../util/fs.js';
import type { PreprocessMode } from '../image/preprocess.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { findCard, listCards } from './card.js';
import { pullModel, weightsDigest } from './download.js';

/** A model ready to load: its files on disk and the defaults its card (if any) gives. */
export interface ResolvedModel {
  /** Card id, or the absolute path of a local `model.json`. */
  id: string;
  modelJson: string;
  weightsDigest: string;
  /** Defaults from the card; undefined for a local model (then derived from the graph). */
  featureLayer?: string;
  preprocess?: PreprocessMode;
}

/**
 * Resolves `--model`: a built-in card id (pulled into the cache on first use, saying so on
 * the logger) or a path to a local TensorFlow.js LayersModel `model.json` (or its folder).
 */
export async function resolveModel(spec: string, logger: Logger = silentLogger): Promise<ResolvedModel> {
  const card = await findCard(spec);
  if (card) {
    const installed = await pullModel(card, { logger });
    return {
      id: card.id,
      modelJson: installed.modelJson,
      weightsDigest: installed.record.weightsDigest,
      featureLayer: card.featureLayer,
      preprocess: card.preprocess,
    };
  }
  const modelJson = await localModelJson(spec);
  if (!modelJson) {
    const ids = (await listCards()).map((c) => c.id).join(', ');
    throw new CnnfeatError(`--model ${spec}: not a model id (${ids}) nor a path to a TensorFlow.js model.json`);
  }
  return { id: modelJson, modelJson, weightsDigest: await weightsDigest(modelJson) };
}

async function localModelJson(spec: string): Promise<string | null> {
  const abs = path.resolve(spec);
  const stat = await statOrNull(abs);
  if (stat?.isFile()) return abs;
  if (stat?.isDirectory()) {
    const inside = path.join(abs, 'model.json');
    if ((await statOrNull(inside))?.isFile()) return inside;
  }
  return null;
}
