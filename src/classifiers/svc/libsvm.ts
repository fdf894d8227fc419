/**
 * Loading libsvm-js (libsvm 3.22 compiled to WebAssembly) quietly and once per process, and
 * loading model texts of any size into it.
 */
import { createRequire } from 'node:module';
import { CnnfeatError, errorMessage } from '../../errors.js';

/** The subset of a libsvm-js SVM instance used here. Samples may be any array-like of numbers. */
export interface LibsvmInstance {
  train(samples: ArrayLike<number>[], labels: number[]): void;
  predictOne(sample: ArrayLike<number>): number;
  predictOneProbability(sample: ArrayLike<number>): {
    prediction: number;
    estimates: { label: number; probability: number }[];
  };
  serializeModel(): string;
  /** Labels of the model's classes, in libsvm's internal order. */
  getLabels(): number[];
  free(): void;
  /** Pointer to the svm_model in wasm memory (what `SVM.load` sets). */
  model: number | null;
  _deserialized?: boolean;
}

/** The libsvm-js SVM class (resolved value of `require('libsvm-js/wasm')`). */
export interface LibsvmClass {
  new (options?: Record<string, unknown>): LibsvmInstance;
  load(serialized: string): LibsvmInstance;
  SVM_TYPES: { C_SVC: string };
  KERNEL_TYPES: { LINEAR: string; RBF: string; PRECOMPUTED: string };
}

/** The emscripten module behind libsvm-js (`libsvm-js/out/wasm/libsvm.js`), as far as used here. */
interface LibsvmRuntime {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _deserialize_model(textPtr: number): number;
  /** Allocates a problem of `rows` samples of `dims` values each (libsvm-js's js-interfaces.c). */
  _create_svm_nodes(rows: number, dims: number): number;
  /** Copies `dims` doubles at `valuesPtr` into row `i` of a problem, with label `y`. */
  _add_instance(problem: number, valuesPtr: number, dims: number, y: number, i: number): void;
  /** Trains on a problem with an svm-train option string; returns the model pointer. */
  _libsvm_train_problem(problem: number, commandPtr: number): number;
  _free_problem(problem: number): void;
  HEAPF64: Float64Array;
  /** Current view of wasm memory; replaced when memory grows, so re-read after `_malloc`. */
  HEAPU8: Uint8Array;
  /** Where libsvm's stdout / stderr lines go (looked up on every write). */
  print: (text: string) => void;
  printErr: (text: string) => void;
}

/** A loaded libsvm: the SVM class and its emscripten runtime. */
export interface Libsvm {
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
export function loadLibsvm(): Promise<Libsvm> {
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
export function loadLibsvmModel(lib: Libsvm, text: string): LibsvmInstance {
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
