/**
 * L2-regularised linear SVM by dual coordinate descent with shrinking (Hsieh, Chang, Lin,
 * Keerthi, Sundararajan, "A Dual Coordinate Descent Method for Large-scale Linear SVM", ICML
 * 2008; the solver of liblinear's `-s 1` (squared hinge) and `-s 3` (hinge)), written here on
 * dense float32 rows seen through an implicit scaling (see linalg/scaled-view.ts).
 *
 * One binary problem, labels ±1:
 *   min_w  ½‖w‖² + C Σ_i ξ(w; x_i, y_i),  ξ = max(0, 1 − y wᵀx)  (hinge)  or its square,
 * with the intercept as liblinear's bias feature (a constant B = 1 appended to every row, so it
 * is regularised like the other weights). Its dual, min_α ½ αᵀ(Q + D)α − eᵀα, 0 ≤ α_i ≤ U
 * (Q_ij = y_i y_j x_iᵀx_j; hinge: U = C, D = 0; squared hinge: U = ∞, D_ii = 1/(2C)), is solved
 * one coordinate at a time in a random order, keeping w = Σ α_i y_i x_i up to date.
 *
 * Stopping as liblinear: when the spread of the projected gradient over the active set,
 * max PG − min PG, falls to `tol`, first on the shrunken set and then once more on all rows;
 * or after `maxIter` passes (reported as not converged; the caller warns).
 */
import { seededRandom, shuffleInPlace } from '../../util/random.js';
import type { ScaledView } from '../linalg/scaled-view.js';

/** Loss of the linear SVM. */
export const SVM_LOSSES = ['squared_hinge', 'hinge'] as const;
export type SvmLoss = (typeof SVM_LOSSES)[number];
/** The default loss, liblinear's `-s 1`. */
export const DEFAULT_LOSS: SvmLoss = 'squared_hinge';

/** Solver settings of one binary problem. */
export interface DualCdSettings {
  C: number;
  loss: SvmLoss;
  /** Stopping tolerance on max PG − min PG (liblinear's eps). */
  tol: number;
  /** Cap on passes over the data. */
  maxIter: number;
  /** Seed of the coordinate order. */
  seed: number;
}

/** Outcome of one solve. */
export interface DualCdResult {
  iterations: number;
  converged: boolean;
}

/** Value of liblinear's bias feature appended to every row. */
export const BIAS = 1;

/**
 * A binary problem with its dual state, kept between solves so that a path over increasing C
 * starts each solve from the previous solution (a feasible point: α ≤ old C ≤ new C).
 */
export class DualCdProblem {
  /** Dual variables, one per training row (position in `rows`). */
  readonly alpha: Float64Array;
  /** Weights in the row space (see class comment): v = s ⊙ w (+ lazy term for standard scaling). */
  private readonly v: Float64Array;
  /** Bias weight (times BIAS). */
  private wb = 0;
  /** standard scaling: lazy shift A (v_true = v − A·u, u = s² ⊙ m) and c = v_true · m. */
  private lazyA = 0;
  private offset = 0;
  /** ‖x'_i‖² + B² per training row. */
  private readonly sqNorm: Float64Array;
  /** standard scaling: u · x_i per training row, q = u · m, and s² per feature. */
  private readonly proj?: Float64Array;
  private readonly q: number = 0;
  private readonly s2?: Float64Array;
  private readonly rowScale?: Float64Array;

  /**
   * @param view the matrix and its scaling
   * @param rows training rows (indices into the view)
   * @param y +1 / −1 per training row
   */
  constructor(
    private readonly view: ScaledView,
    private readonly rows: Int32Array,
    private readonly y: Int8Array,
    /** Per-row multiplier of C (class weights: C_i = C · ω_i), or none. */
    private readonly rowWeight?: Float64Array,
  ) {
    const { X, d } = view;
    const m = rows.length;
    this.alpha = new Float64Array(m);
    this.v = new Float64Array(d);
    this.sqNorm = new Float64Array(m);
    if (view.kind === 'standard') {
      const mean = view.mean!;
      const s2 = (this.s2 = view.invStd!.map((s) => s * s));
      const u = s2.map((s, j) => s * mean[j]!);
      let q = 0;
      for (let j = 0; j < d; j++) q += u[j]! * mean[j]!;
      this.q = q;
      this.proj = new Float64Array(m);
      for (let t = 0; t < m; t++) {
        const off = rows[t]! * d;
        let p = 0;
        let ss = 0;
        for (let j = 0; j < d; j++) {
          const x = X[off + j]!;
          p += u[j]! * x;
          const diff = x - mean[j]!;
          ss += s2[j]! * diff * diff;
        }
        this.proj[t] = p;
        this.sqNorm[t] = ss + BIAS * BIAS;
      }
    } else {
      if (view.kind === 'l2') this.rowScale = view.rowScale!;
      for (let t = 0; t < m; t++) {
        const off = rows[t]! * d;
        let ss = 0;
        for (let j = 0; j < d; j++) ss += X[off + j]! * X[off + j]!;
        const r = this.rowScale ? this.rowScale[rows[t]!]! : 1;
        this.sqNorm[t] = ss * r * r + BIAS * BIAS;
      }
    }
  }

  /** wᵀx'_t + w_b·B for training row position t. */
  private margin(t: number): number {
    const { X, d } = this.view;
    const i = this.rows[t]!;
    const dot = dotRow(this.v, X, i * d, d);
    if (this.proj) return dot - this.lazyA * this.proj[t]! - this.offset + this.wb * BIAS;
    return (this.rowScale ? this.rowScale[i]! * dot : dot) + this.wb * BIAS;
  }

  /** w += delta · x'_t (and the bias weight). */
  private step(t: number, delta: number): void {
    const { X, d } = this.view;
    const i = this.rows[t]!;
    if (this.proj) {
      axpyWeighted(delta, this.s2!, X, i * d, this.v, d);
      this.lazyA += delta;
      this.offset += delta * (this.proj[t]! - this.q);
    } else axpyRow(this.rowScale ? delta * this.rowScale[i]! : delta, X, i * d, this.v, d);
    this.wb += delta * BIAS;
  }

  /**
   * Solves the dual for `settings.C` from the current α.
   * @param onPass called after each pass over the active rows (iteration count)
   */
  solve(settings: DualCdSettings, onPass?: (iteration: number) => void): DualCdResult {
    const m = this.rows.length;
    const { alpha, y, sqNorm } = this;
    const hinge = settings.loss === 'hinge';
    const rowWeight = this.rowWeight;
    let U = hinge ? settings.C : Infinity;
    let diag = hinge ? 0 : 1 / (2 * settings.C);
    const random = seededRandom(settings.seed);
    const index = allIndices(m);
    let active = m;
    let pgMaxOld = Infinity;
    let pgMinOld = -Infinity;
    let iteration = 0;
    while (iteration < settings.maxIter) {
      let pgMax = -Infinity;
      let pgMin = Infinity;
      shuffleInPlace(index, random, active);
      for (let s = 0; s < active; s++) {
        const t = index[s]!;
        const yt = y[t]!;
        const a = alpha[t]!;
        if (rowWeight) {
          const Ct = settings.C * rowWeight[t]!;
          if (hinge) U = Ct;
          else diag = 1 / (2 * Ct);
        }
        const G = yt * this.margin(t) - 1 + diag * a;
        let pg = 0;
        if (a === 0) {
          if (G > pgMaxOld) {
            active--;
            index[s] = index[active]!;
            index[active] = t;
            s--;
            continue;
          }
          if (G < 0) pg = G;
        } else if (a === U) {
          if (G < pgMinOld) {
            active--;
            index[s] = index[active]!;
            index[active] = t;
            s--;
            continue;
          }
          if (G > 0) pg = G;
        } else pg = G;
        if (pg > pgMax) pgMax = pg;
        if (pg < pgMin) pgMin = pg;
        if (Math.abs(pg) > 1e-12) {
          const next = Math.min(Math.max(a - G / (sqNorm[t]! + diag), 0), U);
          alpha[t] = next;
          this.step(t, (next - a) * yt);
        }
      }
      iteration++;
      onPass?.(iteration);
      if (active === 0) pgMax = pgMin = 0;
      if (pgMax - pgMin <= settings.tol) {
        if (active === m) return { iterations: iteration, converged: true };
        active = m;
        pgMaxOld = Infinity;
        pgMinOld = -Infinity;
        continue;
      }
      pgMaxOld = pgMax <= 0 ? Infinity : pgMax;
      pgMinOld = pgMin >= 0 ? -Infinity : pgMin;
    }
    return { iterations: iteration, converged: false };
  }

  /** The weights in the scaled feature space (d values) and the intercept w_b·B. */
  weights(): { w: Float64Array; intercept: number } {
    const { d } = this.view;
    const w = new Float64Array(d);
    if (this.view.kind === 'standard') {
      const mean = this.view.mean!;
      const invStd = this.view.invStd!;
      for (let j = 0; j < d; j++) w[j] = (this.v[j]! - this.lazyA * this.s2![j]! * mean[j]!) / invStd[j]!;
    } else w.set(this.v);
    return { w, intercept: this.wb * BIAS };
  }
}

/** 0..m-1. */
function allIndices(m: number): Int32Array {
  const index = new Int32Array(m);
  for (let i = 0; i < m; i++) index[i] = i;
  return index;
}

/** Σ_j v_j X[off + j]. */
function dotRow(v: Float64Array, X: Float32Array, off: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += v[j]! * X[off + j]!;
  return s;
}

/** v += a · X[off..off+d). */
function axpyRow(a: number, X: Float32Array, off: number, v: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) v[j] += a * X[off + j]!;
}

/** v += a · s ⊙ X[off..off+d). */
function axpyWeighted(a: number, s: Float64Array, X: Float32Array, off: number, v: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) v[j] += a * s[j]! * X[off + j]!;
}
