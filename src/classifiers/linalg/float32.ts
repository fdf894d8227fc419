/** The float32 codec of classifier files: arrays as base64 of their little-endian bytes. */
import { CnnfeatError } from '../../errors.js';

/** Base64 of a float32 array's little-endian bytes (how support vectors are stored in JSON). */
export function encodeFloat32(values: Float32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

/**
 * Decodes {@link encodeFloat32} output.
 * @throws CnnfeatError when the length is not `expected` values
 */
export function decodeFloat32(base64: string, expected: number, what = 'SVM model: support vectors'): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== expected * 4) {
    throw new CnnfeatError(`${what} hold ${bytes.length / 4} values, expected ${expected} (corrupt model?)`);
  }
  const out = new Float32Array(expected);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
