/**
 * The defaults of extraction and of `run`: the library applies them wherever an option is left
 * out, and the CLI shows the same values in `--help` (it sets none of its own).
 */
import type { EngineChoice, PoolMode, Precision } from '../engines/engine.js';
import type { ResizeKernel, ResizeMode } from '../image/resize.js';
import type { AugmentMode, TtaMode } from '../image/flip.js';

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
  tta: 'none',
  augment: 'none',
  engine: 'auto',
  device: 'auto',
  precision: 'fp32',
  batchSize: 32,
};

/** `run` defaults: the held-out fraction when the dataset has no train/test split, and the seed of that split. */
export const RUN_DEFAULTS = { testSize: 0.2, seed: 0 } as const;
