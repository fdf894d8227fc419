/**
 * The defaults of extraction and of `run`: the library applies them wherever an option is left
 * out, and the CLI shows the same values in `--help` (it sets none of its own).
 */
import type { EngineChoice, PoolMode, Precision } from '../../engines/engine.js';
import type { ResizeKernel, ResizeMode } from '../../image/resize.js';
import type { IccMode } from '../../image/icc.js';
import type { AugmentMode, TtaMode } from '../../image/flip.js';

/**
 * Extraction defaults: ResNet50 cut at its card's layer, average pooling, images fitted as the
 * ImageNet networks are evaluated (aspect ratio kept, centre cropped; a model card may name its
 * own fitting), bilinear, no mirrors.
 */
export const EXTRACT_DEFAULTS: {
  readonly model: string;
  readonly pool: PoolMode;
  readonly resize: ResizeMode;
  readonly cropFraction: number;
  readonly resizeKernel: ResizeKernel;
  readonly icc: IccMode;
  readonly tta: TtaMode;
  readonly augment: AugmentMode;
  readonly engine: EngineChoice;
  /** `--device`: a GPU when one works and is faster than the CPU, else the CPU. */
  readonly device: 'auto';
  readonly precision: Precision;
  /** On the CPU; a GPU engine picks its own (32 in fp32, 64 in fp16) unless `--batch-size` is given. */
  readonly batchSize: number;
} = {
  model: 'resnet50',
  pool: 'avg',
  /**
   * Resize, then centre crop, as torchvision and timm evaluate ImageNet networks: squashing a 4:3
   * photo to a square (the blog post's and Keras' `target_size` way, `--resize squash`) costs accuracy.
   */
  resize: 'center-crop',
  /** Of a center-crop whose model card names none: the whole short side (see the cards for the built-in models). */
  cropFraction: 1,
  /** Bilinear, as PIL and torchvision resize (Keras' `load_img` uses nearest, which costs accuracy). */
  resizeKernel: 'linear',
  /** Pixels as stored, as PIL, Keras and torchvision read them (docs/extraction.md: measured speed and accuracy). */
  icc: 'ignore',
  tta: 'none',
  augment: 'none',
  engine: 'auto',
  device: 'auto',
  precision: 'fp32',
  batchSize: 32,
};

/** `run` defaults: the held-out fraction when the dataset has no train/test split, and the seed of that split. */
export const RUN_DEFAULTS = { testSize: 0.2, seed: 0 } as const;

/** How decoder processes decode (see `defaultDecoders` for how many there are). */
export const DECODE_DEFAULTS = {
  /** Images each decoder process decodes at once. */
  perProcess: 1,
} as const;

/** What `defaultDecoders` sizes the decoding for. */
export interface DecodeWork {
  /** Cores of the machine (os.availableParallelism()). */
  cores: number;
  /** Inference runs on a GPU, leaving the cores to decoding. */
  gpu: boolean;
  /** Images to decode. */
  images: number;
  batchSize: number;
}

/**
 * Decoder processes of an extraction (0: decode in this process). With inference on the CPU it
 * needs the cores, and decoding is ≈ 10 % of ResNet50's CPU time: one process per 8 cores, at
 * least one. With inference on a GPU every core decodes (one Node process stops scaling at a few
 * hundred images/s, processes scale with the cores). Never more processes than batches, and none
 * for a single batch: there is nothing to overlap, and a process takes ≈ 0.1–0.2 s to start.
 */
export function defaultDecoders(work: DecodeWork): number {
  const batches = Math.ceil(work.images / work.batchSize);
  if (batches <= 1) return 0;
  const wanted = work.gpu ? work.cores : Math.max(1, Math.floor(work.cores / 8));
  return Math.min(wanted, batches);
}
