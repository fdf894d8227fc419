/**
 * Multi-class SVM classifier on top of `libsvm-js` (libsvm 3.22 compiled to
 * WebAssembly): C-SVC, one-vs-one — the same algorithm as scikit-learn's SVC.
 *
 * Matrices are dense, row-major `Float32Array`s: row `i`, feature `j` is `X[i * d + j]`.
 * Models are plain JSON objects holding libsvm's own text serialisation.
 */
import { CnnfeatError, optionName } from '../../errors.js';
import { CLASS_WEIGHTS, classWeightsFor, DEFAULT_CLASS_WEIGHT, type ClassWeight } from '../common/class-weights.js';
import { checkChoice, checkLabels, checkMatrix, checkPositive } from '../common/checks.js';
import type { Prediction } from '../common/scores.js';
import { decodeFloat32, encodeFloat32 } from '../linalg/float32.js';
import { gatherRows } from '../linalg/matrix.js';
import { applyScaling, fitScaling, overallVariance, SCALINGS, type Scaling, type ScalingParams } from '../linalg/scaling.js';
import { kernelMatrix, KERNELS, type Kernel } from './kernel-matrix.js';
import { loadLibsvm, loadLibsvmModel, type Libsvm, type LibsvmClass, type LibsvmInstance } from './libsvm.js';
import { decisionsFromKernelRow, parseLibsvmModel, type ParsedLibsvmModel } from './libsvm-model.js';
import { binaryScores, ovrScores } from './ovo-scores.js';
import { compactPrecomputedModel, forEachKernelRow, PrecomputedProblem, toPrecomputedModelText, weightOptions, type FitParams } from './precomputed.js';

/** The rules for gamma besides a number: 1 / (D · X.var()) or 1 / D (see {@link SvmOptions}). */
export const GAMMA_RULES = ['scale', 'auto'] as const;

/**
 * A gamma as written (`--gamma`, the `grid` option's gamma values): one of {@link GAMMA_RULES},
 * else the finite number it reads as; undefined when it is neither (whether it is > 0 is the
 * checks' part).
 */
export function parseGamma(text: string): SvmOptions['gamma'] | undefined {
  const rule = GAMMA_RULES.find((r) => r === text);
  if (rule) return rule;
  const g = text.trim() === '' ? NaN : Number(text);
  return Number.isFinite(g) ? g : undefined;
}

/** Training options, as given by the user. */
export interface SvmOptions {
  kernel: Kernel;
  /** Soft-margin cost, > 0. */
  C: number;
  /**
   * RBF kernel width. `'scale'` = 1 / (D * X.var()) on the scaled training matrix
   * (scikit-learn's default; 1 if the variance is 0), `'auto'` = 1 / D.
   * Resolved but unused for the linear kernel.
   */
  gamma: number | (typeof GAMMA_RULES)[number];
  /** Feature scaling fitted on the training set and re-applied at prediction. */
  scale: Scaling;
  /** Also fit libsvm's Platt-scaling probability model (slower training: internal 5-fold CV). */
  probability?: boolean;
  /**
   * `balanced`: weight each class's C by n_samples / (n_classes · n_c) (scikit-learn's
   * `class_weight='balanced'`), for skewed classes. Default `none`.
   */
  classWeight?: ClassWeight;
}

/** Options as stored in a trained model: gamma resolved to the number libsvm used. */
export interface ResolvedSvmOptions {
  kernel: Kernel;
  C: number;
  gamma: number;
  scale: Scaling;
  probability: boolean;
  /** Absent in models written before class weights existed (= none). */
  classWeight?: ClassWeight;
}

/** A trained SVM: a plain, JSON-serialisable object. */
export interface SvmModel {
  type: 'svm';
  /** Class names; libsvm labels are indices into this array. */
  classes: string[];
  options: ResolvedSvmOptions;
  scaling: ScalingParams;
  /**
   * libsvm's `serializeModel()` text (the classic libsvm model file format). With
   * `supportVectors`, a precomputed-kernel model whose SV lines end in `0:s`, s indexing
   * those vectors (1-based); otherwise an ordinary linear/RBF model with the vectors inline.
   */
  libsvm: string;
  /** Support vectors as base64 little-endian float32, `total_sv` × `dim`, in SV-line order. */
  supportVectors?: string;
  /** Number of training samples. */
  trainedOn: number;
  /** Feature dimension D (always written by {@link trainSvm}; used to validate prediction input). */
  dim?: number;
}

/**
 * Result of {@link predictSvm}: per row, per class, libsvm's Platt probabilities with a
 * `probability` model, otherwise decision scores (see ovo-scores.ts); classes without training
 * samples score 0 (probability) or -1 (below any reachable decision score).
 */
export type SvmPrediction = Prediction;

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/**
 * Checks user options.
 * @throws CnnfeatError (exit 2) on an unknown kernel/scaling or a non-positive C/gamma
 */
function checkOptions(opts: SvmOptions): void {
  checkChoice('kernel', opts.kernel, KERNELS);
  checkChoice('scale', opts.scale, SCALINGS);
  checkPositive('C', opts.C);
  if (opts.classWeight !== undefined) checkChoice('classWeight', opts.classWeight, CLASS_WEIGHTS);
  checkPositive('gamma', opts.gamma, GAMMA_RULES);
}

/**
 * Checks that a (possibly hand-edited or foreign) object is a usable SVM model.
 * @throws CnnfeatError (exit 2) describing the first problem found
 */
function checkModel(model: SvmModel): void {
  if (model === null || typeof model !== 'object' || model.type !== 'svm') {
    throw new CnnfeatError('not an SVM model (expected "type": "svm")');
  }
  if (!Array.isArray(model.classes) || model.classes.length < 2) {
    throw new CnnfeatError('SVM model: "classes" must list at least 2 classes');
  }
  if (typeof model.libsvm !== 'string' || !model.libsvm.startsWith('svm_type c_svc')) {
    throw new CnnfeatError('SVM model: "libsvm" does not hold a libsvm C-SVC model');
  }
  if (!model.scaling || !SCALINGS.includes(model.scaling.kind)) {
    throw new CnnfeatError('SVM model: invalid "scaling"');
  }
  if (!model.options || typeof model.options !== 'object') {
    throw new CnnfeatError('SVM model: missing "options"');
  }
}

/**
 * Feature dimension a model expects: `dim`, else the standard-scaling vector length,
 * else the highest feature index of the first support vector.
 */
function modelDim(model: SvmModel): number {
  if (typeof model.dim === 'number') return model.dim;
  if (model.scaling.mean) return model.scaling.mean.length;
  const firstSv = model.libsvm.split('\nSV\n')[1]?.split('\n')[0] ?? '';
  const lastPair = firstSv.trim().split(/\s+/).pop() ?? '';
  return Number.parseInt(lastPair.split(':')[0] ?? '', 10);
}

// ---------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------

/** The SVM settings in words, e.g. `rbf, C=10, gamma=0.000488, scale=none`. */
export function describeSvm(o: ResolvedSvmOptions): string {
  return `${o.kernel}, C=${o.C}${o.kernel === 'rbf' ? `, gamma=${o.gamma}` : ''}, scale=${o.scale}${o.classWeight === 'balanced' ? ', balanced class weights' : ''}`;
}

/**
 * Resolves gamma to the number libsvm will use, rounded to the 6 significant digits that
 * libsvm writes (`%g`) in its model file, so that training and a reloaded model agree exactly.
 * @param gamma the user's gamma
 * @param Xs the scaled training matrix (for `'scale'`)
 * @param d the feature dimension
 */
export function resolveGamma(gamma: SvmOptions['gamma'], Xs: ArrayLike<number>, d: number): number {
  let g: number;
  if (gamma === 'auto') g = 1 / d;
  else if (gamma === 'scale') {
    const variance = overallVariance(Xs);
    g = variance > 0 ? 1 / (d * variance) : 1;
  } else g = gamma;
  return Number(g.toPrecision(6));
}

/**
 * Sample indices stably sorted by label, so that libsvm (which orders classes by first
 * appearance) sees classes in ascending index order, as scikit-learn's bundled libsvm
 * does; one-vs-one vote ties then break towards the lower class index, like SVC.
 */
function orderByLabel(labels: number[]): number[] {
  return labels.map((_, i) => i).sort((a, b) => labels[a] - labels[b] || a - b);
}

/**
 * Zero-copy row views of a row-major float64 matrix (libsvm-js accepts any array-like rows).
 */
function rowViews(Xs: Float64Array, n: number, d: number): Float64Array[] {
  return Array.from({ length: n }, (_, i) => Xs.subarray(i * d, (i + 1) * d));
}

/** libsvm fit parameters of resolved options on the given training labels. */
function fitParamsFor(opts: ResolvedSvmOptions, labels: number[], nClasses: number): FitParams {
  return { C: opts.C, probability: opts.probability, weights: classWeightsFor(opts.classWeight, labels, nClasses) };
}

/**
 * Largest training set of svc: libsvm-js holds the precomputed kernel matrix as n × (n+1)
 * 16-byte nodes in wasm memory (400 MB at 5,000 rows); its own kernel evaluation on larger sets
 * runs for minutes and grows until node crashes, so larger sets are refused.
 */
export const PRECOMPUTED_MAX_ROWS = 5000;

/**
 * Fails unless svc can train on `rows` rows (see {@link PRECOMPUTED_MAX_ROWS}).
 * @param what how the rows are described in the message
 * @throws CnnfeatError (exit 2) naming the linear classifiers
 */
export function assertSvcFits(rows: number, what = 'training sets of'): void {
  if (rows > PRECOMPUTED_MAX_ROWS) {
    throw new CnnfeatError(
      `classifier svc: ${what} ${rows} rows exceed the ${PRECOMPUTED_MAX_ROWS} that its n×n kernel matrix allows; use ${optionName('classifier', 'linear-svm')} (or logistic, or auto)`,
    );
  }
}

/**
 * Whether training through a kernel matrix pays: it needs n² memory and copying, and saves a
 * factor of about d on every kernel evaluation, so it wins for CNN features (d in the
 * thousands) but not for a few thousand rows of a handful of features.
 */
function precomputedPays(n: number, d: number): boolean {
  return n <= PRECOMPUTED_MAX_ROWS && n <= 64 * d;
}

/** Trains libsvm with its own kernel evaluation (very large or low-dimensional training sets). */
function fitNative(SVM: LibsvmClass, opts: ResolvedSvmOptions, params: FitParams, rows: Float64Array[], y: number[]): string {
  weightOptions(params.weights); // the same option-buffer limit applies to libsvm-js's own options
  const svm = new SVM({
    type: SVM.SVM_TYPES.C_SVC,
    kernel: opts.kernel === 'linear' ? SVM.KERNEL_TYPES.LINEAR : SVM.KERNEL_TYPES.RBF,
    cost: params.C,
    gamma: opts.gamma,
    cacheSize: 200,
    probabilityEstimates: params.probability,
    quiet: true,
    weight: params.weights ? Object.fromEntries(params.weights.map((w, label) => [label, Number(w.toPrecision(6))])) : undefined,
  });
  try {
    svm.train(rows, y);
    return svm.serializeModel();
  } finally {
    svm.free();
  }
}

/**
 * Trains through a kernel matrix computed by onnxruntime (see kernel-matrix.ts, linalg/gemm.ts) and libsvm's
 * precomputed mode; returns the model text and its support vectors.
 */
async function fitViaKernelMatrix(lib: Libsvm, opts: ResolvedSvmOptions, params: FitParams, Xo: Float64Array, n: number, d: number, y: number[]) {
  const problem = new PrecomputedProblem(lib, await kernelMatrix(opts.kernel, opts.gamma, Xo, n, Xo, n, d), n, y);
  try {
    const svm = problem.train(params);
    try {
      const { text, supportVectors } = compactPrecomputedModel(svm.serializeModel(), Xo, d);
      return { text, supportVectors: encodeFloat32(supportVectors) };
    } finally {
      svm.free();
    }
  } finally {
    problem.free();
  }
}

/**
 * Trains a multi-class C-SVC (one-vs-one) on a dense feature matrix.
 *
 * Fits the scaling on `X` (standard: per-feature mean/std with std 0 → 1; l2: per-row unit
 * norm), resolves gamma on the scaled matrix, then trains libsvm with the classes in
 * ascending index order (as scikit-learn's SVC). Unless the features are very few, libsvm
 * solves on a precomputed kernel matrix (same problem, far fewer operations) and the model keeps
 * its support vectors beside the text; otherwise libsvm evaluates the kernel itself and the
 * model text holds them. At most {@link PRECOMPUTED_MAX_ROWS} samples.
 *
 * @param X row-major `n` x `d` feature matrix
 * @param n number of samples
 * @param d number of features
 * @param labels class index (0..classes.length-1) of each sample
 * @param classes class names; classes without samples are kept but can never be predicted
 * @param opts kernel, C, gamma, scaling, probability, class weights
 * @returns a JSON-serialisable model for {@link predictSvm}
 * @throws CnnfeatError (exit 2) on shape/label mismatches, non-finite values, bad options,
 *   fewer than 2 classes with samples, or more samples than svc takes
 */
export async function trainSvm(
  X: Float32Array,
  n: number,
  d: number,
  labels: number[],
  classes: string[],
  opts: SvmOptions,
): Promise<SvmModel> {
  checkOptions(opts);
  assertSvcFits(n);
  checkMatrix(X, n, d, 'SVM training');
  checkLabels(labels, n, classes.length, 'SVM training');
  const scaling = fitScaling(X, n, d, opts.scale);
  const Xs = applyScaling(scaling, X, n, d);
  const resolved: ResolvedSvmOptions = {
    kernel: opts.kernel,
    C: opts.C,
    gamma: resolveGamma(opts.gamma, Xs, d),
    scale: opts.scale,
    probability: opts.probability === true,
    classWeight: opts.classWeight ?? DEFAULT_CLASS_WEIGHT,
  };
  const order = orderByLabel(labels);
  const y = order.map((i) => labels[i]);
  const Xo = gatherRows(Xs, d, order);
  const params = fitParamsFor(resolved, labels, classes.length);
  const lib = await loadLibsvm();
  const base = { type: 'svm' as const, classes: [...classes], options: resolved, scaling, trainedOn: n, dim: d };
  if (!precomputedPays(n, d)) return { ...base, libsvm: fitNative(lib.SVM, resolved, params, rowViews(Xo, n, d), y) };
  const { text, supportVectors } = await fitViaKernelMatrix(lib, resolved, params, Xo, n, d, y);
  return { ...base, libsvm: text, supportVectors };
}

// ---------------------------------------------------------------------------
// Prediction
// ---------------------------------------------------------------------------

/**
 * Maps a libsvm label (trained as a class index) back to a class index.
 * @throws CnnfeatError if the model predicts something that is not a class index
 */
function toClassIndex(label: number, nClasses: number): number {
  if (!Number.isInteger(label) || label < 0 || label >= nClasses) {
    throw new CnnfeatError(`SVM model predicted label ${label}, which is not a class index (corrupt model?)`);
  }
  return label;
}

/** A chunk's predictions with its per-class scores (see {@link SvmPrediction}). */
type ScoredChunk = Omit<SvmPrediction, 'scoreKind'>;

/** Labels and per-class Platt probabilities (libsvm's `svm-predict -b 1`). */
function predictWithProbability(svm: LibsvmInstance, Kq: Float64Array, n: number, m: number, nClasses: number): ScoredChunk {
  const out: ScoredChunk = { labels: [], scores: [], classScores: [] };
  forEachKernelRow(Kq, n, m, (row) => {
    const { prediction, estimates } = svm.predictOneProbability(row);
    const label = toClassIndex(prediction, nClasses);
    const perClass = new Array<number>(nClasses).fill(0);
    for (const e of estimates) perClass[toClassIndex(e.label, nClasses)] = e.probability;
    out.labels.push(label);
    out.scores.push(perClass[label]);
    out.classScores.push(perClass);
  });
  return out;
}

/** Score of classes the model has no samples of: below every reachable decision score. */
const ABSENT_CLASS_SCORE = -1;

/**
 * Labels from libsvm's predict and per-class decision scores from the pairwise decision values:
 * the one decision value of two classes, otherwise the one-vs-rest aggregate (also for two
 * classes beside classes absent from the model, as it is bounded below and they can rank last).
 */
function predictWithDecisions(svm: LibsvmInstance, parsed: ParsedLibsvmModel, Kq: Float64Array, n: number, nClasses: number): ScoredChunk {
  const k = parsed.labels.length;
  const classOf = parsed.labels.map((l) => toClassIndex(l, nClasses));
  const out: ScoredChunk = { labels: [], scores: [], classScores: [] };
  forEachKernelRow(Kq, n, parsed.totalSv, (row, kv) => {
    const label = toClassIndex(svm.predictOne(row), nClasses);
    const dec = decisionsFromKernelRow(parsed, kv);
    const internal = k === 2 && nClasses === 2 ? binaryScores(dec[0]!) : ovrScores(dec, k, classOf.indexOf(label));
    const perClass = new Array<number>(nClasses).fill(ABSENT_CLASS_SCORE);
    internal.forEach((s, c) => (perClass[classOf[c]!] = s));
    out.labels.push(label);
    out.scores.push(perClass[label]!);
    out.classScores.push(perClass);
  });
  return out;
}

/**
 * A stored model as a precomputed-kernel libsvm text plus its parsed coefficients and support
 * vectors (decoded from `supportVectors`, or read from an ordinary model's SV lines).
 */
function precomputedForm(model: SvmModel, d: number): { parsed: ParsedLibsvmModel; precomputedText: string } {
  if (model.supportVectors === undefined) {
    const parsed = parseLibsvmModel(model.libsvm, d);
    return { parsed, precomputedText: toPrecomputedModelText(model.libsvm, parsed.labels.length - 1) };
  }
  if (!model.libsvm.includes('\nkernel_type precomputed\n')) {
    throw new CnnfeatError('SVM model: "supportVectors" given but the libsvm text is not a precomputed-kernel model (corrupt model?)');
  }
  const parsed = parseLibsvmModel(model.libsvm, 0);
  parsed.sv = Float64Array.from(decodeFloat32(model.supportVectors, parsed.totalSv * d));
  parsed.kernel = model.options.kernel;
  parsed.gamma = model.options.gamma;
  return { parsed, precomputedText: model.libsvm };
}

/**
 * Checks a model and its input, re-applies the stored scaling and calls `fn` for each chunk of
 * rows with the kernel values between its samples and the support vectors (one matrix product).
 */
async function forEachKernelChunk(
  model: SvmModel,
  X: Float32Array,
  n: number,
  d: number,
  fn: (svm: LibsvmInstance, parsed: ParsedLibsvmModel, Kq: Float64Array, rows: number) => void,
): Promise<void> {
  checkModel(model);
  checkMatrix(X, n, d, 'SVM prediction');
  const expected = modelDim(model);
  if (d !== expected) {
    throw new CnnfeatError(`SVM prediction: features have ${d} dimensions but the model was trained on ${expected}`);
  }
  if (n === 0) return;
  const Xs = applyScaling(model.scaling, X, n, d);
  const { parsed, precomputedText } = precomputedForm(model, d);
  const svm = loadLibsvmModel(await loadLibsvm(), precomputedText);
  try {
    for (let start = 0; start < n; start += PREDICT_CHUNK_ROWS) {
      const rows = Math.min(PREDICT_CHUNK_ROWS, n - start);
      const chunk = Xs.subarray(start * d, (start + rows) * d);
      fn(svm, parsed, await kernelMatrix(parsed.kernel, parsed.gamma, chunk, rows, parsed.sv, parsed.totalSv, d), rows);
    }
  } finally {
    svm.free();
  }
}

/**
 * Predicts classes for a dense feature matrix with a model from {@link trainSvm}
 * (possibly after a JSON round-trip). The stored scaling is re-applied, the kernel values
 * between the samples and the support vectors are computed as one matrix product, and
 * libsvm predicts from them in precomputed-kernel mode (same decisions as its own kernel).
 *
 * With a `probability` model, labels are libsvm's probability predictions (the class of
 * highest Platt probability, as `svm-predict -b 1`) and the scores those probabilities;
 * otherwise labels are libsvm's one-vs-one vote winners (as scikit-learn's `SVC.predict`) and
 * the scores decision values (as scikit-learn's `SVC.decision_function`: the pair's decision
 * value for two classes, votes plus a bounded sum of margins for more), the predicted class
 * always the highest.
 *
 * @param model a trained model
 * @param X row-major `n` x `d` feature matrix
 * @param n number of samples
 * @param d number of features; must match the training dimension
 * @returns class indices into `model.classes`, each class's score and which kind they are
 * @throws CnnfeatError (exit 2) on an invalid model, a dimension mismatch or non-finite values
 */
export async function predictSvm(model: SvmModel, X: Float32Array, n: number, d: number): Promise<SvmPrediction> {
  const probability = model?.options?.probability === true;
  const out: SvmPrediction = { labels: [], scores: [], classScores: [], scoreKind: probability ? 'probability' : 'decision' };
  await forEachKernelChunk(model, X, n, d, (svm, parsed, Kq, rows) => {
    const part = probability
      ? predictWithProbability(svm, Kq, rows, parsed.totalSv, model.classes.length)
      : predictWithDecisions(svm, parsed, Kq, rows, model.classes.length);
    out.labels.push(...part.labels);
    out.scores.push(...part.scores);
    out.classScores.push(...part.classScores);
  });
  return out;
}

/**
 * The one-vs-one decision values of each sample (libsvm's `svm_predict_values`, which
 * libsvm-js does not expose), whether or not the model has probabilities.
 * @returns per sample, k(k-1)/2 values for the pairs (i, j), i < j, of the classes the model
 *   has samples of in ascending class order; > 0 means the pair votes i
 * @throws CnnfeatError (exit 2) as {@link predictSvm}
 */
export async function svcDecisionValues(model: SvmModel, X: Float32Array, n: number, d: number): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  await forEachKernelChunk(model, X, n, d, (_svm, parsed, Kq, rows) => {
    forEachKernelRow(Kq, rows, parsed.totalSv, (_row, kv) => out.push(decisionsFromKernelRow(parsed, kv)));
  });
  return out;
}

/** Samples whose kernel rows are computed at once in prediction (bounds memory: rows × total_sv doubles). */
const PREDICT_CHUNK_ROWS = 1024;
