/**
 * Multi-class SVM classifier on top of `libsvm-js` (libsvm 3.22 compiled to
 * WebAssembly): C-SVC, one-vs-one — the same algorithm as scikit-learn's SVC.
 *
 * Matrices are dense, row-major `Float32Array`s: row `i`, feature `j` is `X[i * d + j]`.
 * Models are plain JSON objects holding libsvm's own text serialisation.
 */
import { CnnfeatError } from '../errors.js';
import { loadLibsvm, loadLibsvmModel, type LibsvmClass, type LibsvmInstance } from './libsvm.js';
import { parseLibsvmModel, voteCounter } from './libsvm-model.js';
import { applyScaling, fitScaling, overallVariance, SCALINGS, type Scaling, type ScalingParams } from './scaling.js';

export type { Scaling, ScalingParams } from './scaling.js';

/** Kernel function of the SVM. */
export const KERNELS = ['linear', 'rbf'] as const;
export type Kernel = (typeof KERNELS)[number];

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
  gamma: number | 'scale' | 'auto';
  /** Feature scaling fitted on the training set and re-applied at prediction. */
  scale: Scaling;
  /** Also fit libsvm's Platt-scaling probability model (slower training: internal 5-fold CV). */
  probability?: boolean;
}

/** Options as stored in a trained model: gamma resolved to the number libsvm used. */
export interface ResolvedSvmOptions {
  kernel: Kernel;
  C: number;
  gamma: number;
  scale: Scaling;
  probability: boolean;
}

/** A trained SVM: a plain, JSON-serialisable object. */
export interface SvmModel {
  type: 'svm';
  /** Class names; libsvm labels are indices into this array. */
  classes: string[];
  options: ResolvedSvmOptions;
  scaling: ScalingParams;
  /** libsvm's `serializeModel()` text (the classic libsvm model file format). */
  libsvm: string;
  /** Number of training samples. */
  trainedOn: number;
  /** Feature dimension D (always written by {@link trainSvm}; used to validate prediction input). */
  dim?: number;
}

/** Result of {@link predictSvm}: one entry per sample. */
export interface SvmPrediction {
  /** Predicted class indices into `model.classes`. */
  labels: number[];
  /**
   * Confidence in [0, 1] of each predicted label: libsvm's (Platt) probability of the
   * predicted class when the model was trained with `probability`, otherwise the fraction
   * of the k-1 one-vs-one duels the predicted class won (always 1 for two classes).
   */
  scores: number[];
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/**
 * Checks the shape and values of a row-major matrix.
 * @throws CnnfeatError (exit 2) on a size mismatch or a non-finite value
 */
function checkMatrix(X: Float32Array, n: number, d: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 1) {
    throw new CnnfeatError(`${what}: invalid matrix shape ${n}x${d}`);
  }
  if (X.length !== n * d) {
    throw new CnnfeatError(`${what}: matrix has ${X.length} values, expected ${n} rows x ${d} features = ${n * d}`);
  }
  for (let i = 0; i < X.length; i++) {
    if (!Number.isFinite(X[i])) {
      const row = Math.floor(i / d);
      throw new CnnfeatError(`${what}: non-finite feature value (${X[i]}) in row ${row}, feature ${i - row * d}`);
    }
  }
}

/**
 * Checks training labels and returns how many distinct classes have samples.
 * @throws CnnfeatError (exit 2) on a count mismatch or an out-of-range label
 */
function checkLabels(labels: number[], n: number, classes: string[]): number {
  if (labels.length !== n) {
    throw new CnnfeatError(`SVM training: ${labels.length} labels for ${n} samples`);
  }
  const seen = new Set<number>();
  for (const label of labels) {
    if (!Number.isInteger(label) || label < 0 || label >= classes.length) {
      throw new CnnfeatError(`SVM training: label ${label} is not a class index in [0, ${classes.length - 1}]`);
    }
    seen.add(label);
  }
  return seen.size;
}

/**
 * Checks user options.
 * @throws CnnfeatError (exit 2) on an unknown kernel/scaling or a non-positive C/gamma
 */
function checkOptions(opts: SvmOptions): void {
  if (!KERNELS.includes(opts.kernel)) {
    throw new CnnfeatError(`SVM kernel must be linear or rbf, got "${String(opts.kernel)}"`);
  }
  if (!SCALINGS.includes(opts.scale)) {
    throw new CnnfeatError(`SVM scaling must be none, standard or l2, got "${String(opts.scale)}"`);
  }
  if (!(Number.isFinite(opts.C) && opts.C > 0)) {
    throw new CnnfeatError(`SVM C must be a positive number, got ${opts.C}`);
  }
  const g = opts.gamma;
  if (g !== 'scale' && g !== 'auto' && !(typeof g === 'number' && Number.isFinite(g) && g > 0)) {
    throw new CnnfeatError(`SVM gamma must be a positive number, "scale" or "auto", got ${String(g)}`);
  }
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
 * @param rowIndices which rows, in which order (default: all, in order)
 */
function rowViews(Xs: Float64Array, n: number, d: number, rowIndices?: number[]): Float64Array[] {
  const idx = rowIndices ?? Array.from({ length: n }, (_, i) => i);
  return idx.map((i) => Xs.subarray(i * d, (i + 1) * d));
}

/** libsvm-js constructor options for C-SVC (scikit-learn SVC defaults for tol, shrinking, cache). */
function libsvmParams(SVM: LibsvmClass, opts: ResolvedSvmOptions): Record<string, unknown> {
  return {
    type: SVM.SVM_TYPES.C_SVC,
    kernel: opts.kernel === 'linear' ? SVM.KERNEL_TYPES.LINEAR : SVM.KERNEL_TYPES.RBF,
    cost: opts.C,
    gamma: opts.gamma,
    tolerance: 1e-3,
    shrinking: true,
    cacheSize: 200,
    probabilityEstimates: opts.probability,
    quiet: true,
  };
}

/**
 * Runs libsvm training and returns its serialised model, freeing wasm memory afterwards.
 */
function fitLibsvm(SVM: LibsvmClass, opts: ResolvedSvmOptions, rows: Float64Array[], y: number[]): string {
  const svm = new SVM(libsvmParams(SVM, opts));
  try {
    svm.train(rows, y);
    return svm.serializeModel();
  } finally {
    svm.free();
  }
}

/**
 * Trains a multi-class C-SVC (one-vs-one) on a dense feature matrix.
 *
 * Fits the scaling on `X` (standard: per-feature mean/std with std 0 → 1; l2: per-row unit
 * norm), resolves gamma on the scaled matrix, then trains libsvm with the classes in
 * ascending index order (as scikit-learn's SVC).
 *
 * @param X row-major `n` x `d` feature matrix
 * @param n number of samples
 * @param d number of features
 * @param labels class index (0..classes.length-1) of each sample
 * @param classes class names; classes without samples are kept but can never be predicted
 * @param opts kernel, C, gamma, scaling, probability
 * @returns a JSON-serialisable model for {@link predictSvm}
 * @throws CnnfeatError (exit 2) on shape/label mismatches, non-finite values, bad options,
 *   or fewer than 2 classes with samples
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
  checkMatrix(X, n, d, 'SVM training');
  const present = checkLabels(labels, n, classes);
  if (present < 2) {
    throw new CnnfeatError(`SVM training needs samples of at least 2 classes, got ${present} (${n} samples)`);
  }
  const scaling = fitScaling(X, n, d, opts.scale);
  const Xs = applyScaling(scaling, X, n, d);
  const resolved: ResolvedSvmOptions = {
    kernel: opts.kernel,
    C: opts.C,
    gamma: resolveGamma(opts.gamma, Xs, d),
    scale: opts.scale,
    probability: opts.probability === true,
  };
  const order = orderByLabel(labels);
  const { SVM } = await loadLibsvm();
  const text = fitLibsvm(SVM, resolved, rowViews(Xs, n, d, order), order.map((i) => labels[i]));
  return { type: 'svm', classes: [...classes], options: resolved, scaling, libsvm: text, trainedOn: n, dim: d };
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

/** Labels and Platt probabilities of the predicted class (libsvm's `svm-predict -b 1`). */
function predictWithProbability(svm: LibsvmInstance, rows: Float64Array[], nClasses: number): SvmPrediction {
  const labels: number[] = [];
  const scores: number[] = [];
  for (const row of rows) {
    const { prediction, estimates } = svm.predictOneProbability(row);
    labels.push(toClassIndex(prediction, nClasses));
    scores.push(estimates.find((e) => e.label === prediction)?.probability ?? 0);
  }
  return { labels, scores };
}

/** Labels from libsvm's predict and the fraction of one-vs-one duels the predicted class won. */
function predictWithVotes(svm: LibsvmInstance, model: SvmModel, rows: Float64Array[], d: number): SvmPrediction {
  const parsed = parseLibsvmModel(model.libsvm, d);
  const countVotes = voteCounter(parsed, d);
  const k = parsed.labels.length;
  const labels: number[] = [];
  const scores: number[] = [];
  for (const row of rows) {
    const label = toClassIndex(svm.predictOne(row), model.classes.length);
    const votes = countVotes(row);
    labels.push(label);
    scores.push(k > 1 ? votes[parsed.labels.indexOf(label)] / (k - 1) : 1);
  }
  return { labels, scores };
}

/**
 * Predicts classes for a dense feature matrix with a model from {@link trainSvm}
 * (possibly after a JSON round-trip). The stored scaling is re-applied and the libsvm
 * model text is loaded with `SVM.load` (or, for texts too long for libsvm-js's stack-based
 * string passing, with the same `deserialize_model` call on a heap copy).
 *
 * Scores: with a `probability` model, labels are libsvm's probability predictions
 * (the class of highest Platt probability, as `svm-predict -b 1`) and the score is that
 * probability; otherwise labels are libsvm's one-vs-one vote winners (as scikit-learn's
 * `SVC.predict`) and the score is the fraction of the k-1 duels the winner won
 * (always 1 with two classes).
 *
 * @param model a trained model
 * @param X row-major `n` x `d` feature matrix
 * @param n number of samples
 * @param d number of features; must match the training dimension
 * @returns class indices into `model.classes` and scores in [0, 1]
 * @throws CnnfeatError (exit 2) on an invalid model, a dimension mismatch or non-finite values
 */
export async function predictSvm(model: SvmModel, X: Float32Array, n: number, d: number): Promise<SvmPrediction> {
  checkModel(model);
  checkMatrix(X, n, d, 'SVM prediction');
  const expected = modelDim(model);
  if (d !== expected) {
    throw new CnnfeatError(`SVM prediction: features have ${d} dimensions but the model was trained on ${expected}`);
  }
  if (n === 0) return { labels: [], scores: [] };
  const rows = rowViews(applyScaling(model.scaling, X, n, d), n, d);
  const svm = loadLibsvmModel(await loadLibsvm(), model.libsvm);
  try {
    return model.options.probability
      ? predictWithProbability(svm, rows, model.classes.length)
      : predictWithVotes(svm, model, rows, d);
  } finally {
    svm.free();
  }
}
