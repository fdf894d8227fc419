/** Input normalisations of the common model families. */
export const PREPROCESS_MODES = ['caffe', 'tf', 'torch', 'unit', 'none'] as const;
export type PreprocessMode = (typeof PREPROCESS_MODES)[number];

const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;
const TORCH_MEAN = [0.485, 0.456, 0.406] as const;
const TORCH_STD = [0.229, 0.224, 0.225] as const;

/**
 * Converts RGB uint8 pixels (HWC) to model input floats and writes them into `out` at `offset`,
 * so a batch is filled in one pass with no intermediate copy.
 * - caffe: RGB→BGR, minus the ImageNet mean (Keras ResNet50/VGG `preprocess_input`)
 * - tf: x / 127.5 − 1 (Keras MobileNet/Inception)
 * - torch: x / 255, minus mean, over std (torchvision)
 * - unit: x / 255, i.e. [0, 1] (TF Hub image modules, which rescale to [-1, 1] inside the graph)
 * - none: raw 0–255 values
 */
export function preprocessInto(pixels: Uint8Array, mode: PreprocessMode, out: Float32Array, offset: number): void {
  const n = pixels.length;
  // Plain views of exactly one image: V8 compiles the loops below to tight code for them (the
  // pixels arrive as Buffers, and indexing `out` at offset + i costs an add per value).
  const src = new Uint8Array(pixels.buffer, pixels.byteOffset, n);
  const dst = out.subarray(offset, offset + n);
  switch (mode) {
    case 'caffe': {
      const [b, g, r] = CAFFE_MEAN_BGR;
      for (let i = 0; i < n; i += 3) {
        dst[i] = src[i + 2]! - b;
        dst[i + 1] = src[i + 1]! - g;
        dst[i + 2] = src[i]! - r;
      }
      return;
    }
    case 'tf':
      for (let i = 0; i < n; i++) dst[i] = src[i]! / 127.5 - 1;
      return;
    case 'torch':
      for (let i = 0; i < n; i += 3) {
        for (let c = 0; c < 3; c++) dst[i + c] = (src[i + c]! / 255 - TORCH_MEAN[c]!) / TORCH_STD[c]!;
      }
      return;
    case 'unit':
      for (let i = 0; i < n; i++) dst[i] = src[i]! / 255;
      return;
    case 'none':
      for (let i = 0; i < n; i++) dst[i] = src[i]!;
      return;
  }
}

/**
 * A normalisation as a per-channel affine map on RGB uint8 pixels: output channel c is
 * `pixel[channels[c]] · scale[c] + shift[c]` — what `preprocessInto` computes, in the form a graph
 * can apply to raw pixels (see `withPixelInput`).
 */
export interface PixelAffine {
  /** Input channel of each output channel (caffe's BGR order reads channel 2 first). */
  channels: [number, number, number];
  scale: [number, number, number];
  shift: [number, number, number];
}

/** The affine map of a normalisation mode (the same constants as `preprocessInto`). */
export function pixelAffine(mode: PreprocessMode): PixelAffine {
  const same = (v: number): [number, number, number] => [v, v, v];
  const rgb: [number, number, number] = [0, 1, 2];
  switch (mode) {
    case 'caffe':
      return { channels: [2, 1, 0], scale: same(1), shift: [-CAFFE_MEAN_BGR[0], -CAFFE_MEAN_BGR[1], -CAFFE_MEAN_BGR[2]] };
    case 'tf':
      return { channels: rgb, scale: same(1 / 127.5), shift: same(-1) };
    case 'torch': {
      const scale = TORCH_STD.map((s) => 1 / (255 * s)) as [number, number, number];
      const shift = TORCH_MEAN.map((m, c) => -m / TORCH_STD[c]!) as [number, number, number];
      return { channels: rgb, scale, shift };
    }
    case 'unit':
      return { channels: rgb, scale: same(1 / 255), shift: same(0) };
    case 'none':
      return { channels: rgb, scale: same(1), shift: same(0) };
  }
}
