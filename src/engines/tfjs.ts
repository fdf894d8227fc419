import { promises as fsp } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { CnnfeatError, ExitCode, errorMessage } from '../errors.js';
import { readModelJson } from '../models/model-json.js';
import { initBackend, type BackendChoice, type BackendName } from './backend.js';

/** A network cut at a feature layer, turning preprocessed image batches into feature rows. */
export interface FeatureExtractor {
  readonly layer: string;
  /** Length of one feature row. */
  readonly dim: number;
  readonly input: { height: number; width: number };
  /** True when the layer's spatial output is averaged to a vector (global average pooling). */
  readonly pooled: boolean;
  readonly backend: BackendName;
  /**
   * Runs `n` images (NHWC float32, already preprocessed) and returns `n × dim` features.
   * All intermediate tensors are freed: `tf.memory().numTensors` stays flat across calls.
   */
  run(batch: Float32Array, n: number): Promise<Float32Array>;
  dispose(): void;
}

/** A layer of a LayersModel as listed by `cnnfeat layers`. */
export interface LayerInfo {
  name: string;
  className: string;
  outputShape: (number | null)[];
}

/** Reads a TensorFlow.js LayersModel (`model.json` + weight shards) from the local disk. */
function fileHandler(modelJson: string): tf.io.IOHandler {
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
      };
    },
  };
}

/** Loads a LayersModel from disk on the selected backend. */
export async function loadLayersModel(modelJson: string, backend: BackendChoice = 'auto'): Promise<tf.LayersModel> {
  await initBackend(backend);
  try {
    return await tf.loadLayersModel(fileHandler(modelJson));
  } catch (err) {
    if (err instanceof CnnfeatError) throw err;
    throw new CnnfeatError(`${modelJson}: could not load the model: ${errorMessage(err)}`);
  }
}

/**
 * Lists the layers of a model with their output shapes, and the layer cut at when none is
 * named (null when the model has no Dense head).
 */
export async function listLayers(modelJson: string): Promise<{ layers: LayerInfo[]; defaultLayer: string | null }> {
  const model = await loadLayersModel(modelJson);
  try {
    const layers = model.layers.map((l) => ({
      name: l.name,
      className: l.getClassName(),
      outputShape: (Array.isArray(l.outputShape[0]) ? l.outputShape[0] : l.outputShape) as (number | null)[],
    }));
    let defaultLayer: string | null = null;
    try {
      defaultLayer = defaultFeatureLayer(model);
    } catch {
      // No Dense head: every cut must be named.
    }
    return { layers, defaultLayer };
  } finally {
    model.dispose();
  }
}

/** The layer used when none is named: the input of the last Dense layer (the classifier head). */
export function defaultFeatureLayer(model: tf.LayersModel): string {
  const dense = [...model.layers].reverse().find((l) => l.getClassName() === 'Dense');
  const feeding = dense?.inboundNodes[0]?.inboundLayers[0];
  if (!feeding || feeding.getClassName() === 'InputLayer') {
    throw new CnnfeatError('the model has no Dense classifier head to cut before; name a layer with --layer (see `cnnfeat layers`)');
  }
  return feeding.name;
}

/**
 * Loads a model cut at `layer` (default: the layer before the last Dense), following
 * tfjs-models: one `load()` factory, inference inside `tf.tidy`, and a warm-up run.
 */
export async function loadExtractor(
  modelJson: string,
  { layer, backend = 'auto' }: { layer?: string; backend?: BackendChoice } = {},
): Promise<FeatureExtractor> {
  const model = await loadLayersModel(modelJson, backend);
  try {
    const extractor = buildExtractor(model, layer ?? defaultFeatureLayer(model), modelJson);
    await extractor.run(new Float32Array(extractor.input.height * extractor.input.width * 3), 1);
    return extractor;
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function buildExtractor(model: tf.LayersModel, layerName: string, modelJson: string): FeatureExtractor {
  const [, height, width, channels] = model.inputs[0]!.shape;
  if (!height || !width || channels !== 3) {
    throw new CnnfeatError(`${modelJson}: expected a fixed-size RGB input [null, H, W, 3], got [${model.inputs[0]!.shape.join(', ')}]`);
  }
  const cut = cutAt(model, layerName, modelJson);
  const outShape = cut.outputs[0]!.shape;
  const pooled = outShape.length === 4;
  const dim = (pooled ? outShape[3] : outShape.slice(1).reduce((a, b) => a! * b!, 1)) as number;
  const forward = (batch: Float32Array, n: number) =>
    tf.tidy(() => {
      const y = cut.predict(tf.tensor4d(batch.subarray(0, n * height * width * 3), [n, height, width, 3])) as tf.Tensor;
      return pooled ? y.mean([1, 2]) : y.reshape([n, dim]);
    });
  return {
    layer: layerName,
    dim,
    input: { height, width },
    pooled,
    backend: tf.getBackend() as BackendName,
    async run(batch, n) {
      let y: tf.Tensor | undefined;
      try {
        y = forward(batch, n);
        return (await y.data()) as Float32Array;
      } catch (err) {
        throw new CnnfeatError(`inference failed on a batch of ${n}: ${errorMessage(err)}; try a smaller --batch-size`, ExitCode.internal);
      } finally {
        y?.dispose();
      }
    },
    dispose() {
      model.dispose();
    },
  };
}

function cutAt(model: tf.LayersModel, layerName: string, modelJson: string): tf.LayersModel {
  let layer: tf.layers.Layer;
  try {
    layer = model.getLayer(layerName);
  } catch {
    throw new CnnfeatError(`${modelJson}: no layer named "${layerName}"; list them with \`cnnfeat layers\``);
  }
  return tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
}
