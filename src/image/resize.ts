/** The choices of how images are fitted to a model's input (no image library needed to read them). */

/** How an image is fitted to the model input. */
export const RESIZE_MODES = ['squash', 'center-crop', 'letterbox'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

/** Interpolation kernels offered for resizing (sharp's names). */
export const RESIZE_KERNELS = ['nearest', 'linear', 'cubic', 'lanczos3'] as const;
export type ResizeKernel = (typeof RESIZE_KERNELS)[number];
