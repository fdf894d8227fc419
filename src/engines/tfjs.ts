import * as tf from '@tensorflow/tfjs';
import { CnnfeatError, errorMessage } from '../errors.js';
import { modelFileHandler } from './tfjs-io.js';
import { initBackend, tfjsDescription, type BackendChoice, type BackendName } from './backend.js';
import type { CutSpec, FeatureExtractor, PoolMode } from './engine.js';
import { tfjsExtractor } from './tfjs-extractor.js';
import { unknownCutError } from '../util/names.js';

/** A layer of a LayersModel as listed by `cnnfeat layers`. */
export interface LayerInfo {
  name: string;
  className: string;
  outputShape: (number | null)[];
}

/** Loads a LayersModel from disk on the selected backend. */
export async function loadLayersModel(modelJson: string, backend: BackendChoice = 'auto'): Promise<tf.LayersModel> {
  await initBackend(backend);
  try {
    return await tf.loadLayersModel(modelFileHandler(modelJson));
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
    throw new CnnfeatError('the model has no Dense classifier head to cut before; name the layer to cut at (--layer; see `cnnfeat layers`)');
  }
  return feeding.name;
}

/**
 * Loads a model cut at `cut.layers` (default: the layer before the last Dense), following
 * tfjs-models: one `load()` factory, inference inside `tf.tidy`, and a warm-up run.
 */
export async function loadExtractor(
  modelJson: string,
  { layers, pool = 'avg', backend = 'auto' }: Partial<CutSpec> & { backend?: BackendChoice } = {},
): Promise<FeatureExtractor> {
  const model = await loadLayersModel(modelJson, backend);
  try {
    const extractor = await buildExtractor(model, layers?.length ? layers : [defaultFeatureLayer(model)], pool, modelJson);
    await extractor.run(new Float32Array(extractor.input.height * extractor.input.width * 3), 1);
    return extractor;
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** Input size of an RGB image model, `[null, H, W, 3]`. */
export function imageInputOf(model: tf.LayersModel, modelJson: string): { height: number; width: number } {
  const [, height, width, channels] = model.inputs[0]!.shape;
  if (!height || !width || channels !== 3) {
    throw new CnnfeatError(`${modelJson}: expected a fixed-size RGB input [null, H, W, 3], got [${model.inputs[0]!.shape.join(', ')}]`);
  }
  return { height, width };
}

async function buildExtractor(model: tf.LayersModel, layers: string[], pool: PoolMode, modelJson: string): Promise<FeatureExtractor> {
  const cut = cutAt(model, layers, modelJson);
  return tfjsExtractor({
    layers,
    shapes: cut.outputs.map((o) => o.shape),
    input: imageInputOf(model, modelJson),
    pool,
    description: await tfjsDescription(tf.getBackend() as BackendName),
    forward: (x) => cut.predict(x),
    dispose: () => model.dispose(),
  });
}

function cutAt(model: tf.LayersModel, layers: string[], modelJson: string): tf.LayersModel {
  const outputs = layers.map((name) => {
    try {
      return model.getLayer(name).output as tf.SymbolicTensor;
    } catch {
      throw unknownCutError('layer', name, model.layers.map((l) => l.name), modelJson);
    }
  });
  return tf.model({ inputs: model.inputs, outputs });
}
