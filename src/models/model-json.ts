import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { CnnfeatError } from '../errors.js';
import { readJson, statOrNull } from '../util/fs.js';

/** A validated TensorFlow.js LayersModel `model.json` and the paths of its weight shards. */
export interface TfjsModelFiles {
  json: tf.io.ModelJSON;
  /** Absolute paths of the weight shards, in manifest order. */
  shards: string[];
}

/**
 * Reads a TensorFlow.js LayersModel `model.json` and checks that it has a topology, a weights
 * manifest and every shard it names.
 */
export async function readModelJson(modelJson: string): Promise<TfjsModelFiles> {
  const hint = 'give the model.json of a TensorFlow.js LayersModel';
  const json = await readJson<tf.io.ModelJSON>(modelJson, hint);
  const groupsOk = Array.isArray(json?.weightsManifest) && json.weightsManifest.every((g) => Array.isArray(g?.paths) && Array.isArray(g.weights));
  if (typeof json !== 'object' || json === null || !json.modelTopology || !groupsOk) {
    throw new CnnfeatError(`${modelJson}: not a TensorFlow.js LayersModel (needs modelTopology and weightsManifest); ${hint}`);
  }
  const dir = path.dirname(modelJson);
  const shards = json.weightsManifest.flatMap((group) => group.paths.map((p) => path.join(dir, p)));
  for (const shard of shards) {
    if (!(await statOrNull(shard))?.isFile()) {
      throw new CnnfeatError(`${modelJson}: weight shard ${path.relative(dir, shard)} is missing; copy the whole model folder`);
    }
  }
  return { json, shards };
}
