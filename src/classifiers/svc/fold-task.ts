/**
 * One unit of cross-validation work, runnable in the main thread or in a worker: fit every C of
 * one kernel on one fold's training rows (one libsvm problem) and score each on the held-out rows.
 */
import { heldOutScore, type CvScoring } from '../common/cv-scoring.js';
import type { Libsvm } from './libsvm.js';
import { PrecomputedProblem, predictPrecomputed } from './precomputed.js';

/** A fold × kernel task. Plain data (structured-clonable; `K` may live in a SharedArrayBuffer). */
export interface FoldTask {
  /** Row-major (m + valid) × m kernel matrix: the m training rows first, then the held-out rows. */
  K: Float64Array;
  m: number;
  /** Class index of each training row (sorted ascending) and of each held-out row. */
  y: number[];
  truth: number[];
  Cs: number[];
  /** Per-class C multipliers, or none. */
  weights?: number[];
  nClasses: number;
  scoring: CvScoring;
}

/** Score and fit seconds of one C. */
export interface FoldScore {
  score: number;
  seconds: number;
}

/**
 * Runs a fold task.
 * @returns per C (in `task.Cs` order) the held-out score and the fit seconds
 */
export function runFoldTask(lib: Libsvm, task: FoldTask): FoldScore[] {
  const { K, m } = task;
  const problem = new PrecomputedProblem(lib, K, m, task.y);
  try {
    return task.Cs.map((C) => {
      const started = performance.now();
      const svm = problem.train({ C, probability: false, weights: task.weights });
      const seconds = (performance.now() - started) / 1000;
      try {
        const predicted = predictPrecomputed(svm, K.subarray(m * m), task.truth.length, m);
        return { score: heldOutScore(task.truth, predicted, task.nClasses, task.scoring), seconds };
      } finally {
        svm.free();
      }
    });
  } finally {
    problem.free();
  }
}
