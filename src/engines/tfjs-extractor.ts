/** The feature extractor both tfjs engines (LayersModel and GraphModel) build around their forward pass. */
import * as tf from '@tensorflow/tfjs';
import { CnnfeatError } from '../errors.js';
import { cpuName } from './device/facts.js';
import { inferenceError, type EngineDescription, type EngineInput, type FeatureExtractor, type PoolMode } from './engine.js';

/** What a tfjs model contributes to an extractor. */
export interface TfjsCut {
  layers: string[];
  /** Output shape of each cut tensor (batch first). */
  shapes: readonly (readonly (number | null)[])[];
  input: { height: number; width: number };
  pool: PoolMode;
  description: EngineDescription;
  /** The cut tensors for an NHWC batch (called inside `tf.tidy`). */
  forward(x: tf.Tensor4D): tf.Tensor | tf.Tensor[];
  dispose(): void;
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

/**
 * The extractor of a tfjs cut: each batch runs inside `tf.tidy`, spatial outputs pooled per
 * `pool`, the others flattened, the parts concatenated in the order of `layers`.
 */
export function tfjsExtractor(cut: TfjsCut): FeatureExtractor {
  const { height, width } = cut.input;
  const forward = (batch: EngineInput, n: number) =>
    tf.tidy(() => {
      if (!(batch instanceof Float32Array)) throw new CnnfeatError('the tfjs engines take preprocessed float32 batches (inputType float32)');
      const out = cut.forward(tf.tensor4d(batch.subarray(0, n * height * width * 3), [n, height, width, 3]));
      const parts = (Array.isArray(out) ? out : [out]).map((y) => poolOrFlatten(y, cut.pool));
      return parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
    });
  return {
    layers: [...cut.layers],
    dim: cut.shapes.reduce((sum, shape) => sum + featureDimOf(shape, cut.pool), 0),
    input: { height, width },
    pooled: cut.shapes.some((shape) => shape.length === 4),
    pool: cut.pool,
    inputType: 'float32',
    run: (batch, n) => readRows(() => forward(batch, n), n),
    describe: () => ({ ...cut.description, device: 'cpu', adapter: cpuName(), precision: 'fp32' }),
    dispose: () => cut.dispose(),
  };
}

/** Runs `forward` (a tidy computation of `n` feature rows) and reads its rows, freeing its tensor. */
async function readRows(forward: () => tf.Tensor, n: number): Promise<Float32Array> {
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
