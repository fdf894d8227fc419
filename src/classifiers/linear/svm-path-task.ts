/**
 * One unit of linear-SVM work, runnable in the main thread or a worker: the one-vs-rest binary
 * problem of one class on some rows, solved for every C of a path (increasing), each solve
 * warm-started from the previous one. The matrix travels as a SharedArrayBuffer view (no copy).
 */
import { DualCdProblem, type SvmLoss } from './linear-svm.js';
import type { ScaledView } from '../linalg/scaled-view.js';

/** A class × C-path task. Plain data (structured-clonable). */
export interface SvmPathTask {
  view: ScaledView;
  rows: Int32Array;
  /** +1 / −1 per training row. */
  y: Int8Array;
  /** Per training row multiplier of C (class weights), or none. */
  rowWeight?: Float64Array;
  Cs: number[];
  loss: SvmLoss;
  tol: number;
  maxIter: number;
  seed: number;
}

/**
 * Runs path tasks, several at once where it can: the fit pool (parallel/fit-pool.ts), whose
 * threads are started above this folder.
 */
export interface PathTaskRunner {
  /** Results in task order; `onPass` reports (task, C index, passes done). */
  all(tasks: { kind: 'svm-path'; task: SvmPathTask }[], onPass?: (task: number, c: number, iteration: number) => void): Promise<SvmPathResult[][]>;
}

/** Weights of one C. */
export interface SvmPathResult {
  w: Float64Array;
  intercept: number;
  iterations: number;
  converged: boolean;
  seconds: number;
}

/**
 * Runs a path task.
 * @param onPass progress: (C index, passes done) after every pass over the data
 */
export function runSvmPathTask(task: SvmPathTask, onPass?: (c: number, iteration: number) => void): SvmPathResult[] {
  const problem = new DualCdProblem(task.view, task.rows, task.y, task.rowWeight);
  return task.Cs.map((C, c) => {
    const started = performance.now();
    const { iterations, converged } = problem.solve({ C, loss: task.loss, tol: task.tol, maxIter: task.maxIter, seed: task.seed }, onPass ? (it) => onPass(c, it) : undefined);
    const { w, intercept } = problem.weights();
    return { w, intercept, iterations, converged, seconds: (performance.now() - started) / 1000 };
  });
}
