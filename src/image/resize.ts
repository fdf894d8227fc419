/** The choices of how images are fitted to a model's input (no image library needed to read them). */

/** How an image is fitted to the model input. */
export const RESIZE_MODES = ['squash', 'center-crop', 'letterbox'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

/** Interpolation kernels offered for resizing (sharp's names). */
export const RESIZE_KERNELS = ['nearest', 'linear', 'cubic', 'lanczos3'] as const;
export type ResizeKernel = (typeof RESIZE_KERNELS)[number];

/** Where `center-crop` cuts: the box the image is scaled to cover, and the input-sized window taken from its centre. */
export interface CropBox {
  /** The scaled image covers `width × height` (its short side fills it; the long side is cut to it, centred). */
  width: number;
  height: number;
  /** Offset of the input-sized window inside that box. */
  left: number;
  top: number;
}

/**
 * The geometry of `center-crop` at a crop fraction f (timm's `crop_pct`): the image is scaled to
 * cover ⌊width / f⌋ × ⌊height / f⌋ and the centre `width × height` is kept. f = 0.875 at 224 is
 * torchvision's `Resize(256)` + `CenterCrop(224)` (box 256, offset 16); f = 1 keeps the whole short side.
 */
export function cropBox(width: number, height: number, fraction: number): CropBox {
  // 1e-9: 224 / 0.875 is 256 exactly, but other quotients of short decimals land just below an integer.
  const box = (size: number) => Math.max(size, Math.floor(size / fraction + 1e-9));
  const boxWidth = box(width);
  const boxHeight = box(height);
  return { width: boxWidth, height: boxHeight, left: halfRoundedEven(boxWidth - width), top: halfRoundedEven(boxHeight - height) };
}

/** margin / 2 rounded half to even, as torchvision's `CenterCrop` (Python's `round`) places the window. */
function halfRoundedEven(margin: number): number {
  const low = Math.floor(margin / 2);
  return margin % 2 === 0 || low % 2 === 0 ? low : low + 1;
}
