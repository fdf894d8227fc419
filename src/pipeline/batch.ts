import type { DecodeOptions } from '../image/decode.js';
import { inProcessDecoder, type DecodedFiles } from '../image/decoder.js';
import { preprocessInto } from '../image/preprocess.js';
import type { ExtractSettings } from '../features/schema.js';

/** Decode geometry for features made with `settings`. */
export function decodeOptionsOf(settings: ExtractSettings): DecodeOptions {
  return { ...settings.input, resize: settings.resize, kernel: settings.resizeKernel, icc: settings.icc };
}

/** Decodes files in this process (see `inProcessDecoder`). */
export function decodeFiles(files: string[], decode: DecodeOptions): Promise<DecodedFiles> {
  return inProcessDecoder.decodeFiles(files, decode);
}

/**
 * Preprocesses decoded images into one NHWC float32 batch, as the network takes it: into `reuse`
 * when it is large enough (a batch buffer handed back by the engine), else into a new array.
 * Only the first `pixels.length` images of the result are written.
 */
export function toInput(pixels: Buffer[], settings: ExtractSettings, reuse?: Float32Array): Float32Array {
  const perImage = settings.input.height * settings.input.width * 3;
  const input = reuse && reuse.length >= pixels.length * perImage ? reuse : new Float32Array(pixels.length * perImage);
  pixels.forEach((p, i) => preprocessInto(p, settings.preprocess, input, i * perImage));
  return input;
}
