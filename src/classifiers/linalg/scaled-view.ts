/**
 * A feature matrix seen through a scaling, without a scaled copy: the linear classifiers read
 * the one float32 matrix and apply x'_ij = r_i · s_j · (x_ij − m_j) on the fly
 * (none: r = s = 1, m = 0; standard: m = column mean, s = 1/std over the training rows;
 * l2: r_i = 1/‖x_i‖). Folds are row indices into the same matrix.
 *
 * Matrices are dense, row-major: row `i`, feature `j` is `X[i * d + j]`.
 */
import { CnnfeatError } from '../../errors.js';
import { columnStats, type Scaling, type ScalingParams } from './scaling.js';

/** A matrix with a scaling applied implicitly. */
export interface ScaledView {
  X: Float32Array;
  n: number;
  d: number;
  kind: Scaling;
  /** standard: column means m_j. */
  mean?: Float64Array;
  /** standard: 1/std s_j (std 0 → 1). */
  invStd?: Float64Array;
  /** l2: 1/‖x_i‖ per row (0-norm rows → 1, left as they are). */
  rowScale?: Float64Array;
}

/** 1/‖x_i‖ of every row (1 for zero rows, as scikit-learn's `normalize` leaves them). */
export function inverseRowNorms(X: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += X[off + j]! * X[off + j]!;
    out[i] = ss > 0 ? 1 / Math.sqrt(ss) : 1;
  }
  return out;
}

/** All row indices 0..n-1. */
export function allRows(n: number): Int32Array {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

/**
 * Fits a scaling on the given training rows of `X` and returns the view of the whole matrix
 * under it (held-out rows are scaled with the training rows' parameters).
 * @param rowScale 1/‖x_i‖ of all rows, when already computed (shared between folds)
 */
export function fitScaledView(X: Float32Array, n: number, d: number, kind: Scaling, rows: ArrayLike<number>, rowScale?: Float64Array): ScaledView {
  if (kind === 'standard') {
    const { mean, std } = columnStats(X, n, d, rows);
    return { X, n, d, kind, mean, invStd: std.map((s) => 1 / s) };
  }
  if (kind === 'l2') return { X, n, d, kind, rowScale: rowScale ?? inverseRowNorms(X, n, d) };
  return { X, n, d, kind };
}

/** The stored form of a view's scaling (as {@link fitScaling} writes it). */
export function scalingParamsOf(view: ScaledView): ScalingParams {
  if (view.kind !== 'standard') return { kind: view.kind };
  return { kind: 'standard', mean: Array.from(view.mean!), std: Array.from(view.invStd!, (s) => 1 / s) };
}

/**
 * The view of a matrix under stored scaling parameters (prediction).
 * @throws CnnfeatError when standard parameters do not have `d` entries
 */
export function viewFromParams(X: Float32Array, n: number, d: number, params: ScalingParams): ScaledView {
  if (params.kind === 'standard') {
    if (!params.mean || !params.std || params.mean.length !== d || params.std.length !== d) {
      throw new CnnfeatError(`standard scaling parameters do not match ${d} features (corrupt model?)`);
    }
    return { X, n, d, kind: 'standard', mean: Float64Array.from(params.mean), invStd: Float64Array.from(params.std, (s) => 1 / s) };
  }
  if (params.kind === 'l2') return { X, n, d, kind: 'l2', rowScale: inverseRowNorms(X, n, d) };
  return { X, n, d, kind: 'none' };
}

/**
 * Folds the scaling into a weight matrix so that scores come from the raw rows:
 * w'·x'_i + b = r_i · (Σ_j (s_j w_j) x_ij − Σ_j s_j w_j m_j) + b.
 * @param W row-major `K` × `d` weights in the scaled space
 * @returns raw-space weights `V` (K × d) and per-class offsets `c`
 *   (Σ_j V_kj m_j), to be subtracted before the row scale is applied
 */
export function rawSpaceWeights(view: Pick<ScaledView, 'kind' | 'mean' | 'invStd' | 'd'>, W: ArrayLike<number>, K: number): { V: Float64Array; offset: Float64Array } {
  const { d } = view;
  const V = new Float64Array(K * d);
  const offset = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let c = 0;
    for (let j = 0; j < d; j++) {
      const v = view.kind === 'standard' ? W[k * d + j]! * view.invStd![j]! : W[k * d + j]!;
      V[k * d + j] = v;
      if (view.kind === 'standard') c += v * view.mean![j]!;
    }
    offset[k] = c;
  }
  return { V, offset };
}
