import { DecodeError, decodeImage, type DecodeOptions } from '../image/decode.js';
import { preprocessInto } from '../image/preprocess.js';
import type { ExtractSettings } from '../features/schema.js';

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
