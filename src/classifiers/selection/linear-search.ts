/**
 * Model selection for the linear classifiers: every (classifier, scaling) is fitted along its
 * C path (increasing, each fit warm-started from the previous one) on each fold's training
 * rows and scored on the held-out rows. The matrix is held once; folds are row indices and
 * scalings are applied on the fly (linalg/scaled-view.ts).
 */
import { heldOutScore, type CvScoring } from '../common/cv-scoring.js';
import type { ClassWeight } from '../common/class-weights.js';
import { fitScaledView, inverseRowNorms } from '../linalg/scaled-view.js';
import type { Scaling } from '../linalg/scaling.js';
import { argmaxRows, fitLinearPath, LINEAR_CLASSIFIERS, linearScores, resolveLinearOptions, type LinearClassifier } from '../linear/linear-model.js';
import type { PathTaskRunner } from '../linear/svm-path-task.js';
import { foldStats } from './ranking.js';
import type { CvResult, LinearGrid, LinearGridRecord, LinearPoint } from './types.js';

/**
 * The default linear grid: both classifiers, C ×10 from 0.01 to 10 (relative), three scalings:
 * 24 settings. (100 relative was left out: never the best on CNN features here, and its SVM
 * fits take the most passes by far.)
 */
export const DEFAULT_LINEAR_GRID: LinearGrid = {
  classifier: [...LINEAR_CLASSIFIERS],
  C: [0.01, 0.1, 1, 10],
  relativeC: true,
  scale: ['none', 'standard', 'l2'],
};

/** Rounds to 3 significant digits (recorded C values stay readable and refit exactly). */
function round3(x: number): number {
  return Number(x.toPrecision(3));
}

/** Mean squared norm of the rows of X under a scaling (l2: 1; standard: the non-constant columns). */
function meanSquaredNorm(X: Float32Array, n: number, d: number, scale: Scaling): number {
  if (scale === 'l2') return 1;
  if (scale === 'standard') {
    // Standardised columns have unit variance, constant ones are 0: the norm² is the count of the others.
    const varies = new Uint8Array(d);
    for (let i = 1; i < n; i++) for (let j = 0; j < d; j++) if (X[i * d + j] !== X[j]) varies[j] = 1;
    return Math.max(1, varies.reduce((a, b) => a + b, 0));
  }
  let ss = 0;
  for (let i = 0; i < X.length; i++) ss += X[i]! * X[i]!;
  return n > 0 && ss > 0 ? ss / n : 1;
}

/** The absolute C values of a grid under each of its scalings. */
function absoluteCs(grid: LinearGrid, X: Float32Array, n: number, d: number): Partial<Record<Scaling, number[]>> {
  return Object.fromEntries(
    grid.scale.map((scale) => {
      const unit = grid.relativeC ? 1 / meanSquaredNorm(X, n, d, scale) : 1;
      return [scale, [...new Set(grid.C.map((c) => round3(c * unit)))].sort((a, b) => a - b)];
    }),
  );
}

/** Options of {@link selectLinear}. */
export interface LinearSelectionOptions {
  grid: LinearGrid;
  /** Fold of every row (−1: left out); each fold of `evaluate` is held out in turn. */
  fold: number[];
  evaluate: number[];
  scoring: CvScoring;
  classWeight: ClassWeight;
  seed: number;
  /** Solver settings per classifier (defaults: LINEAR_DEFAULTS). */
  solver?: Partial<Record<LinearClassifier, { tol?: number; maxIter?: number }>>;
  pool: PathTaskRunner;
  /** Progress: fits done of the total, and what runs now. */
  onProgress?: (done: number, total: number, detail: string) => void;
}

/**
 * Scores every point of a linear grid on the given folds of `X` (shared memory).
 * @returns unranked results in grid order (scaling, classifier, C) and the grid's record
 */
export async function selectLinear(
  X: Float32Array,
  n: number,
  d: number,
  labels: number[],
  K: number,
  opts: LinearSelectionOptions,
): Promise<{ results: Omit<CvResult, 'rank'>[]; record: LinearGridRecord }> {
  const { grid, fold, evaluate } = opts;
  const absoluteC = absoluteCs(grid, X, n, d);
  const results: Omit<CvResult, 'rank'>[] = [];
  const total = grid.scale.reduce((a, scale) => a + absoluteC[scale]!.length, 0) * evaluate.length * grid.classifier.length;
  let done = 0;
  for (const scale of grid.scale) {
    const Cs = absoluteC[scale]!;
    const rowScale = scale === 'l2' ? inverseRowNorms(X, n, d) : undefined;
    const perPoint = new Map<string, { folds: number[]; seconds: number; converged: boolean }>();
    for (const [e, f] of evaluate.entries()) {
      const train = Int32Array.from(fold.flatMap((g, i) => (g === f || g < 0 ? [] : [i])));
      const valid = fold.flatMap((g, i) => (g === f ? [i] : []));
      const truth = valid.map((i) => labels[i]!);
      const view = fitScaledView(X, n, d, scale, train, rowScale);
      for (const classifier of grid.classifier) {
        const o = resolveLinearOptions({ classifier, C: 1, scale, loss: grid.loss, classWeight: opts.classWeight, seed: opts.seed, ...opts.solver?.[classifier] });
        const label = `${classifier} ${scale}${evaluate.length > 1 ? ` fold ${e + 1}/${evaluate.length}` : ''}`;
        const started = performance.now();
        const fits = await fitLinearPath(view, train, labels, K, Cs, o, opts.pool, (fitsDone, _of, detail) => opts.onProgress?.(done + fitsDone, total, `${label}, ${detail}`));
        const seconds = (performance.now() - started) / 1000 / Cs.length;
        for (const [c, fit] of fits.entries()) {
          const predicted = argmaxRows(await linearScores(view, fit.W, fit.intercept, K, valid), valid.length, K);
          const key = `${classifier}|${c}`;
          const entry = perPoint.get(key) ?? { folds: [], seconds: 0, converged: true };
          entry.folds[e] = heldOutScore(truth, predicted, K, opts.scoring);
          entry.seconds += seconds;
          entry.converged &&= fit.converged;
          perPoint.set(key, entry);
        }
        done += Cs.length;
        opts.onProgress?.(done, total, label);
      }
    }
    for (const classifier of grid.classifier) {
      for (const [c, C] of Cs.entries()) {
        const { folds, seconds, converged } = perPoint.get(`${classifier}|${c}`)!;
        const params: LinearPoint = { classifier, C, scale, ...(classifier === 'linear-svm' && grid.loss ? { loss: grid.loss } : {}) };
        results.push({ params, ...foldStats(folds), folds, fitSeconds: seconds / folds.length, converged });
      }
    }
  }
  return { results, record: { ...grid, absoluteC } };
}
