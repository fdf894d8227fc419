/**
 * The linear classifiers — `linear-svm` (one-vs-rest, dual coordinate descent: linear-svm.ts)
 * and `logistic` (multinomial, L-BFGS: logistic.ts) — as trained models: training on a dense
 * float32 matrix (held once, shared with the worker threads), the stored model (weights as
 * base64 float32) and prediction (one matrix product per chunk of rows).
 */
import { CnnfeatError, optionName } from '../../errors.js';
import { CLASS_WEIGHTS, classWeightsFor, DEFAULT_CLASS_WEIGHT, type ClassWeight } from '../common/class-weights.js';
import { checkChoice, checkInteger, checkLabels, checkMatrix, checkPositive, DEFAULT_SEED } from '../common/checks.js';
import type { Prediction } from '../common/scores.js';
import { decodeFloat32, encodeFloat32 } from '../linalg/float32.js';
import { sharedMatrix } from '../linalg/matrix.js';
import { rowsTimesTransposed, timesTransposed } from '../linalg/row-chunks.js';
import { allRows, fitScaledView, rawSpaceWeights, scalingParamsOf, viewFromParams, type ScaledView } from '../linalg/scaled-view.js';
import { SCALINGS, type Scaling, type ScalingParams } from '../linalg/scaling.js';
import { DEFAULT_LOSS, SVM_LOSSES, type SvmLoss } from './linear-svm.js';
import { LogisticProblem } from './logistic.js';
import type { PathTaskRunner, SvmPathTask } from './svm-path-task.js';

/** The linear classifiers. */
export const LINEAR_CLASSIFIERS = ['linear-svm', 'logistic'] as const;
export type LinearClassifier = (typeof LINEAR_CLASSIFIERS)[number];

/** Solver defaults, as liblinear (`-s 1`: eps 0.1, 1000 iterations) and scikit-learn (lbfgs). */
export const LINEAR_DEFAULTS = {
  'linear-svm': { tol: 0.1, maxIter: 1000 },
  logistic: { tol: 1e-4, maxIter: 100 },
} as const;

/** Options of one linear fit. */
export interface LinearOptions {
  classifier: LinearClassifier;
  C: number;
  scale: Scaling;
  /** linear-svm: squared hinge (default, liblinear `-s 1`) or hinge (`-s 3`). */
  loss?: SvmLoss;
  classWeight?: ClassWeight;
  /** Stopping tolerance: max PG − min PG (linear-svm), max |gradient| (logistic). */
  tol?: number;
  maxIter?: number;
  /** Seed of the coordinate order (linear-svm). */
  seed?: number;
}

/** Options as stored in a model: every default filled in. */
export interface ResolvedLinearOptions {
  classifier: LinearClassifier;
  C: number;
  scale: Scaling;
  loss?: SvmLoss;
  classWeight: ClassWeight;
  tol: number;
  maxIter: number;
  seed: number;
}

/** A trained linear classifier: plain JSON. */
export interface LinearModel {
  type: 'linear';
  classes: string[];
  options: ResolvedLinearOptions;
  scaling: ScalingParams;
  dim: number;
  /** `classes.length` × `dim` weights in the scaled feature space, base64 little-endian float32. */
  weights: string;
  intercept: number[];
  trainedOn: number;
  /** Most solver iterations any class (or the multinomial fit) took, and whether all converged. */
  solver: { iterations: number; converged: boolean };
}

/** Fills in the defaults of linear options and checks them. */
export function resolveLinearOptions(opts: LinearOptions): ResolvedLinearOptions {
  checkChoice('classifier', opts.classifier, LINEAR_CLASSIFIERS);
  checkPositive('C', opts.C);
  checkChoice('scale', opts.scale, SCALINGS);
  if (opts.loss !== undefined) checkChoice('loss', opts.loss, SVM_LOSSES);
  if (opts.classWeight !== undefined) checkChoice('classWeight', opts.classWeight, CLASS_WEIGHTS);
  const defaults = LINEAR_DEFAULTS[opts.classifier];
  const tol = opts.tol ?? defaults.tol;
  const maxIter = opts.maxIter ?? defaults.maxIter;
  checkPositive('tol', tol);
  checkInteger('maxIter', maxIter, 1);
  return {
    classifier: opts.classifier,
    C: opts.C,
    scale: opts.scale,
    ...(opts.classifier === 'linear-svm' ? { loss: opts.loss ?? DEFAULT_LOSS } : {}),
    classWeight: opts.classWeight ?? DEFAULT_CLASS_WEIGHT,
    tol,
    maxIter,
    seed: opts.seed ?? DEFAULT_SEED,
  };
}

/**
 * Progress of a path of fits: fits done (fractional: classes of linear-svm finish at different
 * times) of `total` (the C values), and what runs now (C, iteration).
 */
export type FitProgress = (done: number, total: number, detail: string) => void;

/** The class weights of a fit on some rows (see `classWeightsFor`). */
function rowClassWeights(o: ResolvedLinearOptions, rows: Int32Array, labels: ArrayLike<number>, K: number): number[] | undefined {
  return classWeightsFor(o.classWeight, Array.from(rows, (i) => labels[i]!), K);
}

/** Per-row class-weight multipliers of some rows, or none. */
function rowWeights(rows: Int32Array, labels: ArrayLike<number>, weights: number[] | undefined): Float64Array | undefined {
  return weights ? Float64Array.from(rows, (i) => weights[labels[i]!]!) : undefined;
}

/** The one-vs-rest problems of a linear SVM: one per class, one for two classes (class 1 positive). */
function svmPathTasks(view: ScaledView, rows: Int32Array, labels: ArrayLike<number>, K: number, Cs: number[], o: ResolvedLinearOptions): SvmPathTask[] {
  const rowWeight = rowWeights(rows, labels, rowClassWeights(o, rows, labels, K));
  const positives = K === 2 ? [1] : Array.from({ length: K }, (_, k) => k);
  return positives.map((k) => ({
    view,
    rows,
    y: Int8Array.from(rows, (i) => (labels[i] === k ? 1 : -1)),
    rowWeight,
    Cs,
    loss: o.loss ?? DEFAULT_LOSS,
    tol: o.tol,
    maxIter: o.maxIter,
    seed: o.seed + k,
  }));
}

/** Weights K × d and intercepts of one C from the class tasks' results (two classes: ±w). */
function svmWeightsOf(results: { w: Float64Array; intercept: number }[], K: number, d: number): { W: Float64Array; intercept: Float64Array } {
  const W = new Float64Array(K * d);
  const intercept = new Float64Array(K);
  if (K === 2) {
    const { w, intercept: b } = results[0]!;
    for (let j = 0; j < d; j++) {
      W[d + j] = w[j]!;
      W[j] = -w[j]!;
    }
    intercept[1] = b;
    intercept[0] = -b;
  } else {
    results.forEach((r, k) => {
      W.set(r.w, k * d);
      intercept[k] = r.intercept;
    });
  }
  return { W, intercept };
}

/** A fitted W, b and how the solver did. */
export interface LinearFit {
  W: Float64Array;
  intercept: Float64Array;
  iterations: number;
  converged: boolean;
}

/**
 * Fits a linear classifier for every C of a path (increasing C, each fit warm-started from
 * the previous one) on some rows of a scaled view.
 * @param pool runs the linear-SVM classes (the fit pool's worker threads; logistic products use onnxruntime's threads)
 */
export async function fitLinearPath(
  view: ScaledView,
  rows: Int32Array,
  labels: ArrayLike<number>,
  K: number,
  Cs: number[],
  o: ResolvedLinearOptions,
  pool: PathTaskRunner,
  onProgress?: FitProgress,
): Promise<LinearFit[]> {
  if (o.classifier === 'linear-svm') {
    const tasks = svmPathTasks(view, rows, labels, K, Cs, o);
    const at = new Array<number>(tasks.length).fill(0);
    const results = await pool.all(tasks.map((task) => ({ kind: 'svm-path' as const, task })), (t, c, it) => {
      at[t] = c;
      onProgress?.(at.reduce((a, b) => a + b, 0) / tasks.length, Cs.length, `C=${Cs[c]}, class ${t + 1}/${tasks.length}, pass ${it}`);
    });
    return Cs.map((_, c) => {
      const perClass = results.map((r) => r[c]!);
      return {
        ...svmWeightsOf(perClass, K, view.d),
        iterations: Math.max(...perClass.map((r) => r.iterations)),
        converged: perClass.every((r) => r.converged),
      };
    });
  }
  const problem = new LogisticProblem(view, rows, labels, K, rowClassWeights(o, rows, labels, K));
  const fits: LinearFit[] = [];
  for (const [c, C] of Cs.entries()) {
    const result = await problem.fit({ C, tol: o.tol, maxIter: o.maxIter, onIteration: (it) => onProgress?.(c + Math.min(it / o.maxIter, 0.99), Cs.length, `C=${C}, iteration ${it}`) });
    fits.push({ ...problem.weights(), iterations: result.iterations, converged: result.converged });
  }
  return fits;
}

/**
 * Scores of the rows of a view (all, or the given ones) under weights W (K × d, scaled
 * space) and intercepts: r_i (X Vᵀ − offset) + b, float32 products, rows × K.
 */
export async function linearScores(view: ScaledView, W: ArrayLike<number>, intercept: ArrayLike<number>, K: number, rows?: ArrayLike<number>): Promise<Float32Array> {
  const { X, n, d } = view;
  const { V: V64, offset } = rawSpaceWeights(view, W, K);
  const V = Float32Array.from(V64);
  const Z = rows ? await rowsTimesTransposed(X, rows, d, V, K) : await timesTransposed(X, n, d, V, K);
  const count = rows ? rows.length : n;
  for (let t = 0; t < count; t++) {
    const i = rows ? rows[t]! : t;
    const r = view.rowScale ? view.rowScale[i]! : 1;
    for (let k = 0; k < K; k++) Z[t * K + k] = r * (Z[t * K + k]! - offset[k]!) + intercept[k]!;
  }
  return Z;
}

/** Index of the largest score of each row (ties → lower class index). */
export function argmaxRows(Z: ArrayLike<number>, rows: number, K: number): number[] {
  const out = new Array<number>(rows);
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (Z[i * K + k]! > Z[i * K + best]!) best = k;
    out[i] = best;
  }
  return out;
}

/**
 * Fits a linear classifier on all rows of a dense matrix (see the top-level `trainLinear`).
 * @param X row-major `n` × `d` (copied into shared memory once unless it already is)
 * @param labels class index of each row
 * @param classes class names (classes without rows are kept, never predicted)
 * @param pool runs linear-svm's classes (see {@link fitLinearPath})
 */
export async function fitLinearModel(
  X: Float32Array,
  n: number,
  d: number,
  labels: number[],
  classes: string[],
  o: ResolvedLinearOptions,
  { pool, onProgress, warn }: { pool: PathTaskRunner; onProgress?: FitProgress; warn?: (message: string) => void },
): Promise<LinearModel> {
  checkMatrix(X, n, d, 'training');
  checkLabels(labels, n, classes.length, 'training');
  const shared = sharedMatrix(X);
  const rows = allRows(n);
  const view = fitScaledView(shared, n, d, o.scale, rows);
  const [fit] = (await fitLinearPath(view, rows, labels, classes.length, [o.C], o, pool, onProgress)) as [LinearFit];
  if (!fit.converged) warn?.(notConvergedMessage(o));
  return {
    type: 'linear',
    classes: [...classes],
    options: o,
    scaling: scalingParamsOf(view),
    dim: d,
    weights: encodeFloat32(Float32Array.from(fit.W)),
    intercept: Array.from(fit.intercept),
    trainedOn: n,
    solver: { iterations: fit.iterations, converged: fit.converged },
  };
}

/** The warning of a fit that hit its iteration cap. */
function notConvergedMessage(o: ResolvedLinearOptions): string {
  const what = o.classifier === 'linear-svm' ? 'passes' : 'L-BFGS iterations';
  return `${o.classifier} (C=${o.C}, scale=${o.scale}) did not converge within ${o.maxIter} ${what} (tolerance ${o.tol}); raise the iteration cap (${optionName('maxIter')}), or scale the features (${optionName('scale', 'l2|standard')})`;
}

/** Rows scored per product in prediction (bounds memory: rows × d floats of a chunk view). */
const PREDICT_CHUNK_ROWS = 4096;

/**
 * Result of {@link predictLinear}: per row, per class, probabilities (logistic, softmax) or
 * one-vs-rest decision values (linear-svm).
 */
export type LinearPrediction = Prediction;

/**
 * The classifier of a stored linear model (hand-edited files included).
 * @throws CnnfeatError (exit 2) when `options.classifier` is missing or not a linear classifier
 */
export function linearClassifierOf(model: LinearModel): LinearClassifier {
  const classifier = model.options?.classifier;
  if (!LINEAR_CLASSIFIERS.includes(classifier)) throw new CnnfeatError('linear model: unknown "options.classifier" (corrupt model?)');
  return classifier;
}

/**
 * Checks a stored linear model.
 * @throws CnnfeatError (exit 2) naming what is wrong
 */
function checkLinearModel(model: LinearModel): Float32Array {
  if (!Array.isArray(model.classes) || model.classes.length < 2) throw new CnnfeatError('linear model: "classes" must list at least 2 classes');
  linearClassifierOf(model);
  if (!Number.isInteger(model.dim) || model.dim < 1) throw new CnnfeatError('linear model: invalid "dim" (corrupt model?)');
  if (!Array.isArray(model.intercept) || model.intercept.length !== model.classes.length) throw new CnnfeatError('linear model: "intercept" does not have one value per class (corrupt model?)');
  if (typeof model.weights !== 'string') throw new CnnfeatError('linear model: missing "weights"');
  return decodeFloat32(model.weights, model.classes.length * model.dim, 'linear model: weights');
}

/**
 * Predicts with a linear model (possibly after a JSON round-trip): per chunk of rows, one
 * product with the weights (the scaling folded into them), then argmax; logistic scores are
 * softmax probabilities, linear-svm scores the one-vs-rest decision values wᵀx + b (for two
 * classes one classifier: +f for the second class, −f for the first).
 * @throws CnnfeatError (exit 2) on a corrupt model or a dimension mismatch
 */
export async function predictLinear(model: LinearModel, X: Float32Array, n: number, d: number): Promise<LinearPrediction> {
  const W = checkLinearModel(model);
  checkMatrix(X, n, d, 'prediction');
  if (d !== model.dim) throw new CnnfeatError(`prediction: features have ${d} dimensions but the classifier was trained on ${model.dim}`);
  const K = model.classes.length;
  const probabilities = model.options.classifier === 'logistic';
  const out: LinearPrediction = { labels: [], scores: [], classScores: [], scoreKind: probabilities ? 'probability' : 'decision' };
  for (let start = 0; start < n; start += PREDICT_CHUNK_ROWS) {
    const rows = Math.min(PREDICT_CHUNK_ROWS, n - start);
    const view = viewFromParams(X.subarray(start * d, (start + rows) * d), rows, d, model.scaling);
    const Z = await linearScores(view, W, model.intercept, K);
    const labels = argmaxRows(Z, rows, K);
    for (let i = 0; i < rows; i++) {
      const z = Array.from(Z.subarray(i * K, (i + 1) * K));
      const perClass = probabilities ? softmax(z) : z;
      out.labels.push(labels[i]!);
      out.scores.push(perClass[labels[i]!]!);
      out.classScores.push(perClass);
    }
  }
  return out;
}

/** softmax of one row of scores. */
function softmax(z: number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** The settings in words, e.g. `logistic, C=1, scale=l2`. */
export function describeLinear(o: ResolvedLinearOptions): string {
  return `${o.classifier}, C=${o.C}, scale=${o.scale}${o.loss && o.loss !== DEFAULT_LOSS ? `, loss=${o.loss}` : ''}${o.classWeight === 'balanced' ? ', balanced class weights' : ''}`;
}
