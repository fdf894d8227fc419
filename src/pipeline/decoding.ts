import os from 'node:os';
import { nonNegativeInt } from '../util/validate.js';
import { DecodePool } from '../image/decode-pool.js';
import { inProcessDecoder, type ImageDecoder } from '../image/decoder.js';
import { DECODE_DEFAULTS, defaultDecoders } from './defaults.js';
import type { FeatureModel } from './feature-model.js';

/**
 * The decoder of an extraction of `images` images: `decoders` processes when asked (0: this
 * process), else as `defaultDecoders` sizes it for this machine and the device inference runs on.
 */
export function openDecoder(decoders: number | undefined, fm: FeatureModel, images: number, batchSize: number): ImageDecoder {
  if (decoders !== undefined) nonNegativeInt('decoders', decoders);
  const count = decoders ?? defaultDecoders({ cores: os.availableParallelism(), gpu: inferenceOnGpu(fm), images, batchSize });
  if (count === 0) return inProcessDecoder;
  return new DecodePool({ processes: count, perProcess: DECODE_DEFAULTS.perProcess, nice: DECODE_DEFAULTS.nice });
}

/**
 * Whether the engine runs inference off the CPU (an engine description with a `device` other than
 * `cpu`): then every core is free to decode. No engine reports one yet.
 */
function inferenceOnGpu(fm: FeatureModel): boolean {
  const { device } = fm.extractor.describe() as { device?: string };
  return device !== undefined && device !== 'cpu';
}

/** Batches to decode ahead of the engine: enough to keep every decoder busy, at least two. */
export function batchesAhead(decoder: ImageDecoder, batchSize: number): number {
  return Math.max(2, Math.ceil((2 * decoder.concurrency) / batchSize));
}
