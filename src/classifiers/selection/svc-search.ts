/**
 * Model selection by seeded, stratified k-fold cross-validation on the training features only
 * (scikit-learn's `GridSearchCV(SVC(), grid, cv=StratifiedKFold(k, shuffle=True),
 * scoring='balanced_accuracy', refit=True)`).
 *
 * Every grid point is scored on the same folds. Kernel matrices are shared: per scaling and
 * fold there is one product matrix of all rows with the fold's training rows, from which the
 * linear and RBF kernels of every C and gamma are cut, so the features are multiplied
 * (scalings × folds) times instead of (grid points × folds) times; for the stateless scalings
 * (none, l2) one product matrix serves all folds. Per fold and kernel, one libsvm problem serves
 * every C; those fold tasks run in worker threads (one libsvm each), kernel matrices in shared memory.
 */
import { CnnfeatError, optionName } from '../../errors.js';
import { classWeightsFor, DEFAULT_CLASS_WEIGHT, type ClassWeight } from '../common/class-weights.js';
import { DEFAULT_SCORING, type CvScoring } from '../common/cv-scoring.js';
import { crossProducts } from '../linalg/gemm.js';
import { gatherRows, rowSquaredNorms, subMatrix } from '../linalg/matrix.js';
import { applyScaling, fitScaling, type Scaling } from '../linalg/scaling.js';
import { defaultFitThreads, FitPool } from '../parallel/fit-pool.js';
import type { FoldScore, FoldTask } from '../svc/fold-task.js';
import { rbfFromProducts, type Kernel } from '../svc/kernel-matrix.js';
import { assertSvcFits, resolveGamma, type SvmOptions } from '../svc/svm.js';
import { gridPoints } from './grid.js';
import { foldStats, ranks } from './ranking.js';
import { checkFolds, stratifiedFolds } from './splits.js';
import type { Grid, ModelSelection } from './types.js';

/** Dot products and squared norms of one scaling and fold: all rows × the fold's training rows. */
interface FoldProducts {
  /** Training rows of the fold, sorted by label (libsvm's class order), and the held-out rows. */
  train: number[];
  valid: number[];
  /** Row-major (train+valid) × train dot products, train rows first. */
  P: Float64Array;
  norms: Float64Array;
  /** gamma 'scale' / 'auto' resolved on the fold's scaled training rows. */
  gammaScale: number;
  gammaAuto: number;
}

/** Inputs shared by every fit of a selection. */
interface SelectionData {
  X: Float32Array;
  n: number;
  d: number;
  labels: number[];
  nClasses: number;
  fold: number[];
}

/** Product matrix of all rows of a stateless scaling (none, l2), shared by its folds. */
interface SharedProducts {
  Xs: Float64Array;
  P: Float64Array;
}

/** Computes the products of one fold under one scaling. */
async function foldProducts(data: SelectionData, scale: Scaling, f: number, shared?: SharedProducts): Promise<FoldProducts> {
  const { X, n, d, labels, fold } = data;
  const all = Array.from({ length: n }, (_, i) => i);
  const train = all.filter((i) => fold[i] !== f).sort((a, b) => labels[a]! - labels[b]! || a - b);
  const valid = all.filter((i) => fold[i] === f);
  const rows = [...train, ...valid];
  let Xs: Float64Array;
  let P: Float64Array;
  if (shared) {
    Xs = gatherRows(shared.Xs, d, rows);
    P = subMatrix(shared.P, n, rows, train);
  } else {
    const raw = gatherRows(Float64Array.from(X), d, rows);
    const scaling = fitScaling(raw.subarray(0, train.length * d), train.length, d, scale);
    Xs = applyScaling(scaling, raw, rows.length, d);
    P = await crossProducts(Xs, rows.length, Xs.subarray(0, train.length * d), train.length, d);
  }
  const trainXs = Xs.subarray(0, train.length * d);
  return {
    train,
    valid,
    P,
    norms: rowSquaredNorms(Xs, rows.length, d),
    gammaScale: resolveGamma('scale', trainXs, d),
    gammaAuto: resolveGamma('auto', trainXs, d),
  };
}

/** The scaled matrix and its full product matrix, for a scaling that needs no fitting. */
async function sharedProducts(data: SelectionData, scale: Scaling): Promise<SharedProducts | undefined> {
  if (scale === 'standard') return undefined;
  const { X, n, d } = data;
  const Xs = applyScaling(fitScaling(X, n, d, scale), X, n, d);
  return { Xs, P: await crossProducts(Xs, n, Xs, n, d) };
}

/** A kernel (and its gamma) whose matrix serves every C of the grid. */
interface KernelSpec {
  kernel: Kernel;
  gamma: SvmOptions['gamma'];
}

/** A float64 array in shared memory (handed to worker threads without a copy). */
function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * 8));
}

/** The kernel matrix of a spec on a fold, (train+valid) × train, in shared memory. */
function foldKernel(fp: FoldProducts, spec: KernelSpec): Float64Array {
  const K = sharedFloat64(fp.P.length);
  K.set(fp.P);
  if (spec.kernel === 'linear') return K;
  const gamma = spec.gamma === 'scale' ? fp.gammaScale : spec.gamma === 'auto' ? fp.gammaAuto : spec.gamma;
  return rbfFromProducts(K, fp.norms, fp.norms.subarray(0, fp.train.length), gamma);
}

/** The fold task of one kernel: every C of the grid on one libsvm problem. */
function foldTask(data: SelectionData, fp: FoldProducts, K: Float64Array, Cs: number[], scoring: CvScoring, classWeight: ClassWeight): FoldTask {
  const y = fp.train.map((i) => data.labels[i]!);
  return {
    K,
    m: fp.train.length,
    y,
    truth: fp.valid.map((i) => data.labels[i]!),
    Cs,
    weights: classWeightsFor(classWeight, y, data.nClasses),
    nClasses: data.nClasses,
    scoring,
  };
}

/** Options of {@link selectModel}. */
export interface SelectionOptions {
  grid: Grid;
  folds: number;
  seed: number;
  scoring?: CvScoring;
  classWeight?: ClassWeight;
  /** Called after each fit (progress): fits done and total. */
  onProgress?: (done: number, total: number) => void;
  /** Threads fitting folds in parallel (default: the cores, at most 4; 1 = this thread only). */
  threads?: number;
  /** A fold assignment to use instead of stratified k-fold (e.g. a holdout split: 0 train, 1 validation). */
  fold?: number[];
  /** Group id of each row: the stratified k-fold keeps a group's rows (an image and its mirror) in one fold. */
  groups?: readonly number[];
  /** The folds scored (default all): each is held out in turn. */
  evaluate?: number[];
  /** Worker threads to use (kept open); default: a pool of `threads` made and closed here. */
  pool?: FitPool;
}

/** The kernels of a grid: linear once, RBF once per gamma. */
function kernelSpecs(grid: Grid): KernelSpec[] {
  return grid.kernel.flatMap((kernel): KernelSpec[] => (kernel === 'linear' ? [{ kernel, gamma: grid.gamma[0]! }] : grid.gamma.map((gamma) => ({ kernel, gamma }))));
}

/**
 * Fails unless k-fold cross-validation can run on `n` training rows: 2 ≤ k ≤ n, and each fold's
 * training part fits svc's kernel matrix.
 */
function assertCvFits(n: number, folds: number): void {
  checkFolds(folds, n);
  assertSvcFits(Math.ceil((n * (folds - 1)) / folds), 'cross-validation folds of');
}

/**
 * Scores every grid point by stratified k-fold cross-validation on `X` (the training set) and
 * returns the table with the best point; the caller refits it on all of `X`.
 *
 * Work is ordered to share it: per scaling, per fold, one product matrix; per kernel, one
 * kernel matrix and one libsvm problem; then one fit per C.
 * @param X row-major `n` × `d` training features
 * @param labels class index per row
 * @param nClasses number of class indices
 * @throws CnnfeatError (exit 2) on an empty grid or an impossible number of folds
 */
export async function selectModel(X: Float32Array, n: number, d: number, labels: number[], nClasses: number, opts: SelectionOptions): Promise<ModelSelection> {
  const started = performance.now();
  const scoring = opts.scoring ?? DEFAULT_SCORING;
  const classWeight = opts.classWeight ?? DEFAULT_CLASS_WEIGHT;
  const points = gridPoints(opts.grid);
  if (points.length === 0) throw new CnnfeatError(`${optionName('grid')}: the grid is empty`);
  const fold = opts.fold ?? stratifiedFolds(labels, opts.folds, opts.seed, opts.groups);
  const evaluate = opts.evaluate ?? Array.from({ length: opts.folds }, (_, f) => f);
  if (!opts.fold) assertCvFits(n, opts.folds);
  else assertSvcFits(Math.max(...evaluate.map((f) => fold.filter((x) => x !== f).length)));
  const data: SelectionData = { X, n, d, labels, nClasses, fold };
  const key = (p: { scale: Scaling; kernel: Kernel; gamma: SvmOptions['gamma']; C: number }) => `${p.scale}|${p.kernel}|${p.kernel === 'linear' ? '' : p.gamma}|${p.C}`;
  const scores = new Map(points.map((p) => [key(p), { folds: [] as number[], seconds: 0 }]));
  const total = points.length * evaluate.length;
  let done = 0;
  const record = (scale: Scaling, spec: KernelSpec, f: number, results: FoldScore[]) => {
    opts.grid.C.forEach((C, c) => {
      const entry = scores.get(key({ scale, ...spec, C }))!;
      entry.folds[evaluate.indexOf(f)] = results[c]!.score;
      entry.seconds += results[c]!.seconds;
      opts.onProgress?.(++done, total);
    });
  };
  const pool = opts.pool ?? FitPool.create(opts.threads ?? defaultFitThreads());
  const running: Promise<void>[] = [];
  let failure: unknown = null;
  try {
    for (const scale of opts.grid.scale) {
      if (failure) break;
      const shared = await sharedProducts(data, scale);
      for (const f of evaluate) {
        if (failure) break;
        const fp = await foldProducts(data, scale, f, shared);
        for (const spec of kernelSpecs(opts.grid)) {
          await pool.ready();
          if (failure) break;
          const task = foldTask(data, fp, foldKernel(fp, spec), opts.grid.C, scoring, classWeight);
          const fit = pool.run({ kind: 'svc', task }).then((results) => record(scale, spec, f, results));
          fit.catch((err: unknown) => (failure ??= err)); // handled here; rethrown below
          running.push(fit);
        }
      }
    }
    await Promise.all(running);
  } finally {
    await Promise.allSettled(running);
    if (!opts.pool) await pool.close();
  }
  const partial = points.map((params) => {
    const { folds, seconds } = scores.get(key(params))!;
    return { params, ...foldStats(folds), folds, fitSeconds: seconds / folds.length };
  });
  const rank = ranks(partial.map((r) => r.mean));
  return {
    method: 'stratified-k-fold',
    folds: opts.folds,
    seed: opts.seed,
    scoring,
    classWeight,
    grid: opts.grid,
    results: partial.map((r, i) => ({ ...r, rank: rank[i]! })),
    best: rank.indexOf(1),
    seconds: (performance.now() - started) / 1000,
  };
}
