/**
 * Multi-class SVM classifier on top of `libsvm-js` (libsvm 3.22 compiled to
 * WebAssembly): C-SVC, one-vs-one — the same algorithm as scikit-learn's SVC.
 *
 * Matrices are dense, row-major `Float32Array`s: row `i`, feature `j` is `X[i * d + j]`.
 * Models are plain JSON objects holding libsvm's own text serialisation.
 */
import { createRequire } from 'node:module';
import { CnnfeatError, errorMessage } from '../errors.js';
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
// libsvm-js loading
// ---------------------------------------------------------------------------

/** The subset of a libsvm-js SVM instance used here. Samples may be any array-like of numbers. */
interface LibsvmInstance {
  train(samples: ArrayLike<number>[], labels: number[]): void;
  predictOne(sample: ArrayLike<number>): number;
  predictOneProbability(sample: ArrayLike<number>): {
    prediction: number;
    estimates: { label: number; probability: number }[];
  };
  serializeModel(): string;
  free(): void;
  /** Pointer to the svm_model in wasm memory (what `SVM.load` sets). */
  model: number | null;
  _deserialized?: boolean;
}

/** The libsvm-js SVM class (resolved value of `require('libsvm-js/wasm')`). */
interface LibsvmClass {
  new (options?: Record<string, unknown>): LibsvmInstance;
  load(serialized: string): LibsvmInstance;
  SVM_TYPES: { C_SVC: string };
  KERNEL_TYPES: { LINEAR: string; RBF: string };
}

/** The emscripten module behind libsvm-js (`libsvm-js/out/wasm/libsvm.js`), as far as used here. */
interface LibsvmRuntime {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _deserialize_model(textPtr: number): number;
  /** Current view of wasm memory; replaced when memory grows, so re-read after `_malloc`. */
  HEAPU8: Uint8Array;
  /** Where libsvm's stdout / stderr lines go (looked up on every write). */
  print: (text: string) => void;
  printErr: (text: string) => void;
}

/** A loaded libsvm: the SVM class and its emscripten runtime. */
interface Libsvm {
  SVM: LibsvmClass;
  runtime: LibsvmRuntime;
}

const requireCjs = createRequire(import.meta.url);
let libsvmPromise: Promise<Libsvm> | undefined;

/** The last few lines libsvm wrote to stderr, reported in errors instead of printed. */
const libsvmMessages: string[] = [];

/**
 * Routes libsvm's console output away from the terminal: stdout lines (training
 * progress, already off with `-q`) are dropped, stderr lines (e.g. "unknown text in
 * model file") are kept for error messages.
 */
function captureLibsvmOutput(runtime: LibsvmRuntime): void {
  runtime.print = () => {};
  runtime.printErr = (text: string) => {
    libsvmMessages.push(String(text));
    if (libsvmMessages.length > 5) libsvmMessages.shift();
  };
}

/** Returns and clears the captured libsvm stderr lines, joined for an error message. */
function takeLibsvmMessages(): string {
  const text = libsvmMessages.join('; ');
  libsvmMessages.length = 0;
  return text;
}

/**
 * Loads libsvm's WebAssembly module once per process (cached promise).
 * @returns the libsvm-js SVM class and its emscripten runtime
 */
function loadLibsvm(): Promise<Libsvm> {
  libsvmPromise ??= requireLibsvmQuietly().catch((err: unknown) => {
    libsvmPromise = undefined;
    throw err;
  });
  return libsvmPromise;
}

/**
 * `require('libsvm-js/wasm')` without its side effects on Node:
 * - its emscripten loader sees Node 20's global `fetch` and tries
 *   `WebAssembly.instantiateStreaming(fetch('/abs/path/libsvm.wasm'))`, which fails
 *   ("Failed to parse URL") and prints "wasm streaming compile failed" / "falling back to
 *   ArrayBuffer instantiation" to stderr. That check runs synchronously inside `require`, so
 *   `fetch` is hidden for the duration of the call only; emscripten then reads the file
 *   with `fs` directly.
 * - it installs a process-wide `unhandledRejection` listener that silently calls
 *   `process.exit(1)`, which would swallow every later error; that listener is removed.
 * @returns a promise of the loaded libsvm, resolved once the wasm is instantiated
 */
function requireLibsvmQuietly(): Promise<Libsvm> {
  const listenersBefore = new Set(process.listeners('unhandledRejection'));
  const fetchDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  let ready: Promise<LibsvmClass>;
  try {
    if (fetchDescriptor?.configurable) {
      Object.defineProperty(globalThis, 'fetch', { value: undefined, configurable: true, writable: true });
    }
    ready = requireCjs('libsvm-js/wasm') as Promise<LibsvmClass>;
  } finally {
    if (fetchDescriptor?.configurable) Object.defineProperty(globalThis, 'fetch', fetchDescriptor);
    for (const listener of process.listeners('unhandledRejection')) {
      if (!listenersBefore.has(listener)) process.removeListener('unhandledRejection', listener);
    }
  }
  // Same module instance as the one wasm.js required (Node's require cache).
  const runtime = requireCjs('libsvm-js/out/wasm/libsvm.js') as LibsvmRuntime;
  captureLibsvmOutput(runtime);
  return Promise.resolve(ready).then((SVM) => ({ SVM, runtime }));
}

/**
 * Largest model text handed to `SVM.load` as is. libsvm-js passes the string through
 * emscripten's `ccall`, which copies it onto the 5 MiB wasm stack (4 bytes per character
 * reserved), so longer texts overflow it ("memory access out of bounds").
 */
const SVM_LOAD_MAX_CHARS = 256 * 1024;

/**
 * Does what `SVM.load` does (`deserialize_model` on the text), with the text copied to
 * the wasm heap instead of the stack, so that models of any size load.
 * @param lib the loaded libsvm
 * @param text libsvm model text
 */
function loadViaHeap(lib: Libsvm, text: string): LibsvmInstance {
  const bytes = new TextEncoder().encode(text);
  const ptr = lib.runtime._malloc(bytes.length + 1);
  if (ptr === 0) throw new CnnfeatError(`SVM model too large to load (${bytes.length} bytes)`);
  const svm = new lib.SVM();
  try {
    const heap = lib.runtime.HEAPU8;
    heap.set(bytes, ptr);
    heap[ptr + bytes.length] = 0;
    svm.model = lib.runtime._deserialize_model(ptr);
  } finally {
    lib.runtime._free(ptr);
  }
  svm._deserialized = true;
  return svm;
}

/**
 * Loads a libsvm text model with `SVM.load` when it fits the wasm stack, otherwise with
 * {@link loadViaHeap}.
 * @param lib the loaded libsvm
 * @param text libsvm model text
 * @returns an SVM instance to predict with; call `free()` when done
 * @throws CnnfeatError (exit 2) if libsvm cannot load the text
 */
function loadLibsvmModel(lib: Libsvm, text: string): LibsvmInstance {
  takeLibsvmMessages();
  let svm: LibsvmInstance;
  try {
    svm = text.length <= SVM_LOAD_MAX_CHARS ? lib.SVM.load(text) : loadViaHeap(lib, text);
  } catch (err) {
    if (err instanceof CnnfeatError) throw err;
    throw new CnnfeatError(`SVM model: libsvm could not load the model (${errorMessage(err)})`);
  }
  if (!svm.model) {
    const detail = takeLibsvmMessages();
    throw new CnnfeatError(`SVM model: libsvm could not parse the model text${detail ? ` (${detail})` : ''}`);
  }
  return svm;
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
// libsvm model parsing (for one-vs-one vote scores; libsvm-js exposes no decision values)
// ---------------------------------------------------------------------------

/** The parts of a libsvm text model needed to recompute one-vs-one decision values. */
interface ParsedLibsvmModel {
  kernel: Kernel;
  gamma: number;
  /** libsvm label of each of the k internal classes, in libsvm's order. */
  labels: number[];
  /** Number of support vectors of each internal class. */
  nrSv: number[];
  /** Bias of each of the k(k-1)/2 pairwise classifiers, in libsvm's (i<j) order. */
  rho: number[];
  /** k-1 rows of `totalSv` dual coefficients (libsvm's sv_coef). */
  coef: Float64Array[];
  /** Support vectors, row-major `totalSv` x `d`. */
  sv: Float64Array;
  totalSv: number;
}

/** Splits a libsvm model text into its header map and its SV lines. */
function splitLibsvmText(text: string): { header: Map<string, string[]>; svLines: string[] } {
  const lines = text.split('\n');
  const svAt = lines.indexOf('SV');
  if (svAt < 0) throw new CnnfeatError('SVM model: libsvm text has no SV section');
  const header = new Map<string, string[]>();
  for (const line of lines.slice(0, svAt)) {
    const [key, ...values] = line.trim().split(/\s+/);
    if (key) header.set(key, values);
  }
  return { header, svLines: lines.slice(svAt + 1).filter((l) => l.trim() !== '') };
}

/** Numeric header values, or a clear error when missing. */
function headerNumbers(header: Map<string, string[]>, key: string): number[] {
  const values = header.get(key);
  if (!values) throw new CnnfeatError(`SVM model: libsvm text lacks "${key}"`);
  return values.map(Number);
}

/** Fills one SV line (`coef_1 .. coef_{k-1} idx:val ...`, 1-based sparse indices) into the parsed model. */
function parseSvLine(line: string, s: number, model: ParsedLibsvmModel, d: number): void {
  const tokens = line.trim().split(/\s+/);
  const k1 = model.coef.length;
  for (let c = 0; c < k1; c++) model.coef[c][s] = Number(tokens[c]);
  const base = s * d;
  for (let t = k1; t < tokens.length; t++) {
    const colon = tokens[t].indexOf(':');
    const index = Number(tokens[t].slice(0, colon)) - 1;
    if (index >= 0 && index < d) model.sv[base + index] = Number(tokens[t].slice(colon + 1));
  }
}

/**
 * Parses libsvm's text model (the format written by `svm_save_model` / `serializeModel`).
 * @param text the model text
 * @param d the feature dimension
 */
function parseLibsvmModel(text: string, d: number): ParsedLibsvmModel {
  const { header, svLines } = splitLibsvmText(text);
  const k = headerNumbers(header, 'nr_class')[0];
  const totalSv = headerNumbers(header, 'total_sv')[0];
  if (svLines.length !== totalSv) {
    throw new CnnfeatError(`SVM model: libsvm text has ${svLines.length} support vectors, header says ${totalSv}`);
  }
  const model: ParsedLibsvmModel = {
    kernel: header.get('kernel_type')?.[0] === 'linear' ? 'linear' : 'rbf',
    gamma: header.has('gamma') ? headerNumbers(header, 'gamma')[0] : 0,
    labels: headerNumbers(header, 'label'),
    nrSv: headerNumbers(header, 'nr_sv'),
    rho: headerNumbers(header, 'rho'),
    coef: Array.from({ length: k - 1 }, () => new Float64Array(totalSv)),
    sv: new Float64Array(totalSv * d),
    totalSv,
  };
  svLines.forEach((line, s) => parseSvLine(line, s, model, d));
  return model;
}

// ---------------------------------------------------------------------------
// One-vs-one votes (mirrors libsvm's svm_predict_values)
// ---------------------------------------------------------------------------

/** Start offset of each internal class's support vectors. */
function svStarts(nrSv: number[]): number[] {
  const start = [0];
  for (let c = 1; c < nrSv.length; c++) start.push(start[c - 1] + nrSv[c - 1]);
  return start;
}

/**
 * Calls `visit(p, s, coef)` for every support vector `s` taking part in pairwise
 * classifier `p` = (i, j), i < j, in libsvm's order, with its dual coefficient in that
 * classifier: SVs of class i use coef[j-1], SVs of class j use coef[i] (libsvm's layout).
 */
function forEachPairTerm(m: ParsedLibsvmModel, visit: (p: number, s: number, coef: number) => void): void {
  const k = m.labels.length;
  const start = svStarts(m.nrSv);
  let p = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      for (let s = start[i]; s < start[i] + m.nrSv[i]; s++) visit(p, s, m.coef[j - 1][s]);
      for (let s = start[j]; s < start[j] + m.nrSv[j]; s++) visit(p, s, m.coef[i][s]);
      p++;
    }
  }
}

/**
 * Collapses a linear model into one weight vector per pairwise classifier
 * (w_p = sum of coef * SV), so a decision value costs O(d) instead of O(totalSv * d).
 * @returns row-major k(k-1)/2 x d weights
 */
function linearPairWeights(m: ParsedLibsvmModel, d: number): Float64Array {
  const w = new Float64Array(m.rho.length * d);
  forEachPairTerm(m, (p, s, coef) => {
    if (coef === 0) return;
    const wBase = p * d;
    const svBase = s * d;
    for (let j = 0; j < d; j++) w[wBase + j] += coef * m.sv[svBase + j];
  });
  return w;
}

/** RBF kernel value between sample `x` and every support vector. */
function rbfKernelRow(m: ParsedLibsvmModel, x: Float64Array, d: number): Float64Array {
  const kv = new Float64Array(m.totalSv);
  for (let s = 0; s < m.totalSv; s++) {
    const base = s * d;
    let acc = 0;
    for (let j = 0; j < d; j++) {
      const diff = x[j] - m.sv[base + j];
      acc += diff * diff;
    }
    kv[s] = Math.exp(-m.gamma * acc);
  }
  return kv;
}

/** Pairwise decision values of an RBF model for one sample (libsvm's svm_predict_values). */
function rbfDecisions(m: ParsedLibsvmModel, x: Float64Array, d: number): Float64Array {
  const kv = rbfKernelRow(m, x, d);
  const dec = Float64Array.from(m.rho, (r) => -r);
  forEachPairTerm(m, (p, s, coef) => {
    dec[p] += coef * kv[s];
  });
  return dec;
}

/** Pairwise decision values of a linear model for one sample, from {@link linearPairWeights}. */
function linearDecisions(w: Float64Array, rho: number[], x: Float64Array, d: number): Float64Array {
  const dec = new Float64Array(rho.length);
  for (let p = 0; p < rho.length; p++) {
    const base = p * d;
    let acc = 0;
    for (let j = 0; j < d; j++) acc += w[base + j] * x[j];
    dec[p] = acc - rho[p];
  }
  return dec;
}

/** One-vs-one votes, indexed like libsvm's internal class order: pair (i, j) votes i if its decision is > 0. */
function votesFromDecisions(dec: Float64Array, k: number): number[] {
  const votes = new Array<number>(k).fill(0);
  let p = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) votes[dec[p++] > 0 ? i : j]++;
  }
  return votes;
}

/**
 * Builds a function returning the one-vs-one votes of a sample under a parsed model.
 * @param m the parsed libsvm model
 * @param d the feature dimension
 */
function voteCounter(m: ParsedLibsvmModel, d: number): (x: Float64Array) => number[] {
  const k = m.labels.length;
  if (m.kernel === 'linear') {
    const w = linearPairWeights(m, d);
    return (x) => votesFromDecisions(linearDecisions(w, m.rho, x, d), k);
  }
  return (x) => votesFromDecisions(rbfDecisions(m, x, d), k);
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
