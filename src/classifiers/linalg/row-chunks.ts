/**
 * Products of the feature matrix with small weight matrices, chunk by chunk of rows. onnxruntime
 * cannot read a SharedArrayBuffer (where training keeps the matrix for its worker threads), so
 * chunks of such a matrix are copied into one reused scratch buffer first; ordinary arrays are
 * passed as views, without a copy.
 */
import { float32Product } from './gemm.js';

/** Floats per chunk: 32 MB, large enough for fast products, small next to the matrix. */
const CHUNK_FLOATS = 8 * 1024 * 1024;

/**
 * Calls `fn` for consecutive chunks of rows of `X` (row-major `n` × `d`), in order.
 * The chunk array may be reused between calls.
 */
export async function forEachRowChunk(X: Float32Array, n: number, d: number, fn: (chunk: Float32Array, start: number, rows: number) => Promise<void>): Promise<void> {
  const perChunk = Math.max(1, Math.floor(CHUNK_FLOATS / d));
  const copy = X.buffer instanceof SharedArrayBuffer;
  const scratch = copy ? new Float32Array(Math.min(n, perChunk) * d) : undefined;
  for (let start = 0; start < n; start += perChunk) {
    const rows = Math.min(perChunk, n - start);
    const view = X.subarray(start * d, (start + rows) * d);
    let chunk = view;
    if (scratch) {
      chunk = rows * d === scratch.length ? scratch : scratch.subarray(0, rows * d);
      chunk.set(view);
    }
    await fn(chunk, start, rows);
  }
}

/** X Vᵀ for V `K` × `d`: `n` × `K` float32. */
export async function timesTransposed(X: Float32Array, n: number, d: number, V: Float32Array, K: number): Promise<Float32Array> {
  const Z = new Float32Array(n * K);
  await forEachRowChunk(X, n, d, async (chunk, start, rows) => {
    Z.set(await float32Product(chunk, [rows, d], V, [K, d]), start * K);
  });
  return Z;
}

/** X[rows] Vᵀ for V `K` × `d`: `rows.length` × `K` float32 (the rows gathered chunk by chunk). */
export async function rowsTimesTransposed(X: Float32Array, rows: ArrayLike<number>, d: number, V: Float32Array, K: number): Promise<Float32Array> {
  const count = rows.length;
  const perChunk = Math.max(1, Math.floor(CHUNK_FLOATS / d));
  const scratch = new Float32Array(Math.min(count, perChunk) * d);
  const Z = new Float32Array(count * K);
  for (let start = 0; start < count; start += perChunk) {
    const m = Math.min(perChunk, count - start);
    for (let t = 0; t < m; t++) {
      const i = rows[start + t]!;
      scratch.set(X.subarray(i * d, (i + 1) * d), t * d);
    }
    Z.set(await float32Product(scratch.subarray(0, m * d), [m, d], V, [K, d]), start * K);
  }
  return Z;
}

/**
 * Calls `fn` for consecutive chunks of rows of `X`, converted to float64 in one reused buffer
 * (half as many rows per chunk as {@link forEachRowChunk}).
 */
export async function forEachRowChunk64(X: Float32Array, n: number, d: number, fn: (chunk: Float64Array, start: number, rows: number) => Promise<void>): Promise<void> {
  const perChunk = Math.max(1, Math.floor(CHUNK_FLOATS / 2 / d));
  const scratch = new Float64Array(Math.min(n, perChunk) * d);
  for (let start = 0; start < n; start += perChunk) {
    const rows = Math.min(perChunk, n - start);
    const chunk = rows * d === scratch.length ? scratch : scratch.subarray(0, rows * d);
    chunk.set(X.subarray(start * d, (start + rows) * d));
    await fn(chunk, start, rows);
  }
}
