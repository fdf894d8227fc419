/**
 * Feature scaling applied before the SVM, fitted on the training matrix and
 * stored in the model so that prediction applies exactly the same transform.
 *
 * All matrices are dense, row-major: row `i`, feature `j` is `X[i * d + j]`.
 */
import { CnnfeatError } from '../../errors.js';

/** Feature scalings offered: none, per-feature standardisation, per-row L2 normalisation. */
export const SCALINGS = ['none', 'standard', 'l2'] as const;
export type Scaling = (typeof SCALINGS)[number];

/**
 * Fitted scaling parameters (JSON-serialisable).
 * - `none`: identity.
 * - `standard`: `(x - mean) / std` per feature (population std, as scikit-learn's
 *   StandardScaler; a feature with std 0 uses std 1).
 * - `l2`: every row divided by its Euclidean norm (rows of norm 0 are left as is,
 *   as scikit-learn's `normalize`). Stateless, so no parameters.
 */
export interface ScalingParams {
  kind: Scaling;
  mean?: number[];
  std?: number[];
}

/**
 * Column means and population standard deviations (ddof = 0) of a row-major matrix, over some
 * of its rows (all `n` when `rows` is absent), accumulated in float64 without copying the rows.
 * Columns with zero (or non-finite) spread get std 1, so scaling leaves them centred but unscaled.
 * @param X row-major matrix of `n` rows and `d` columns
 * @param rows row indices to use (default 0..n-1)
 * @returns the `d` column means, and the `d` standard deviations, never 0
 */
export function columnStats(X: ArrayLike<number>, n: number, d: number, rows?: ArrayLike<number>): { mean: Float64Array; std: Float64Array } {
  const count = rows ? rows.length : n;
  const rowAt = rows ? (r: number) => rows[r]! : (r: number) => r;
  const mean = new Float64Array(d);
  const ss = new Float64Array(d);
  for (let r = 0; r < count; r++) {
    const off = rowAt(r) * d;
    for (let j = 0; j < d; j++) mean[j] += X[off + j]!;
  }
  for (let j = 0; j < d; j++) mean[j] = count > 0 ? mean[j]! / count : 0;
  for (let r = 0; r < count; r++) {
    const off = rowAt(r) * d;
    for (let j = 0; j < d; j++) {
      const diff = X[off + j]! - mean[j]!;
      ss[j] += diff * diff;
    }
  }
  for (let j = 0; j < d; j++) {
    const std = count > 0 ? Math.sqrt(ss[j]! / count) : 0;
    ss[j] = std > 0 && Number.isFinite(std) ? std : 1;
  }
  return { mean, std: ss };
}

/**
 * Fits scaling parameters on a training matrix.
 * @param X row-major training matrix
 * @param n number of rows
 * @param d number of features
 * @param kind which scaling to fit
 * @returns JSON-serialisable parameters for {@link applyScaling}
 */
export function fitScaling(X: ArrayLike<number>, n: number, d: number, kind: Scaling): ScalingParams {
  if (kind !== 'standard') return { kind };
  const { mean, std } = columnStats(X, n, d);
  return { kind, mean: Array.from(mean), std: Array.from(std) };
}

/**
 * Applies fitted scaling parameters to a matrix, returning a new float64 matrix
 * (the input is never modified).
 * @param params parameters from {@link fitScaling}
 * @param X row-major matrix of `n` rows and `d` columns
 * @param n number of rows
 * @param d number of features; must match the fitted parameters for `standard`
 * @returns the scaled matrix, same layout as `X`
 * @throws CnnfeatError (exit 2) if `standard` parameters do not have `d` entries
 */
export function applyScaling(params: ScalingParams, X: ArrayLike<number>, n: number, d: number): Float64Array {
  const out = Float64Array.from(X);
  if (params.kind === 'standard') standardizeInPlace(out, n, d, params);
  else if (params.kind === 'l2') l2NormalizeRowsInPlace(out, n, d);
  return out;
}

/**
 * In-place `(x - mean) / std` per feature.
 * @param X row-major float64 matrix, modified in place
 * @param n number of rows
 * @param d number of features
 * @param params `standard` parameters holding `d` means and stds
 */
function standardizeInPlace(X: Float64Array, n: number, d: number, params: ScalingParams): void {
  const mean = params.mean;
  const std = params.std;
  if (!mean || !std || mean.length !== d || std.length !== d) {
    throw new CnnfeatError(`standard scaling parameters do not match ${d} features (corrupt model?)`);
  }
  const inv = std.map((s) => 1 / s);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let j = 0; j < d; j++) X[off + j] = (X[off + j] - mean[j]) * inv[j];
  }
}

/**
 * In-place division of every row by its Euclidean norm; zero rows stay zero.
 * @param X row-major float64 matrix, modified in place
 * @param n number of rows
 * @param d number of features
 */
function l2NormalizeRowsInPlace(X: Float64Array, n: number, d: number): void {
  for (let i = 0; i < n; i++) {
    const off = i * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += X[off + j] * X[off + j];
    if (ss === 0) continue;
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < d; j++) X[off + j] *= inv;
  }
}

/**
 * Variance of all entries of a matrix (numpy's `X.var()`), as used by
 * scikit-learn's `gamma='scale'`. Two-pass for numerical stability.
 * @param X the (scaled) matrix, any layout
 * @returns the population variance of all entries, 0 for an empty matrix
 */
export function overallVariance(X: ArrayLike<number>): number {
  const len = X.length;
  if (len === 0) return 0;
  let sum = 0;
  for (let i = 0; i < len; i++) sum += X[i];
  const mean = sum / len;
  let ss = 0;
  for (let i = 0; i < len; i++) {
    const diff = X[i] - mean;
    ss += diff * diff;
  }
  return ss / len;
}
