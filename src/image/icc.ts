/** The choices of what becomes of embedded ICC colour profiles (no image library needed to read them). */

/**
 * `ignore` reads the pixel values as they are stored (PIL, Keras and torchvision do, so ImageNet
 * networks were trained on such pixels); `apply` converts them to sRGB through the profile.
 */
export const ICC_MODES = ['ignore', 'apply'] as const;
export type IccMode = (typeof ICC_MODES)[number];
