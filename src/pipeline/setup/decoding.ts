import os from 'node:os';
import { nonNegativeInt } from '../../util/validate.js';
import { DecodePool } from '../../image/decode-pool.js';
import { inProcessDecoder, type ImageDecoder } from '../../image/decoder.js';
import { DECODE_DEFAULTS, defaultDecoders, EXTRACT_DEFAULTS } from './defaults.js';
import { withFeatureModel, type FeatureModel, type FeatureModelOptions } from './feature-model.js';

/** What chooses an extraction's decoder. */
export interface DecoderChoice {
  /** Decoder processes (0: decode in this process; default: `defaultDecoders`). */
  decoders?: number;
  /** An open decoder (e.g. shared by the train and test extractions of `run`), left open. */
  decoder?: ImageDecoder;
}

/** Sizes a decoder opened before the model was loaded for the engine it runs on. */
type FitDecoder = (fm: FeatureModel) => void;

/** What `withDecoderAndModel` opens: a decoder, the network, for batches of `batchSize` images. */
export interface DecodingOptions extends DecoderChoice, FeatureModelOptions {
  batchSize?: number;
  /** An already loaded model, left open (see `withFeatureModel`). */
  featureModel?: FeatureModel;
}

/**
 * Runs `fn` with a decoder for `images` images (see `withDecoder`) and the network (see
 * `withFeatureModel`): the decoder's processes start while the network loads, sized for inference
 * on the CPU, and grow once the network runs on a GPU.
 */
export function withDecoderAndModel<T>(opts: DecodingOptions, images: number, fn: (fm: FeatureModel, decoder: ImageDecoder) => Promise<T>): Promise<T> {
  // Sized with the CPU's batch size: the engine's own is known once it is loaded.
  return withDecoder(opts, images, opts.batchSize ?? EXTRACT_DEFAULTS.batchSize, (decoder, fit) =>
    withFeatureModel(opts, (fm) => {
      fit(fm);
      return fn(fm, decoder);
    }),
  );
}

/** Images per forward pass: the option, else the engine's for its device, else the default. */
export function batchSizeFor(batchSize: number | undefined, fm: FeatureModel): number {
  return batchSize ?? fm.extractor.batchSize ?? EXTRACT_DEFAULTS.batchSize;
}

/**
 * Runs `fn` with `choice.decoder` when given (left open), else with a decoder for `images`
 * images opened now — before the network loads, so that its processes start meanwhile — and
 * closed after `fn`. Until `fit(fm)` says the engine runs on a GPU it is sized for inference on
 * the CPU; `--decoders N` fixes the size.
 */
async function withDecoder<T>(choice: DecoderChoice, images: number, batchSize: number, fn: (decoder: ImageDecoder, fit: FitDecoder) => Promise<T>): Promise<T> {
  if (choice.decoder) return fn(choice.decoder, () => {});
  if (choice.decoders !== undefined) nonNegativeInt('decoders', choice.decoders);
  const sized = (gpu: boolean) => choice.decoders ?? defaultDecoders({ cores: os.availableParallelism(), gpu, images, batchSize });
  const processes = images === 0 ? 0 : sized(false);
  const decoder = processes === 0 ? inProcessDecoder : new DecodePool({ processes, perProcess: DECODE_DEFAULTS.perProcess });
  const fit = (fm: FeatureModel) => {
    if (decoder instanceof DecodePool && inferenceOnGpu(fm)) decoder.grow(sized(true));
  };
  try {
    return await fn(decoder, fit);
  } finally {
    await decoder.close();
  }
}

/** Whether the engine runs inference on a GPU: then every core is free to decode. */
function inferenceOnGpu(fm: FeatureModel): boolean {
  return fm.extractor.describe().device === 'gpu';
}

/** Batches to decode ahead of the engine: enough to keep every decoder busy, at least two. */
export function batchesAhead(decoder: ImageDecoder, batchSize: number): number {
  return Math.max(2, Math.ceil((2 * decoder.concurrency) / batchSize));
}
