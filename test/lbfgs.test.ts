// The L-BFGS minimiser and its strong Wolfe line search on their own (issue 20): known minima,
// the stopping reasons, and the Wolfe conditions at every step the line search returns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lbfgs, type Objective } from '../dist/classifiers/linear/lbfgs.js';
import { strongWolfeSearch, type LineFunction } from '../dist/classifiers/linear/line-search.js';

/** Rosenbrock's function (minimum 0 at (1, 1)), a curved valley that plain descent crawls along. */
const rosenbrock: Objective = (x, g) => {
  const [a, b] = [x[0]!, x[1]!];
  g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
  g[1] = 200 * (b - a * a);
  return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
};

/** ½ xᵀAx − bᵀx with A diagonal 1..size (condition number `size`): minimum at x_i = b_i / A_ii. */
function quadratic(size: number): { fn: Objective; minimiser: Float64Array } {
  const diag = Float64Array.from({ length: size }, (_, i) => 1 + i);
  const b = Float64Array.from({ length: size }, (_, i) => Math.sin(i + 1));
  const fn: Objective = (x, g) => {
    let f = 0;
    for (let i = 0; i < size; i++) {
      g[i] = diag[i]! * x[i]! - b[i]!;
      f += 0.5 * diag[i]! * x[i]! * x[i]! - b[i]! * x[i]!;
    }
    return f;
  };
  return { fn, minimiser: b.map((v, i) => v / diag[i]!) };
}

test('lbfgs: Rosenbrock from (−1.2, 1) to (1, 1), the gradient under its tolerance', async () => {
  const x = Float64Array.from([-1.2, 1]);
  const fs: number[] = [];
  const result = await lbfgs(rosenbrock, x, { gtol: 1e-8, maxIter: 200, ftol: 0, onIteration: (_it, f) => fs.push(f) });
  assert.equal(result.reason, 'gtol');
  assert.ok(result.converged);
  assert.ok(Math.abs(x[0]! - 1) < 1e-6 && Math.abs(x[1]! - 1) < 1e-6, `x = ${x}`);
  assert.ok(result.gmax <= 1e-8);
  assert.equal(fs.length, result.iterations, 'one report per iteration');
  assert.ok(fs.every((f, i) => i === 0 || f < fs[i - 1]!), 'every accepted step decreases f');
  assert.ok(result.iterations < 60, `${result.iterations} iterations: curvature pairs at work`);
  assert.ok(result.evaluations >= result.iterations + 1);
});

test('lbfgs: a 100-d quadratic to its minimiser; an iteration cap stops it unconverged; a start at the minimum does nothing', async () => {
  const { fn, minimiser } = quadratic(100);
  const x = new Float64Array(100);
  const result = await lbfgs(fn, x, { gtol: 1e-6, maxIter: 500, ftol: 0 });
  assert.equal(result.reason, 'gtol');
  // |x − x*| ≤ |g| / the smallest curvature (1).
  for (let i = 0; i < 100; i++) assert.ok(Math.abs(x[i]! - minimiser[i]!) <= 1e-6, `x[${i}]`);
  const capped = await lbfgs(fn, new Float64Array(100), { gtol: 1e-10, maxIter: 3 });
  assert.deepEqual([capped.reason, capped.converged, capped.iterations], ['maxIter', false, 3]);
  const there = Float64Array.from(minimiser);
  const none = await lbfgs(fn, there, { gtol: 1e-6, maxIter: 10 });
  assert.deepEqual([none.reason, none.iterations, none.evaluations], ['gtol', 0, 1]);
});

test('lbfgs: the relative decrease rule (ftol) stops a fit whose objective no longer moves', async () => {
  const { fn } = quadratic(20);
  const result = await lbfgs(fn, new Float64Array(20), { gtol: 0, ftol: 1e-3, maxIter: 500 });
  assert.equal(result.reason, 'ftol');
  assert.ok(result.converged && result.iterations < 500);
});

/** φ along a direction of an objective, recording where it was evaluated. */
function alongDirection(fn: Objective, x0: number[], direction: number[]): { phi: LineFunction; calls: number[]; f0: number; slope0: number } {
  const g = new Float64Array(x0.length);
  const at = (step: number) => {
    const f = fn(Float64Array.from(x0, (v, i) => v + step * direction[i]!), g) as number;
    return { value: f, slope: g.reduce((s, gi, i) => s + gi * direction[i]!, 0) };
  };
  const calls: number[] = [];
  const start = at(0);
  return {
    phi: async (step) => {
      calls.push(step);
      return at(step);
    },
    calls,
    f0: start.value,
    slope0: start.slope,
  };
}

test('strong Wolfe line search: every returned step satisfies both conditions, and the last evaluation is at it', async () => {
  const cases: [string, number[], number[]][] = [
    ['steepest descent on Rosenbrock (step 1 far too long)', [-1.2, 1], [215.6, 88]],
    ['a short direction (steps doubled)', [-1.2, 1], [0.001, 0.0004]],
    ['Newton-like direction', [0, 0], [1, 0]],
  ];
  for (const [what, x0, direction] of cases) {
    const { phi, calls, f0, slope0 } = alongDirection(rosenbrock, x0, direction);
    assert.ok(slope0 < 0, `${what}: a descent direction`);
    const found = await strongWolfeSearch(phi, f0, slope0);
    assert.ok(found, what);
    const { value, slope } = await phi(found.step);
    assert.equal(value, found.value, what);
    assert.ok(value <= f0 + 1e-4 * found.step * slope0, `${what}: sufficient decrease`);
    assert.ok(Math.abs(slope) <= 0.9 * Math.abs(slope0), `${what}: curvature, |φ'| = ${Math.abs(slope)} vs ${0.9 * Math.abs(slope0)}`);
    assert.equal(calls.at(-2), found.step, `${what}: the search's last evaluation is at the step it returns`);
  }
  const short = alongDirection(rosenbrock, [-1.2, 1], [0.001, 0.0004]);
  await strongWolfeSearch(short.phi, short.f0, short.slope0);
  assert.deepEqual(short.calls.slice(0, 3), [1, 2, 4], 'bracketing doubles the step');
});

test('strong Wolfe line search: a direction along which the function only rises (rounding) gives no step', async () => {
  const calls: number[] = [];
  const rising: LineFunction = async (step) => {
    calls.push(step);
    return { value: 1 + 1e-12 * step, slope: 1e-12 };
  };
  assert.equal(await strongWolfeSearch(rising, 1, -1e-20), undefined);
  assert.ok(calls.length <= 21, `${calls.length} evaluations: bounded`);
});
