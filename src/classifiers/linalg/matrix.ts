/** Row-major matrix helpers: norms, row and sub-matrix copies, shared memory. */

/**
 * Squared Euclidean norm of every row.
 * @param X row-major `n` × `d`
 */
export function rowSquaredNorms(X: ArrayLike<number>, n: number, d: number): Float64Array {
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    const base = i * d;
    for (let j = 0; j < d; j++) acc += X[base + j] * X[base + j];
    norms[i] = acc;
  }
  return norms;
}

/**
 * Copies the sub-matrix K[rows][cols] of a row-major matrix with `stride` columns.
 * @returns row-major `rows.length` × `cols.length`
 */
export function subMatrix(K: Float64Array, stride: number, rows: number[], cols: number[]): Float64Array {
  const out = new Float64Array(rows.length * cols.length);
  rows.forEach((r, i) => {
    const src = r * stride;
    const dst = i * cols.length;
    for (let j = 0; j < cols.length; j++) out[dst + j] = K[src + cols[j]];
  });
  return out;
}

/**
 * Copies the given rows of a row-major matrix, in that order.
 * @returns row-major `rows.length` × `d`
 */
export function gatherRows(X: Float64Array, d: number, rows: number[]): Float64Array {
  const out = new Float64Array(rows.length * d);
  rows.forEach((r, i) => out.set(X.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/** The matrix in shared memory (copied once if it is not), so worker threads read it without a copy. */
export function sharedMatrix(X: Float32Array): Float32Array {
  if (X.buffer instanceof SharedArrayBuffer) return X;
  const shared = new Float32Array(new SharedArrayBuffer(X.byteLength));
  shared.set(X);
  return shared;
}
