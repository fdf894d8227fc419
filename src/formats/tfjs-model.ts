import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { CnnfeatError } from '../errors.js';
import { readJson, statOrNull } from '../util/fs.js';

/** The two kinds of TensorFlow.js model: a Keras-style LayersModel or a converted TF GraphModel. */
export type TfjsFormat = 'layers' | 'graph';

/** A validated TensorFlow.js `model.json` and the paths of its weight shards. */
export interface TfjsModelFiles {
  json: tf.io.ModelJSON;
  format: TfjsFormat;
  /** Absolute paths of the weight shards, in manifest order. */
  shards: string[];
}

const HINT = 'give the model.json of a TensorFlow.js LayersModel or GraphModel';

/**
 * Checks the shape of a parsed `model.json` (topology, weights manifest with safe relative shard
 * paths) and tells a GraphModel (`format: graph-model`, or a topology of TF nodes) from a LayersModel.
 * @param where the file or URL named in errors
 */
export function parseModelJson(json: unknown, where: string): { json: tf.io.ModelJSON; format: TfjsFormat; shardPaths: string[] } {
  const model = json as tf.io.ModelJSON;
  if ((json as { format?: unknown } | null)?.format === 'cnnfeat-classifier') {
    const network = (json as { features?: { model?: unknown } }).features?.model;
    throw new CnnfeatError(
      `${where}: is a cnnfeat classifier file, not a network; --model takes the network the features come from${typeof network === 'string' ? ` (this classifier's: ${network})` : ''}, and the classifier file goes to cnnfeat eval or predict`,
    );
  }
  const groupsOk =
    Array.isArray(model?.weightsManifest) &&
    model.weightsManifest.every((g) => Array.isArray(g?.paths) && g.paths.every((p) => typeof p === 'string') && Array.isArray(g.weights));
  if (typeof model !== 'object' || model === null || typeof model.modelTopology !== 'object' || model.modelTopology === null || !groupsOk) {
    throw new CnnfeatError(`${where}: not a TensorFlow.js model (needs modelTopology and weightsManifest); ${HINT}`);
  }
  const topology = model.modelTopology as { node?: unknown };
  const format: TfjsFormat = model.format === 'graph-model' || Array.isArray(topology.node) ? 'graph' : 'layers';
  const shardPaths = model.weightsManifest.flatMap((group) => group.paths);
  for (const shard of shardPaths) {
    const parts = shard.split(/[\\/]/);
    if (shard === '' || path.isAbsolute(shard) || /^[a-z][a-z0-9+.-]*:/i.test(shard) || parts.includes('..')) {
      throw new CnnfeatError(`${where}: weight shard path "${shard}" must be relative to model.json, inside its folder; ${HINT}`);
    }
  }
  return { json: model, format, shardPaths };
}

/**
 * The names a cut (`--layer`) can take, read from the topology without loading the weights:
 * GraphModel node names, or Keras layer names; null when the topology does not name every layer.
 */
export function cutNamesOf(json: tf.io.ModelJSON): string[] | null {
  const topology = json.modelTopology as { node?: { name?: unknown }[]; model_config?: unknown; config?: unknown };
  const listed = Array.isArray(topology.node) ? topology.node : kerasLayersOf(topology.model_config ?? topology);
  const names = listed?.map((entry) => (entry as { config?: { name?: unknown } }).config?.name ?? entry.name);
  return names?.every((n): n is string => typeof n === 'string') ? names : null;
}

/** The layer list of a Keras model config: `config.layers` (functional, newer Sequential) or `config` itself (older Sequential). */
function kerasLayersOf(modelConfig: unknown): { name?: unknown }[] | undefined {
  const config = (modelConfig as { config?: unknown } | undefined)?.config;
  const layers = Array.isArray(config) ? config : (config as { layers?: unknown } | undefined)?.layers;
  return Array.isArray(layers) ? layers : undefined;
}

/**
 * Reads a TensorFlow.js `model.json` (LayersModel or GraphModel) and checks that it has a
 * topology, a weights manifest and every shard it names.
 */
export async function readModelJson(modelJson: string): Promise<TfjsModelFiles> {
  const { json, format, shardPaths } = parseModelJson(await readJson<unknown>(modelJson, HINT), modelJson);
  const dir = path.dirname(modelJson);
  const shards = shardPaths.map((p) => path.join(dir, p));
  for (const shard of shards) {
    if (!(await statOrNull(shard))?.isFile()) {
      throw new CnnfeatError(`${modelJson}: weight shard ${path.relative(dir, shard)} is missing; copy the whole model folder`);
    }
  }
  return { json, format, shards };
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/**
 * Total bytes of the weights a manifest declares (what the shards must add up to), or null when
 * it cannot be known (string weights, unknown dtypes).
 */
export function declaredWeightBytes(json: tf.io.ModelJSON): number | null {
  let total = 0;
  for (const spec of json.weightsManifest.flatMap((g) => g.weights)) {
    const dtype = spec.quantization?.dtype ?? spec.dtype;
    const size = BYTES_PER_ELEMENT[dtype];
    if (size === undefined || !Array.isArray(spec.shape)) return null;
    total += spec.shape.reduce((a, b) => a * b, 1) * size;
  }
  return total;
}
