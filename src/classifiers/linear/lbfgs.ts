/**
 * Limited-memory BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.4/7.5)
 * with a line search satisfying the strong Wolfe conditions (line-search.ts), for smooth
 * unconstrained objectives.
 *
 * Stopping, as scipy's L-BFGS-B which scikit-learn's `lbfgs` solver calls: the largest absolute
 * gradient component ≤ `gtol`, or the relative decrease of the objective
 * (f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) ≤ `ftol` (scipy's factr·eps = 2.2e-9), or `maxIter`
 * iterations (not converged: the caller warns), or a line search that can make no progress
 * (the objective is flat to rounding: the caller may then make it more precise and go on;
 * otherwise reported as converged when the gradient is small).
 */

/** Objective and gradient at x; writes the gradient into `g` and returns f. */
export type Objective = (x: Float64Array, g: Float64Array) => number | Promise<number>;

/** L-BFGS settings. */
export interface LbfgsSettings {
  gtol: number;
  ftol?: number;
  maxIter: number;
  /** Correction pairs kept (scipy's maxcor, default 10). */
  memory?: number;
  /** Called after every iteration with the iteration count, f and max |g|. */
  onIteration?: (iteration: number, f: number, gmax: number) => void;
  /**
   * Called when the line search can make no progress: return true when the objective was made
   * more precise (e.g. float64 products instead of float32), and the search restarts from x.
   */
  refine?: () => boolean;
}

/** Outcome of a minimisation (x is updated in place). */
export interface LbfgsResult {
  iterations: number;
  evaluations: number;
  f: number;
  gmax: number;
  converged: boolean;
  /** Why it stopped. */
  reason: 'gtol' | 'ftol' | 'maxIter' | 'lineSearch';
}

import { strongWolfeSearch } from './line-search.js';

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** The correction pairs (s, y) kept, oldest first, with ρ = 1 / sᵀy. */
interface Corrections {
  S: Float64Array[];
  Y: Float64Array[];
  rho: number[];
}

/**
 * The two-loop recursion (Algorithm 7.4): direction = −H g, H the inverse Hessian approximation
 * of the correction pairs scaled by sᵀy / yᵀy of the newest (without pairs: steepest descent of
 * unit length).
 * @param alphas scratch of at least as many values as pairs
 */
function searchDirection(g: Float64Array, pairs: Corrections, direction: Float64Array, alphas: Float64Array): void {
  const { S, Y, rho } = pairs;
  const size = g.length;
  direction.set(g);
  for (let k = S.length - 1; k >= 0; k--) {
    const a = rho[k]! * dot(S[k]!, direction);
    alphas[k] = a;
    const y = Y[k]!;
    for (let i = 0; i < size; i++) direction[i] -= a * y[i]!;
  }
  const last = S.length - 1;
  const gammaScale = last >= 0 ? dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!) : 1 / Math.max(Math.sqrt(dot(g, g)), 1e-12);
  for (let i = 0; i < size; i++) direction[i] *= gammaScale;
  for (let k = 0; k < S.length; k++) {
    const b = rho[k]! * dot(Y[k]!, direction);
    const s = S[k]!;
    const a = alphas[k]!;
    for (let i = 0; i < size; i++) direction[i] += (a - b) * s[i]!;
  }
  for (let i = 0; i < size; i++) direction[i] = -direction[i]!;
}

/** Forgets every correction pair (a restart from steepest descent). */
function clear(pairs: Corrections): void {
  pairs.S.length = pairs.Y.length = pairs.rho.length = 0;
}

/** Keeps the pair of a step, unless sᵀy is too small for a positive definite update; at most `memory` pairs. */
function remember(pairs: Corrections, s: Float64Array, y: Float64Array, memory: number): void {
  const sy = dot(s, y);
  if (!(sy > 1e-10 * dot(y, y))) return;
  if (pairs.S.length === memory) {
    pairs.S.shift();
    pairs.Y.shift();
    pairs.rho.shift();
  }
  pairs.S.push(s);
  pairs.Y.push(y);
  pairs.rho.push(1 / sy);
}

/**
 * Minimises `fn` from `x` (modified in place); see the module comment for when it stops.
 * @param fn objective and gradient
 * @param x starting point, overwritten with the minimiser
 */
export async function lbfgs(fn: Objective, x: Float64Array, settings: LbfgsSettings): Promise<LbfgsResult> {
  const size = x.length;
  const memory = settings.memory ?? 10;
  const ftol = settings.ftol ?? 2.220446049250313e-9;
  const pairs: Corrections = { S: [], Y: [], rho: [] };
  let g = new Float64Array(size);
  let evaluations = 1;
  let f = await fn(x, g);
  let gmax = maxAbs(g);
  const direction = new Float64Array(size);
  const xTrial = new Float64Array(size);
  let gTrial = new Float64Array(size);
  const alphas = new Float64Array(memory);
  let iteration = 0;
  const done = (reason: LbfgsResult['reason'], converged: boolean): LbfgsResult => ({ iterations: iteration, evaluations, f, gmax, converged, reason });
  if (gmax <= settings.gtol) return done('gtol', true);

  while (iteration < settings.maxIter) {
    searchDirection(g, pairs, direction, alphas);
    let slope = dot(g, direction);
    if (!(slope < 0)) {
      // Not a descent direction (rounding): restart from steepest descent.
      clear(pairs);
      const scale = 1 / Math.max(Math.sqrt(dot(g, g)), 1e-12);
      for (let i = 0; i < size; i++) direction[i] = -g[i]! * scale;
      slope = dot(g, direction);
    }
    // φ(step) = f(x + step·direction), evaluated into xTrial and gTrial.
    const phi = async (step: number) => {
      for (let i = 0; i < size; i++) xTrial[i] = x[i]! + step * direction[i]!;
      evaluations++;
      const value = await fn(xTrial, gTrial);
      return { value, slope: dot(gTrial, direction) };
    };
    const accepted = await strongWolfeSearch(phi, f, slope);
    if (!accepted) {
      if (settings.refine?.()) {
        evaluations++;
        f = await fn(x, g);
        gmax = maxAbs(g);
        clear(pairs);
        if (gmax <= settings.gtol) return done('gtol', true);
        continue;
      }
      return done('lineSearch', gmax <= settings.gtol * 10);
    }

    // x_{k+1} (the line search's last evaluation), and the correction pair.
    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      s[i] = accepted.step * direction[i]!;
      x[i] = xTrial[i]!;
      y[i] = gTrial[i]! - g[i]!;
    }
    remember(pairs, s, y, memory);
    [g, gTrial] = [gTrial, g];
    const fPrev = f;
    f = accepted.value;
    gmax = maxAbs(g);
    iteration++;
    settings.onIteration?.(iteration, f, gmax);
    if (gmax <= settings.gtol) return done('gtol', true);
    if ((fPrev - f) / Math.max(Math.abs(fPrev), Math.abs(f), 1) <= ftol) {
      if (!settings.refine?.()) return done('ftol', true);
      evaluations++;
      f = await fn(x, g);
      gmax = maxAbs(g);
      if (gmax <= settings.gtol) return done('gtol', true);
    }
  }
  return done('maxIter', false);
}
