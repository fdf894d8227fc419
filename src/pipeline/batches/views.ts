/**
 * Mirrored views of a batch (`tta: 'flip'`, `augment: 'flip'`): each decoded image is followed by
 * its mirror in the forward pass, and their pooled features become the image's row (their mean)
 * or its two rows. Works on the decoded 8-bit pixels, before they become the network's input.
 */
import { mirrorPixels } from '../../image/flip.js';
import type { ExtractSettings } from '../../features/schema.js';

type ViewSettings = Pick<ExtractSettings, 'tta' | 'augment' | 'input'>;

/** Images that go through the network per decoded image: 2 with a flip (TTA or augmentation), else 1. */
function viewsPerImage(settings: ViewSettings): number {
  return settings.tta === 'flip' || settings.augment === 'flip' ? 2 : 1;
}

/** The pixels of a batch as the network takes them: each image followed by its mirror when `viewsPerImage` is 2, else the list itself. */
export function withViews<T extends Uint8Array>(pixels: T[], settings: ViewSettings): (T | Buffer)[] {
  if (viewsPerImage(settings) === 1) return pixels;
  return pixels.flatMap((p) => [p, mirrorPixels(p, settings.input.width)]);
}

/**
 * The rows of a batch from the features of its views (`images × viewsPerImage` rows of `dim`):
 * with flip TTA each image's row is the mean of its two views' features; otherwise every view is a row.
 */
export function rowsOfViews(features: Float32Array, images: number, settings: ViewSettings & Pick<ExtractSettings, 'dim'>): Float32Array {
  if (settings.tta !== 'flip') return features;
  const { dim } = settings;
  const rows = new Float32Array(images * dim);
  for (let i = 0; i < images; i++) {
    const image = features.subarray(2 * i * dim, (2 * i + 1) * dim);
    const mirror = features.subarray((2 * i + 1) * dim, (2 * i + 2) * dim);
    for (let j = 0; j < dim; j++) rows[i * dim + j] = (image[j]! + mirror[j]!) / 2;
  }
  return rows;
}
