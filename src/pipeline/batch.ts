import { DecodeError, decodeImage, type DecodeOptions } from '../image/decode.js';
import { preprocessInto } from '../image/preprocess.js';
import type { ExtractSettings } from '../features/schema.js';
import type { EngineInput } from '../engines/engine.js';

/** Result of decoding a list of files: pixels of those that decoded, reasons for the others. */
export interface DecodedFiles {
  /** Indices (into the input list) of the files that decoded, in order. */
  ok: number[];
  pixels: Buffer[];
  failed: { index: number; reason: string }[];
}

/** Decode geometry for features made with `settings`. */
export function decodeOptionsOf(settings: ExtractSettings): DecodeOptions {
  return { ...settings.input, resize: settings.resize, kernel: settings.resizeKernel, cropFraction: settings.cropFraction };
}

/**
 * Decodes files concurrently (sharp works in its own thread pool, off the main thread).
 * Undecodable content is reported per file; a file that cannot be read at all (missing,
 * permission, I/O error) rejects the whole call.
 */
export async function decodeFiles(files: string[], decode: DecodeOptions): Promise<DecodedFiles> {
  const results = await Promise.allSettled(files.map((f) => decodeImage(f, decode)));
  const out: DecodedFiles = { ok: [], pixels: [], failed: [] };
  results.forEach((r, index) => {
    if (r.status === 'fulfilled') {
      out.ok.push(index);
      out.pixels.push(r.value);
    } else if (r.reason instanceof DecodeError) {
      out.failed.push({ index, reason: r.reason.reason });
    } else {
      throw r.reason;
    }
  });
  return out;
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
