/**
 * libsvm's precomputed-kernel mode (kernel_type 4), through libsvm-js.
 *
 * A training row is `[serial, K(i, 0), …, K(i, m-1)]`, written straight into libsvm's node
 * arrays in wasm memory (libsvm-js's own `train` copies every row three times): libsvm reads a kernel value as
 * `x[serial of the other sample]`, so position 0 holds the sample's own 1-based serial and
 * position s holds the kernel value with training sample s. The solver then never touches
 * the 2,048-d features: each kernel evaluation is a lookup, which is what makes training fast.
 *
 * Models trained this way refer to their support vectors by serial only; {@link compactPrecomputedModel}
 * renumbers them 1..total_sv and keeps their rows next to the text (stored as base64 float32,
 * far faster to write and read than libsvm's text), and {@link toPrecomputedModelText} turns an
 * ordinary linear/RBF model (older classifier files) into the same form, so prediction always
 * feeds kernel rows between samples and support vectors.
 */
import { CnnfeatError, optionName } from '../../errors.js';
import type { Libsvm, LibsvmInstance } from './libsvm.js';

/** libsvm parameters of a C-SVC fit. */
export interface FitParams {
  C: number;
  probability: boolean;
  /** Per-label cost multipliers (libsvm `-wLABEL w`), or none. */
  weights?: number[];
}

/**
 * Longest option string libsvm-js can parse: its `parse_command_line` copies it into a
 * 256-byte stack buffer.
 */
const MAX_COMMAND_CHARS = 255;

/**
 * svm-train options of a precomputed-kernel C-SVC (`-s 0 -t 4`), with libsvm's defaults for
 * tolerance (1e-3) and shrinking, as scikit-learn's SVC.
 * @throws CnnfeatError when per-class weights would overflow libsvm-js's option buffer
 */
function precomputedCommand(params: FitParams): string {
  return [`-s 0 -t 4 -c ${params.C} -b ${params.probability ? 1 : 0} -m 200 -q 1`, ...weightOptions(params.weights)].join(' ');
}

/** Room left in libsvm-js's option buffer for the options other than class weights. */
const OTHER_OPTIONS_CHARS = 90;

/**
 * libsvm `-wLABEL w` options for per-class weights.
 * @throws CnnfeatError when they would overflow libsvm-js's option buffer (which would otherwise
 *   truncate them silently and train a wrong model)
 */
export function weightOptions(weights: number[] = []): string[] {
  const options = weights.map((w, label) => `-w${label} ${Number(w.toPrecision(6))}`);
  if (options.join(' ').length > MAX_COMMAND_CHARS - OTHER_OPTIONS_CHARS) {
    throw new CnnfeatError(`balanced class weights (${optionName('classWeight', 'balanced')}): too many classes (${weights.length}) for libsvm-js's option buffer; train without class weights`);
  }
  return options;
}

/** Writes a NUL-terminated ASCII string to the wasm heap; the caller frees it. */
function heapString(lib: Libsvm, text: string): number {
  const bytes = new TextEncoder().encode(text);
  const ptr = lib.runtime._malloc(bytes.length + 1);
  lib.runtime.HEAPU8.set(bytes, ptr);
  lib.runtime.HEAPU8[ptr + bytes.length] = 0;
  return ptr;
}

/**
 * A precomputed-kernel training problem held in wasm memory, built once and trained with any
 * number of C values / class weights (cross-validation fits 5 C values on one kernel matrix).
 * Models trained from it point into its memory: free them before {@link PrecomputedProblem.free}.
 */
export class PrecomputedProblem {
  private ptr: number;

  /**
   * Copies the rows `[serial, K(i, 0), …, K(i, m-1)]` into libsvm's node arrays.
   * @param K row-major kernel matrix whose first `m` × `m` block is the training samples' (in the order of `y`)
   * @param y libsvm label of each sample (class index), ideally sorted ascending
   */
  constructor(
    private readonly lib: Libsvm,
    K: Float64Array,
    readonly m: number,
    y: number[],
  ) {
    const rt = lib.runtime;
    this.ptr = rt._create_svm_nodes(m, m + 1);
    const row = rt._malloc((m + 1) * 8);
    try {
      for (let i = 0; i < m; i++) {
        const heap = rt.HEAPF64;
        heap[row >> 3] = i + 1;
        heap.set(K.subarray(i * m, (i + 1) * m), (row >> 3) + 1);
        rt._add_instance(this.ptr, row, m + 1, y[i]!, i);
      }
    } finally {
      rt._free(row);
    }
  }

  /**
   * Trains a C-SVC on the problem.
   * @returns a libsvm-js instance holding the model; `free()` it (before freeing the problem)
   */
  train(params: FitParams): LibsvmInstance {
    if (this.ptr === 0) throw new CnnfeatError('SVM training: problem already freed', 1);
    const { SVM, runtime } = this.lib;
    const commandPtr = heapString(this.lib, precomputedCommand(params));
    try {
      const svm = new SVM();
      svm.model = runtime._libsvm_train_problem(this.ptr, commandPtr);
      return svm;
    } finally {
      runtime._free(commandPtr);
    }
  }

  /** Releases the wasm memory of the problem. */
  free(): void {
    if (this.ptr !== 0) this.lib.runtime._free_problem(this.ptr);
    this.ptr = 0;
  }
}

/**
 * Calls `fn` for each of `q` samples with its precomputed-kernel row as libsvm takes it
 * (`row[0]` is the sample's index slot, `row[1..m]` its kernel values; reused between calls)
 * and the kernel values alone (`kv`).
 * @param Kq row-major `q` × `m` kernel values between the samples and the model's `m` training samples
 */
export function forEachKernelRow(Kq: Float64Array, q: number, m: number, fn: (row: Float64Array, kv: Float64Array, i: number) => void): void {
  const row = new Float64Array(m + 1);
  for (let i = 0; i < q; i++) {
    const kv = Kq.subarray(i * m, (i + 1) * m);
    row.set(kv, 1);
    fn(row, kv, i);
  }
}

/** Labels predicted by a precomputed-kernel model (see `forEachKernelRow` for `Kq`). */
export function predictPrecomputed(svm: LibsvmInstance, Kq: Float64Array, q: number, m: number): number[] {
  const labels: number[] = new Array(q);
  forEachKernelRow(Kq, q, m, (row, _kv, i) => (labels[i] = svm.predictOne(row)));
  return labels;
}

/** Splits a libsvm model text at its `SV` line. */
function splitAtSv(text: string): { header: string[]; svLines: string[] } {
  const lines = text.split('\n');
  const at = lines.indexOf('SV');
  if (at < 0) throw new CnnfeatError('SVM model: libsvm text has no SV section');
  return { header: lines.slice(0, at), svLines: lines.slice(at + 1).filter((l) => l.trim() !== '') };
}

/** A precomputed-kernel model made self-contained: its support vectors travel with it. */
export interface CompactModel {
  /** libsvm text, kernel_type precomputed, SV lines ending in `0:s` for support vector s (1-based). */
  text: string;
  /** The support vectors, row-major `totalSv` × `d` float32, in SV-line order. */
  supportVectors: Float32Array;
}

/**
 * Renumbers the support vectors of a model trained on a precomputed kernel (whose SV lines
 * end in `0:serial` of a training row) to 1..total_sv and collects their feature rows, so the
 * model no longer depends on the training matrix.
 * @param text libsvm text of the precomputed model
 * @param X the (scaled) training rows, row-major `m` × `d`, in the order they were trained
 */
export function compactPrecomputedModel(text: string, X: Float64Array, d: number): CompactModel {
  const { header, svLines } = splitAtSv(text);
  const supportVectors = new Float32Array(svLines.length * d);
  const renumbered = svLines.map((line, s) => {
    const trimmed = line.trim();
    const cut = trimmed.lastIndexOf(' ');
    const last = trimmed.slice(cut + 1);
    const serial = last.startsWith('0:') ? Number(last.slice(2)) : NaN;
    if (!Number.isInteger(serial) || serial < 1 || serial * d > X.length) {
      throw new CnnfeatError(`SVM training: unexpected precomputed support vector "${last}"`, 1);
    }
    supportVectors.set(X.subarray((serial - 1) * d, serial * d), s * d);
    return `${trimmed.slice(0, cut)} 0:${s + 1}`;
  });
  return { text: [...header, 'SV', ...renumbered, ''].join('\n'), supportVectors };
}

/**
 * Rewrites a linear/RBF libsvm model as a precomputed-kernel model whose samples are its own
 * support vectors, in order (serials 1..total_sv). Probability parameters (probA/probB) are kept.
 * @param text an ordinary C-SVC libsvm model text
 * @param k1 number of dual coefficients per SV line (nr_class − 1)
 */
export function toPrecomputedModelText(text: string, k1: number): string {
  const { header, svLines } = splitAtSv(text);
  const preHeader = header
    .filter((line) => !line.startsWith('gamma '))
    .map((line) => (line.startsWith('kernel_type ') ? 'kernel_type precomputed' : line));
  const preSv = svLines.map((line, s) => `${line.trim().split(/\s+/, k1).join(' ')} 0:${s + 1}`);
  return [...preHeader, 'SV', ...preSv, ''].join('\n');
}
