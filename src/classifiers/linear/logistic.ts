/**
 * Multinomial L2-regularised logistic regression (softmax regression) by L-BFGS (lbfgs.ts):
 *
 *   min_{W,b}  (1/m) Σ_i ω_i · CE(softmax(W x'_i + b), y_i)  +  ‖W‖² / (2 C m)
 *
 * over the m training rows (ω_i = class weight of row i, 1 by default), the intercept b not
 * penalised. This is scikit-learn's `LogisticRegression(solver='lbfgs')` objective
 * (Σ CE + ‖W‖²/(2C)) divided by m, so C means the same and the minimiser is the same; the
 * gradient tolerance is on this mean scale, which does not grow with the number of rows.
 *
 * Each evaluation is two products through onnxruntime over the one feature matrix, chunk by
 * chunk: Z = X Vᵀ (V = weights with the scaling folded in, see linalg/scaled-view.ts) and Hᵀ X for the
 * gradient. They run in float32 until the line search finds the objective flat to float32
 * rounding (near the optimum), then in float64 (the chunks converted), so that the stopping
 * rule is met on exact values. Held-out rows get zero weight in H, so folds need no copy of their rows (a small
 * subsample is copied instead, so that its fits do not pay for the whole matrix).
 */
import { float32Product, float64Product } from '../linalg/gemm.js';
import { lbfgs, type LbfgsResult } from './lbfgs.js';
import { forEachRowChunk, forEachRowChunk64 } from '../linalg/row-chunks.js';
import { rawSpaceWeights, type ScaledView } from '../linalg/scaled-view.js';

/** Solver settings of one logistic fit. */
export interface LogisticSettings {
  C: number;
  /** Largest absolute gradient component at which the fit stops (mean-scale objective). */
  tol: number;
  maxIter: number;
  /** Relative decrease of the objective at which the fit stops (default scipy's 2.2e-9; 0: never). */
  ftol?: number;
  onIteration?: (iteration: number) => void;
}

/** Parameters: W (K × d, row-major, in the scaled space) then b (K), in one vector. */
export type LogisticParams = Float64Array;

/**
 * A multinomial problem on some rows of a scaled matrix. Fits at several C can share it, each
 * starting from the previous solution (warm start along C).
 */
export class LogisticProblem {
  /** The rows the objective runs over: the whole view (held-out rows weighted 0) or a compact copy of the training rows. */
  private readonly view: ScaledView;
  private readonly labels: ArrayLike<number>;
  /** ω_i / m per row of `view`: 0 for rows outside the training set. */
  private readonly weight: Float64Array;
  private readonly total: number;
  readonly params: LogisticParams;
  /**
   * Products in float32 (half the memory traffic) until the line search finds the objective
   * flat to float32 rounding; float64 from then on.
   */
  private precise = false;

  /**
   * @param view the matrix and its scaling
   * @param rows the training rows; when they are under half of the matrix (a subsample) they
   *   are copied into a compact matrix, otherwise the products run over the whole matrix with
   *   the other rows weighted 0 (no copy of the matrix)
   * @param labels class index of every row of the matrix
   * @param K number of classes
   * @param classWeights per-class multipliers of the loss (none: all 1)
   */
  constructor(
    view: ScaledView,
    rows: Int32Array,
    labels: ArrayLike<number>,
    private readonly K: number,
    classWeights?: number[],
  ) {
    if (rows.length * 2 <= view.n) {
      const { X, d } = view;
      const compact = new Float32Array(rows.length * d);
      rows.forEach((i, t) => compact.set(X.subarray(i * d, (i + 1) * d), t * d));
      this.view = { ...view, X: compact, n: rows.length, rowScale: view.rowScale ? Float64Array.from(rows, (i) => view.rowScale![i]!) : undefined };
      this.labels = Int32Array.from(rows, (i) => labels[i]!);
      this.weight = Float64Array.from(rows, (i) => (classWeights ? classWeights[labels[i]!]! : 1) / rows.length);
    } else {
      this.view = view;
      this.labels = labels;
      this.weight = new Float64Array(view.n);
      for (const i of rows) this.weight[i] = (classWeights ? classWeights[labels[i]!]! : 1) / rows.length;
    }
    this.total = rows.length;
    this.params = new Float64Array(K * view.d + K);
  }

  /**
   * Objective and gradient at θ (gradient written into g): per chunk of rows, the scores
   * Z = X Vᵀ, the loss and the residuals H, and Hᵀ X accumulated, in one pass over the matrix.
   */
  async evaluate(theta: LogisticParams, g: Float64Array, C: number): Promise<number> {
    const { X, n, d } = this.view;
    const K = this.K;
    const { V, offset } = rawSpaceWeights(this.view, theta, K);
    const T = new Float64Array(K * d);
    const hsum = new Float64Array(K);
    const gb = new Float64Array(K);
    const rowScale = this.view.rowScale;
    const prob = new Float64Array(K);
    let loss = 0;
    const V32 = this.precise ? undefined : Float32Array.from(V);
    const each = this.precise ? forEachRowChunk64 : forEachRowChunk;
    await each(X, n, d, async (chunk: Float32Array | Float64Array, start: number, rows: number) => {
      const Z = V32 ? await float32Product(chunk as Float32Array, [rows, d], V32, [K, d]) : await float64Product(chunk as Float64Array, [rows, d], V, [K, d]);
      const H = V32 ? new Float32Array(rows * K) : new Float64Array(rows * K);
      let any = false;
      for (let t = 0; t < rows; t++) {
        const i = start + t;
        const w = this.weight[i]!;
        if (w === 0) continue;
        any = true;
        const base = t * K;
        const r = rowScale ? rowScale[i]! : 1;
        let max = -Infinity;
        for (let k = 0; k < K; k++) {
          const z = r * (Z[base + k]! - offset[k]!) + theta[K * d + k]!;
          prob[k] = z;
          if (z > max) max = z;
        }
        let sum = 0;
        for (let k = 0; k < K; k++) sum += Math.exp(prob[k]! - max);
        const y = this.labels[i]!;
        loss += w * (max + Math.log(sum) - prob[y]!);
        for (let k = 0; k < K; k++) {
          const residual = w * (Math.exp(prob[k]! - max) / sum - (k === y ? 1 : 0));
          gb[k] += residual;
          H[base + k] = r * residual;
          hsum[k] += r * residual;
        }
      }
      if (!any) return;
      const part = V32 ? await float32Product(H as Float32Array, [rows, K], chunk as Float32Array, [rows, d], true) : await float64Product(H as Float64Array, [rows, K], chunk as Float64Array, [rows, d], true);
      for (let at = 0; at < K * d; at++) T[at] += part[at]!;
    });
    const lambda = 1 / (C * this.total);
    let penalty = 0;
    const standard = this.view.kind === 'standard';
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < d; j++) {
        const at = k * d + j;
        const wkj = theta[at]!;
        penalty += wkj * wkj;
        const xg = standard ? (T[at]! - this.view.mean![j]! * hsum[k]!) * this.view.invStd![j]! : T[at]!;
        g[at] = xg + lambda * wkj;
      }
      g[K * d + k] = gb[k]!;
    }
    return loss + 0.5 * lambda * penalty;
  }

  /** Fits at C from the current parameters (warm start), updating them. */
  async fit(settings: LogisticSettings): Promise<LbfgsResult> {
    this.precise = false;
    return lbfgs((x, g) => this.evaluate(x, g, settings.C), this.params, {
      gtol: settings.tol,
      ftol: settings.ftol,
      maxIter: settings.maxIter,
      refine: () => !this.precise && (this.precise = true),
      onIteration: settings.onIteration ? (it) => settings.onIteration!(it) : undefined,
    });
  }

  /** W (K × d) and b (K) of the current parameters. */
  weights(): { W: Float64Array; intercept: Float64Array } {
    const Kd = this.K * this.view.d;
    return { W: this.params.slice(0, Kd), intercept: this.params.slice(Kd) };
  }
}
