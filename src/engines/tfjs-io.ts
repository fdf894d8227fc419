import { promises as fsp } from 'node:fs';
import type * as tf from '@tensorflow/tfjs';
import { readModelJson } from '../formats/tfjs-model.js';

/**
 * A tfjs IOHandler reading a model (`model.json` + weight shards, LayersModel or GraphModel) from
 * the local disk, so that no `file://` handler (tfjs-node only) is needed.
 */
export function modelFileHandler(modelJson: string): tf.io.IOHandler {
  return {
    async load() {
      const { json, shards } = await readModelJson(modelJson);
      const weights = Buffer.concat(await Promise.all(shards.map((p) => fsp.readFile(p))));
      return {
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        modelInitializer: json.modelInitializer,
        initializerSignature: json.initializerSignature,
      };
    },
  };
}
