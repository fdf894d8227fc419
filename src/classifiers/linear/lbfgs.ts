/**
 * Limited-memory BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.4/7.5)
 * with a line search satisfying the strong Wolfe conditions (Algorithms 3.5 and 3.6, c1 = 1e-4,
 * c2 = 0.9, cubic interpolation in the zoom phase), for smooth unconstrained objectives.
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

const C1 = 1e-4;
const C2 = 0.9;

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

/** Minimiser of the cubic through (a, fa, ga) and (b, fb, gb), kept inside the interval with a safeguard. */
function cubicStep(a: number, fa: number, ga: number, b: number, fb: number, gb: number): number {
  const d1 = ga + gb - 3 * ((fa - fb) / (a - b));
  const disc = d1 * d1 - ga * gb;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  if (disc >= 0) {
    const d2 = Math.sign(b - a) * Math.sqrt(disc);
    const t = b - (b - a) * ((gb + d2 - d1) / (gb - ga + 2 * d2));
    const margin = 0.1 * (hi - lo);
    if (Number.isFinite(t) && t > lo + margin && t < hi - margin) return t;
  }
  return (a + b) / 2;
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
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  let g = new Float64Array(size);
  let evaluations = 1;
  let f = await fn(x, g);
  let gmax = maxAbs(g);
  const direction = new Float64Array(size);
  const xTrial = new Float64Array(size);
  let gTrial = new Float64Array(size);
  const alphaHistory = new Float64Array(memory);
  let iteration = 0;
  const done = (reason: LbfgsResult['reason'], converged: boolean): LbfgsResult => ({ iterations: iteration, evaluations, f, gmax, converged, reason });
  if (gmax <= settings.gtol) return done('gtol', true);

  while (iteration < settings.maxIter) {
    // Two-loop recursion: direction = −H g.
    direction.set(g);
    for (let k = S.length - 1; k >= 0; k--) {
      const a = rho[k]! * dot(S[k]!, direction);
      alphaHistory[k] = a;
      const y = Y[k]!;
      for (let i = 0; i < size; i++) direction[i] -= a * y[i]!;
    }
    const last = S.length - 1;
    const gammaScale = last >= 0 ? dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!) : 1 / Math.max(Math.sqrt(dot(g, g)), 1e-12);
    for (let i = 0; i < size; i++) direction[i] *= gammaScale;
    for (let k = 0; k < S.length; k++) {
      const b = rho[k]! * dot(Y[k]!, direction);
      const s = S[k]!;
      const a = alphaHistory[k]!;
      for (let i = 0; i < size; i++) direction[i] += (a - b) * s[i]!;
    }
    for (let i = 0; i < size; i++) direction[i] = -direction[i]!;
    let slope = dot(g, direction);
    if (!(slope < 0)) {
      // Not a descent direction (rounding): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      const scale = 1 / Math.max(Math.sqrt(dot(g, g)), 1e-12);
      for (let i = 0; i < size; i++) direction[i] = -g[i]! * scale;
      slope = dot(g, direction);
    }

    // Strong Wolfe line search.
    const evaluate = async (step: number) => {
      for (let i = 0; i < size; i++) xTrial[i] = x[i]! + step * direction[i]!;
      evaluations++;
      const value = await fn(xTrial, gTrial);
      return { value, slope: dot(gTrial, direction) };
    };
    let accepted: { step: number; value: number } | undefined;
    let prevStep = 0;
    let prevValue = f;
    let prevSlope = slope;
    let step = 1;
    for (let trial = 0; trial < 20 && !accepted; trial++) {
      const { value, slope: s } = await evaluate(step);
      if (!Number.isFinite(value) || value > f + C1 * step * slope || (trial > 0 && value >= prevValue)) {
        accepted = await zoom(prevStep, prevValue, prevSlope, step, value, s);
        break;
      }
      if (Math.abs(s) <= -C2 * slope) {
        accepted = { step, value };
        break;
      }
      if (s >= 0) {
        accepted = await zoom(step, value, s, prevStep, prevValue, prevSlope);
        break;
      }
      prevStep = step;
      prevValue = value;
      prevSlope = s;
      step *= 2;
    }
    async function zoom(lo: number, fLo: number, gLo: number, hi: number, fHi: number, gHi: number) {
      for (let k = 0; k < 20; k++) {
        const t = Number.isFinite(fHi) ? cubicStep(lo, fLo, gLo, hi, fHi, gHi) : (lo + hi) / 2;
        const { value, slope: s } = await evaluate(t);
        if (!Number.isFinite(value) || value > f + C1 * t * slope || value >= fLo) {
          hi = t;
          fHi = value;
          gHi = s;
        } else {
          if (Math.abs(s) <= -C2 * slope) return { step: t, value };
          if (s * (hi - lo) >= 0) {
            hi = lo;
            fHi = fLo;
            gHi = gLo;
          }
          lo = t;
          fLo = value;
          gLo = s;
        }
        if (Math.abs(hi - lo) < 1e-12) break;
      }
      // Best point found, if it decreases f at all (gTrial must then be recomputed there).
      if (lo > 0 && fLo < f) {
        await evaluate(lo);
        return { step: lo, value: fLo };
      }
      return undefined;
    }
    if (!accepted) {
      if (settings.refine?.()) {
        evaluations++;
        f = await fn(x, g);
        gmax = maxAbs(g);
        S.length = Y.length = rho.length = 0;
        if (gmax <= settings.gtol) return done('gtol', true);
        continue;
      }
      return done('lineSearch', gmax <= settings.gtol * 10);
    }

    // x_{k+1}, and the correction pair.
    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      s[i] = accepted.step * direction[i]!;
      x[i] = xTrial[i]!;
      y[i] = gTrial[i]! - g[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-10 * dot(y, y)) {
      if (S.length === memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
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
