import type { DecodeOptions } from '../../image/decode.js';
import { inProcessDecoder, type DecodedFiles } from '../../image/decoder.js';
import { preprocessInto } from '../../image/preprocess.js';
import type { ExtractSettings } from '../../features/schema.js';
import type { EngineInput } from '../../engines/engine.js';

/** Decode geometry for features made with `settings`. */
export function decodeOptionsOf(settings: ExtractSettings): DecodeOptions {
  return { ...settings.input, resize: settings.resize, kernel: settings.resizeKernel, cropFraction: settings.cropFraction, icc: settings.icc };
}

/** Decodes files in this process (see `inProcessDecoder`). */
export function decodeFiles(files: string[], decode: DecodeOptions): Promise<DecodedFiles> {
  return inProcessDecoder.decodeFiles(files, decode);
}

/**
 * Packs decoded images into one NHWC batch as the engine takes it (`inputType`): preprocessed
 * float32 values, or the uint8 pixels as they are (an engine that normalises them itself). Into
 * `reuse` when it is of that type and large enough (a batch buffer handed back by the engine),
 * else into a new array. Only the first `pixels.length` images of the result are written.
 */
export function toInput(pixels: Buffer[], settings: ExtractSettings, reuse?: EngineInput, inputType: 'float32' | 'uint8' = 'float32'): EngineInput {
  const length = pixels.length * settings.input.height * settings.input.width * 3;
  const perImage = length / Math.max(pixels.length, 1);
  if (inputType === 'uint8') {
    const bytes = reuse instanceof Uint8Array && reuse.length >= length ? reuse : new Uint8Array(length);
    pixels.forEach((p, i) => bytes.set(p, i * perImage));
    return bytes;
  }
  const input = reuse instanceof Float32Array && reuse.length >= length ? reuse : new Float32Array(length);
  pixels.forEach((p, i) => preprocessInto(p, settings.preprocess, input, i * perImage));
  return input;
}
