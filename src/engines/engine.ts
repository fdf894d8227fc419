import { CnnfeatError, ExitCode, errorMessage } from '../errors.js';
import type { Provider } from './device/choice.js';

/** How a spatial layer output (H×W×C) becomes a vector. */
export const POOLS = ['avg', 'max', 'avg+max'] as const;
export type PoolMode = (typeof POOLS)[number];

/** Inference engines, fastest first. */
export const ENGINES = ['onnx', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu'] as const;
export type EngineName = (typeof ENGINES)[number];
/** `--engine`: a specific engine, `tfjs` (the best tfjs backend) or `auto`. */
export type EngineChoice = 'auto' | 'onnx' | 'tfjs' | EngineName;

/** What `--engine` accepts: auto, a family (tfjs = the best tfjs backend available) or one engine. */
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'onnx', 'tfjs', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu'];

/** Where and how a model is cut: one or more layers, each pooled when spatial, concatenated. */
export interface CutSpec {
  /** Layer (or graph node) names, in the order their features are concatenated. */
  layers: string[];
  /** Pooling of spatial outputs (default `avg`). */
  pool?: PoolMode;
}

/** Numeric precision of the network's computation (`--precision`); inputs and features stay float32. */
export const PRECISIONS = ['fp32', 'fp16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** Options of an engine's `load`. */
export interface EngineLoadOptions extends CutSpec {
  /** Intra-op threads (default: all cores; 1 on a GPU, where they only run what the GPU provider leaves to the CPU). */
  threads?: number;
}

/** What an engine reports about itself (`cnnfeat info`, manifests). */
export interface EngineDescription {
  engine: EngineName;
  /** Version of the runtime package, e.g. onnxruntime-node 1.30.0. */
  version: string;
  threads: number;
  /** Where inference ran (absent in manifests written before devices existed: the CPU). */
  device?: 'cpu' | 'gpu';
  /** The onnxruntime execution provider (`cpu`, `webgpu`, `cuda`); absent for tfjs. */
  provider?: Provider;
  /** The processor as far as cnnfeat can tell (the CPU model, or the GPU the driver files name). */
  adapter?: string;
  precision?: Precision;
  /** Why this device: `auto`'s reason, or the request. */
  deviceReason?: string;
}

/** A batch as an engine takes it: preprocessed float32 values, or raw uint8 pixels normalised by the engine. */
export type EngineInput = Float32Array | Uint8Array;

/** Options of `FeatureExtractor.run`. */
export interface EngineRunOptions {
  transfer?: boolean;
  returned?: (batch: EngineInput) => void;
}

/** A network cut at feature layers, turning preprocessed image batches into feature rows. */
export interface FeatureExtractor {
  readonly layers: string[];
  /** Length of one feature row (sum over the layers). */
  readonly dim: number;
  readonly input: { height: number; width: number };
  /** True when at least one layer's spatial output is pooled to a vector. */
  readonly pooled: boolean;
  readonly pool: PoolMode;
  /**
   * What `run` takes: `float32`, images already preprocessed; `uint8`, the decoded RGB pixels,
   * normalised inside the engine (the same math as `preprocessInto`).
   */
  readonly inputType: 'float32' | 'uint8';
  /** Images per forward pass suited to the device (the default of `--batch-size`), when the engine has a preference. */
  readonly batchSize?: number;
  /**
   * Runs `n` images (NHWC, as `inputType` says) and returns `n × dim` features.
   * Leaves no tensor or buffer behind between calls. With `transfer`, the engine may take the
   * batch's memory instead of copying it (the array is then detached: do not use it again);
   * an engine that took it may hand it back, once the run is done with it, to `returned`, so
   * that the caller can fill it again instead of allocating the next batch.
   */
  run(batch: EngineInput, n: number, opts?: EngineRunOptions): Promise<Float32Array>;
  describe(): EngineDescription;
  /** What the engine measured over all its runs so far, when it measures (see EngineTimings). */
  timings?(): EngineTimings;
  dispose(): void | Promise<void>;
}

/**
 * Cumulative measurements of an engine that runs off the calling thread (ms). Differences of two
 * snapshots describe the runs between them.
 */
export interface EngineTimings {
  runs: number;
  images: number;
  /** Wall time of the forward passes. */
  inferenceMs: number;
  /** From handing a batch over until its run started, less the time the engine was still busy with an earlier batch. */
  handoverMs: number;
  /** From the end of a run until its features reached the caller's thread. */
  returnMs: number;
  /** CPU time of the inference threads during the runs (null: not measurable here). */
  inferenceCpuMs: number | null;
  /** Time the inference threads were ready to run but waited for a free core (null: not measurable). */
  inferenceCpuWaitMs: number | null;
}

/** The error of a failed forward pass (usually memory: a smaller batch helps). */
export function inferenceError(n: number, err: unknown): CnnfeatError {
  return new CnnfeatError(`inference failed on a batch of ${n}: ${errorMessage(err)}; try a smaller batch size (--batch-size)`, ExitCode.internal);
}
