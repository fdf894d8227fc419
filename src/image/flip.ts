/**
 * Mirror images: the one augmentation every ImageNet network was trained with, so the features of
 * an image's mirror are as valid as the image's own.
 */

/** Test-time augmentation: `flip` makes each row the mean of the image's and its mirror's features. */
export const TTA_MODES = ['none', 'flip'] as const;
export type TtaMode = (typeof TTA_MODES)[number];

/** Training-row augmentation: `flip` adds a row of each image's mirror after the image's own row. */
export const AUGMENT_MODES = ['none', 'flip'] as const;
export type AugmentMode = (typeof AUGMENT_MODES)[number];

/**
 * The left–right mirror of 8-bit pixels, HWC with 3 channels (as `decodeImage` gives them), in a new buffer.
 * @param width pixels per row
 */
export function mirrorPixels(pixels: Uint8Array, width: number): Buffer {
  const rowBytes = width * 3;
  if (width <= 0 || pixels.length % rowBytes !== 0) throw new Error(`mirrorPixels: ${pixels.length} bytes are not rows of ${width} RGB pixels`);
  const out = Buffer.allocUnsafe(pixels.length);
  for (let row = 0; row < pixels.length; row += rowBytes) {
    for (let x = 0; x < rowBytes; x += 3) {
      const from = row + rowBytes - 3 - x;
      out[row + x] = pixels[from]!;
      out[row + x + 1] = pixels[from + 1]!;
      out[row + x + 2] = pixels[from + 2]!;
    }
  }
  return out;
}
