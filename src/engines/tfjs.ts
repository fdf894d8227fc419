import * as tf from '@tensorflow/tfjs';
import { CnnfeatError, errorMessage } from '../errors.js';
import { modelFileHandler } from './tfjs-io.js';
import { initBackend, tfjsDescription, type BackendChoice, type BackendName } from './backend.js';
import { inferenceError, type CutSpec, type FeatureExtractor, type PoolMode } from './engine.js';

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
    throw new CnnfeatError('the model has no Dense classifier head to cut before; name a layer with --layer (see `cnnfeat layers`)');
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

/** Feature length of one output of shape `[null, ...]` after pooling (rank 4) or flattening. */
export function featureDimOf(shape: readonly (number | null)[], pool: PoolMode): number {
  if (shape.length === 4) return shape[3]! * (pool === 'avg+max' ? 2 : 1);
  return shape.slice(1).reduce<number>((a, b) => a * b!, 1);
}

/** Pools `[n, H, W, C]` to `[n, C]` (or `[n, 2C]` for avg+max); flattens any other rank. */
export function poolOrFlatten(y: tf.Tensor, pool: PoolMode): tf.Tensor2D {
  if (y.rank !== 4) return y.reshape([y.shape[0]!, -1]) as tf.Tensor2D;
  if (pool === 'avg') return y.mean([1, 2]) as tf.Tensor2D;
  if (pool === 'max') return y.max([1, 2]) as tf.Tensor2D;
  return tf.concat([y.mean([1, 2]), y.max([1, 2])], 1) as tf.Tensor2D;
}

async function buildExtractor(model: tf.LayersModel, layers: string[], pool: PoolMode, modelJson: string): Promise<FeatureExtractor> {
  const { height, width } = imageInputOf(model, modelJson);
  const cut = cutAt(model, layers, modelJson);
  const shapes = cut.outputs.map((o) => o.shape);
  const dim = shapes.reduce((sum, s) => sum + featureDimOf(s, pool), 0);
  const forward = (batch: Float32Array, n: number) =>
    tf.tidy(() => {
      const out = cut.predict(tf.tensor4d(batch.subarray(0, n * height * width * 3), [n, height, width, 3]));
      const pooled = (Array.isArray(out) ? out : [out]).map((y) => poolOrFlatten(y, pool));
      return pooled.length === 1 ? pooled[0]! : tf.concat(pooled, 1);
    });
  const description = await tfjsDescription(tf.getBackend() as BackendName);
  return {
    layers,
    dim,
    input: { height, width },
    pooled: shapes.some((s) => s.length === 4),
    pool,
    run: (batch, n) => readRows(() => forward(batch, n), n),
    describe: () => ({ ...description }),
    dispose() {
      model.dispose();
    },
  };
}

/** Runs `forward` (a tidy computation of `n` feature rows) and reads its rows, freeing its tensor. */
export async function readRows(forward: () => tf.Tensor, n: number): Promise<Float32Array> {
  let y: tf.Tensor | undefined;
  try {
    y = forward();
    return (await y.data()) as Float32Array;
  } catch (err) {
    throw inferenceError(n, err);
  } finally {
    y?.dispose();
  }
}

function cutAt(model: tf.LayersModel, layers: string[], modelJson: string): tf.LayersModel {
  const outputs = layers.map((name) => {
    try {
      return model.getLayer(name).output as tf.SymbolicTensor;
    } catch {
      throw new CnnfeatError(`${modelJson}: no layer named "${name}"; list them with \`cnnfeat layers\``);
    }
  });
  return tf.model({ inputs: model.inputs, outputs });
}
