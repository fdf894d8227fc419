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
import { CnnfeatError } from '../errors.js';
import { crossProducts, rbfFromProducts, rowSquaredNorms, subMatrix } from './kernel-matrix.js';
import { defaultFitThreads, FitPool } from './cv-pool.js';
import type { CvScoring, FoldScore, FoldTask } from './cv-task.js';
import { applyScaling, fitScaling, SCALINGS, type Scaling } from './scaling.js';
import { assertSvcFits, balancedClassWeights, gatherRows, KERNELS, resolveGamma, type ClassWeight, type Kernel, type SvmOptions } from './svm.js';
import { seededRandom } from '../util/random.js';
import type { LinearClassifier } from './linear-model.js';
import type { LinearGridRecord } from './linear-selection.js';
import type { SvmLoss } from './linear-svm.js';

/** The values tried for each SVM option. */
export interface Grid {
  kernel: Kernel[];
  C: number[];
  /** RBF widths (ignored by the linear kernel). */
  gamma: SvmOptions['gamma'][];
  scale: Scaling[];
}

/** One combination of the grid. */
export interface GridPoint {
  kernel: Kernel;
  C: number;
  gamma: SvmOptions['gamma'];
  scale: Scaling;
}

export { CV_SCORINGS, type CvScoring } from './cv-task.js';

/** A grid point of a linear classifier (see linear-selection.ts). */
export interface LinearPoint {
  classifier: LinearClassifier;
  C: number;
  scale: Scaling;
  loss?: SvmLoss;
}

/** A point of a selection: an svc grid point (no `classifier` in files written before issue 10) or a linear one. */
export type SelectionPoint = (GridPoint & { classifier?: 'svc' }) | LinearPoint;

/** Whether a selection point is a linear classifier's. */
export function isLinearPoint(p: SelectionPoint): p is LinearPoint {
  return p.classifier === 'linear-svm' || p.classifier === 'logistic';
}

/** The columns of a selection point in tables: classifier, kernel, C, gamma, scale ('-' where they do not apply). */
export function pointColumns(p: SelectionPoint): { classifier: string; kernel: string; C: string; gamma: string; scale: string } {
  if (isLinearPoint(p)) {
    return { classifier: p.classifier + (p.loss === 'hinge' ? ' (hinge)' : ''), kernel: '-', C: shortNumber(p.C), gamma: '-', scale: p.scale };
  }
  return { classifier: 'svc', kernel: p.kernel, C: shortNumber(p.C), gamma: p.kernel === 'rbf' ? shortNumber(p.gamma) : '-', scale: p.scale };
}

/** A number for a table column: small values in exponent form (4.88e-6), so that columns stay narrow. */
function shortNumber(value: number | string): string {
  return typeof value === 'number' && value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential(2).replace(/\.?0+e/, 'e') : String(value);
}

/** How a selection validated, in words: `5-fold stratified cross-validation` or `a stratified 20 % holdout`. */
export function describeValidation(s: Pick<ModelSelection, 'method' | 'folds' | 'valSize' | 'halving'>): string {
  const share = `${Math.round((s.valSize ?? 0) * 100)} %`;
  if (s.method === 'halving') return `successive halving on stratified ${share} held-out splits (every setting on ${s.halving?.rows} rows, the best ${s.halving?.keep} on all)`;
  return s.method === 'holdout' ? `one stratified held-out split (${share} of the rows)` : `${s.folds}-fold stratified cross-validation`;
}

/** The cross-validated score of one grid point. */
export interface CvResult {
  params: SelectionPoint;
  /** Linear classifiers: whether every fold's fit converged within the iteration cap. */
  converged?: boolean;
  /** Successive halving: the round (1: all points on a subsample, 2: the best on all rows). */
  round?: 1 | 2;
  /** Linear classifiers: rows each fit of this result trained on (k-fold: the mean over the folds). */
  trainRows?: number;
  /** Mean validation score over the folds. */
  mean: number;
  /** Population standard deviation of the fold scores (as scikit-learn's std_test_score). */
  std: number;
  folds: number[];
  /** Mean seconds of one fold's fit (libsvm on the cut kernel matrix). */
  fitSeconds: number;
  /** 1 = best; ties share a rank (scikit-learn's rank_test_score). */
  rank: number;
}

/** The record of a model selection, stored in the classifier file. */
export interface ModelSelection {
  /**
   * k-fold: `folds` folds; holdout: one stratified split keeping `valSize` of the rows for
   * validation; halving: holdouts in two rounds (every point on a subsample of `halving.rows`
   * rows, then the best `halving.keep` on all rows).
   */
  method: 'stratified-k-fold' | 'holdout' | 'halving';
  halving?: { rows: number; keep: number };
  folds: number;
  valSize?: number;
  seed: number;
  scoring: CvScoring;
  classWeight: ClassWeight;
  /** The svc grid searched (absent when no svc point was). */
  grid?: Grid;
  /** The linear grid searched, with the C values each scaling used. */
  linearGrid?: LinearGridRecord;
  results: CvResult[];
  /** Index into `results` of the chosen point (the first of rank 1, as scikit-learn). */
  best: number;
  seconds: number;
}

/** The default grid: linear and RBF (gamma 'scale'), C 0.01–100, three scalings: 30 points. */
export const DEFAULT_GRID: Grid = {
  kernel: ['linear', 'rbf'],
  C: [0.01, 0.1, 1, 10, 100],
  gamma: ['scale'],
  scale: ['none', 'standard', 'l2'],
};

/** Formats a grid in the `--grid` syntax. */
export function formatGrid(grid: Grid): string {
  return `kernel=${grid.kernel.join(',')};C=${grid.C.join(',')};gamma=${grid.gamma.join(',')};scale=${grid.scale.join(',')}`;
}

/** Parses one `--grid` value list for a key. */
function parseGridValues(key: keyof Grid, values: string[]): Grid[keyof Grid] {
  const bad = (v: string, what: string) => new CnnfeatError(`--grid: ${key}=${v} is not ${what}; e.g. --grid "kernel=linear,rbf;C=0.1,1,10;scale=none,l2"`);
  switch (key) {
    case 'kernel':
      return values.map((v) => {
        if (!(KERNELS as readonly string[]).includes(v)) throw bad(v, `a kernel (${KERNELS.join(', ')})`);
        return v as Kernel;
      });
    case 'scale':
      return values.map((v) => {
        if (!(SCALINGS as readonly string[]).includes(v)) throw bad(v, `a scaling (${SCALINGS.join(', ')})`);
        return v as Scaling;
      });
    case 'C':
      return values.map((v) => {
        const c = Number(v);
        if (v === '' || !Number.isFinite(c) || c <= 0) throw bad(v, 'a positive number');
        return c;
      });
    case 'gamma':
      return values.map((v) => {
        if (v === 'scale' || v === 'auto') return v;
        const g = Number(v);
        if (v === '' || !Number.isFinite(g) || g <= 0) throw bad(v, 'a positive number, scale or auto');
        return g;
      });
  }
}

/**
 * Parses `--grid`: `;`-separated `key=v1,v2,…` for the keys kernel, C, gamma, scale, e.g.
 * `kernel=linear,rbf;C=0.1,1,10;scale=none,l2`. Keys not given keep the default grid's values.
 * @throws CnnfeatError (exit 2) on an unknown key, a bad value, a repeated key or an empty list
 */
export function parseGrid(text: string, base: Grid = DEFAULT_GRID): Grid {
  const grid: Grid = { ...base };
  const seen = new Set<string>();
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!['kernel', 'C', 'gamma', 'scale'].includes(key)) {
      throw new CnnfeatError(`--grid: unknown key "${key}"; use kernel=…;C=…;gamma=…;scale=… separated by ";"`);
    }
    if (seen.has(key)) throw new CnnfeatError(`--grid: ${key} is given twice`);
    seen.add(key);
    const values = eq < 0 ? [] : part.slice(eq + 1).split(',').map((v) => v.trim());
    if (values.length === 0 || values.every((v) => v === '')) throw new CnnfeatError(`--grid: ${key} has no values`);
    (grid as unknown as Record<string, unknown>)[key] = [...new Set(parseGridValues(key as keyof Grid, values) as unknown[])];
  }
  return grid;
}

/**
 * The grid's combinations in a stable order (scaling, kernel, C, gamma); the linear kernel
 * gets one point per C (gamma does not apply to it, recorded as the grid's first gamma).
 */
export function gridPoints(grid: Grid): GridPoint[] {
  const points: GridPoint[] = [];
  for (const scale of grid.scale) {
    for (const kernel of grid.kernel) {
      for (const C of grid.C) {
        const gammas = kernel === 'linear' ? grid.gamma.slice(0, 1) : grid.gamma;
        for (const gamma of gammas) points.push({ kernel, C, gamma, scale });
      }
    }
  }
  return points;
}

/**
 * The rows of each class (classes in ascending order), each class's rows shuffled in turn by
 * one seeded generator (Fisher–Yates): the common first step of the stratified splits below.
 */
function shuffledClasses(labels: number[], seed: number): number[][] {
  const random = seededRandom(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, i) => {
    const members = byClass.get(label);
    if (members) members.push(i);
    else byClass.set(label, [i]);
  });
  return [...byClass.keys()]
    .sort((a, b) => a - b)
    .map((label) => {
      const members = byClass.get(label)!;
      for (let i = members.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [members[i], members[j]] = [members[j]!, members[i]!];
      }
      return members;
    });
}

/**
 * Runs a split of rows on groups of rows instead, so that the rows of a group (an image and its
 * mirror) always land on the same side: each group is one unit, labelled by its rows' class, in
 * order of first appearance; each row gets its unit's assignment. Without `groups` the split runs
 * on the rows (rows that are all groups of one give the same assignment).
 * @param groups group id of each row
 * @throws CnnfeatError when a group's rows have different classes
 */
function splitGroups(labels: number[], groups: readonly number[] | undefined, split: (unitLabels: number[]) => number[]): number[] {
  if (!groups) return split(labels);
  if (groups.length !== labels.length) throw new CnnfeatError(`${groups.length} groups for ${labels.length} training rows; give one group per row`);
  const unitOf = new Map<number, number>();
  const unitLabels: number[] = [];
  const rowUnits = groups.map((g, i) => {
    let unit = unitOf.get(g);
    if (unit === undefined) unitOf.set(g, (unit = unitLabels.push(labels[i]!) - 1));
    else if (unitLabels[unit] !== labels[i]) throw new CnnfeatError(`rows ${groups.indexOf(g)} and ${i} are one group (an image and its mirror) but have different classes`);
    return unit;
  });
  const unitFolds = split(unitLabels);
  return rowUnits.map((u) => unitFolds[u]!);
}

/**
 * Seeded stratified k-fold assignment: each class's samples are shuffled and dealt to the
 * folds in turn, continuing where the previous class stopped, so every fold gets about 1/k
 * of every class and the folds differ in size by at most one. With `groups`, whole groups are
 * dealt (a group's rows share a fold).
 * @param labels class index per sample
 * @param k number of folds, 2..n
 * @param seed PRNG seed
 * @param groups group id per sample (default: each its own)
 * @returns the fold (0..k-1) of every sample
 */
export function stratifiedFolds(labels: number[], k: number, seed: number, groups?: readonly number[]): number[] {
  return splitGroups(labels, groups, (units) => {
    if (!Number.isInteger(k) || k < 2 || k > units.length) {
      throw new CnnfeatError(`the number of folds (--cv) must be between 2 and ${units.length} (the number of training ${groups ? 'images' : 'rows'}), got ${k}`);
    }
    const fold = new Array<number>(units.length).fill(0);
    let next = 0;
    for (const members of shuffledClasses(units, seed)) for (const i of members) fold[i] = next++ % k;
    return fold;
  });
}

/**
 * Seeded stratified holdout: each class's rows (or groups) are shuffled and round(share · count)
 * of them (at least 1, at most count − 1) are held out.
 * @returns 0 (train) or 1 (validation) per row
 */
export function stratifiedHoldout(labels: number[], valSize: number, seed: number, groups?: readonly number[]): number[] {
  return splitGroups(labels, groups, (units) => {
    const fold = new Array<number>(units.length).fill(0);
    for (const members of shuffledClasses(units, seed)) {
      const held = Math.min(members.length - 1, Math.max(1, Math.round(valSize * members.length)));
      for (const i of members.slice(0, held)) fold[i] = 1;
    }
    return fold;
  });
}

/**
 * A stratified subsample of about `rows` rows split into training (0) and held-out (1) rows;
 * the other rows are left out (−1). With `groups`, whole groups are kept, held out or left out.
 */
export function subsampleHoldout(labels: number[], rows: number, valSize: number, seed: number, groups?: readonly number[]): number[] {
  return splitGroups(labels, groups, (units) => {
    const keep = stratifiedHoldout(units, Math.min(1, rows / labels.length), seed + 1);
    const members = keep.flatMap((k, i) => (k === 1 ? [i] : []));
    const inner = stratifiedHoldout(members.map((i) => units[i]!), valSize, seed);
    const fold = new Array<number>(units.length).fill(-1);
    members.forEach((i, t) => (fold[i] = inner[t]!));
    return fold;
  });
}

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
    weights: classWeight === 'balanced' ? balancedClassWeights(y, data.nClasses) : undefined,
    nClasses: data.nClasses,
    scoring,
  };
}

/** Ranks of the means, 1 = best, ties sharing the lower rank (scipy's rankdata 'min'). */
export function ranks(means: number[]): number[] {
  return means.map((m) => 1 + means.filter((other) => other > m).length);
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

/** The selection's results best first (by rank, then grid order), with their grid index. */
export function rankedResults(selection: ModelSelection): { result: ModelSelection['results'][number]; index: number }[] {
  return selection.results.map((result, index) => ({ result, index })).sort((a, b) => a.result.rank - b.result.rank || a.index - b.index);
}

/**
 * Fails unless k-fold cross-validation can run on `n` training rows: 2 ≤ k ≤ n, and each fold's
 * training part fits svc's kernel matrix.
 */
export function assertCvFits(n: number, folds: number): void {
  if (!Number.isInteger(folds) || folds < 2 || folds > n) {
    throw new CnnfeatError(`the number of folds (--cv) must be between 2 and ${n} (the number of training rows), got ${folds}`);
  }
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
  const scoring = opts.scoring ?? 'balanced_accuracy';
  const classWeight = opts.classWeight ?? 'none';
  const points = gridPoints(opts.grid);
  if (points.length === 0) throw new CnnfeatError('--grid: the grid is empty');
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
    const mean = folds.reduce((a, b) => a + b, 0) / folds.length;
    const std = Math.sqrt(folds.reduce((a, b) => a + (b - mean) ** 2, 0) / folds.length);
    return { params, mean, std, folds, fitSeconds: seconds / folds.length };
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
