/**
 * A line search satisfying the strong Wolfe conditions (Nocedal & Wright, Numerical Optimization,
 * 2nd ed., Algorithms 3.5 and 3.6: c1 = 1e-4, c2 = 0.9, steps doubled from 1 in the bracketing
 * phase, cubic interpolation in the zoom phase).
 */

/** Sufficient decrease (Armijo) and curvature constants. */
const C1 = 1e-4;
const C2 = 0.9;
/** Most evaluations of each phase. */
const MAX_TRIALS = 20;

/** φ(step) = f(x + step·d) and its slope φ'(step) = ∇f(x + step·d)ᵀd. */
export type LineFunction = (step: number) => Promise<{ value: number; slope: number }>;

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
 * Searches for a step satisfying the strong Wolfe conditions
 * φ(step) ≤ φ(0) + c1·step·φ'(0) and |φ'(step)| ≤ c2·|φ'(0)|.
 * @param phi the objective along the search direction; the last call made is always at the
 *   step returned (so that whatever phi computed there, e.g. the gradient, is at hand)
 * @param f0 φ(0)
 * @param slope0 φ'(0), < 0 (a descent direction)
 * @returns the step and φ there; when none satisfies both, the best point found if it
 *   decreases φ at all, else undefined (φ is flat to rounding along the direction)
 */
export async function strongWolfeSearch(phi: LineFunction, f0: number, slope0: number): Promise<{ step: number; value: number } | undefined> {
  const decreases = (step: number, value: number) => Number.isFinite(value) && value <= f0 + C1 * step * slope0;
  const flatEnough = (slope: number) => Math.abs(slope) <= -C2 * slope0;

  /** Algorithm 3.6: narrows [lo, hi], which holds a step satisfying both conditions. */
  async function zoom(lo: number, fLo: number, gLo: number, hi: number, fHi: number, gHi: number) {
    for (let k = 0; k < MAX_TRIALS; k++) {
      const t = Number.isFinite(fHi) ? cubicStep(lo, fLo, gLo, hi, fHi, gHi) : (lo + hi) / 2;
      const { value, slope } = await phi(t);
      if (!decreases(t, value) || value >= fLo) {
        hi = t;
        fHi = value;
        gHi = slope;
      } else {
        if (flatEnough(slope)) return { step: t, value };
        if (slope * (hi - lo) >= 0) {
          hi = lo;
          fHi = fLo;
          gHi = gLo;
        }
        lo = t;
        fLo = value;
        gLo = slope;
      }
      if (Math.abs(hi - lo) < 1e-12) break;
    }
    // Best point found, if it decreases φ at all (evaluated again: the last call is at the step returned).
    if (lo > 0 && fLo < f0) {
      await phi(lo);
      return { step: lo, value: fLo };
    }
    return undefined;
  }

  // Algorithm 3.5: steps 1, 2, 4, … until one brackets an acceptable step or is one.
  let prevStep = 0;
  let prevValue = f0;
  let prevSlope = slope0;
  let step = 1;
  for (let trial = 0; trial < MAX_TRIALS; trial++) {
    const { value, slope } = await phi(step);
    if (!decreases(step, value) || (trial > 0 && value >= prevValue)) return zoom(prevStep, prevValue, prevSlope, step, value, slope);
    if (flatEnough(slope)) return { step, value };
    if (slope >= 0) return zoom(step, value, slope, prevStep, prevValue, prevSlope);
    prevStep = step;
    prevValue = value;
    prevSlope = slope;
    step *= 2;
  }
  return undefined;
}
