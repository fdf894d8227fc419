/**
 * The classifier kinds as the rest of cnnfeat sees them: svc (svc/) and the linear classifiers
 * linear-svm and logistic (linear/), each fitted on all rows of a training set.
 */
import { fitLinearModel, LINEAR_CLASSIFIERS, resolveLinearOptions, type FitProgress, type LinearModel, type LinearOptions } from './linear/linear-model.js';
import { defaultFitThreads, FitPool } from './parallel/fit-pool.js';
import type { SvmModel } from './svc/svm.js';

/** Classifier choices. */
export const CLASSIFIERS = ['auto', 'svc', ...LINEAR_CLASSIFIERS] as const;
export type ClassifierChoice = (typeof CLASSIFIERS)[number];
export type ClassifierKind = Exclude<ClassifierChoice, 'auto'>;

/** A trained model of any classifier (JSON). */
export type ClassifierModel = SvmModel | LinearModel;

/**
 * Trains a linear classifier on a dense matrix, linear-svm's one-vs-rest classes in worker threads.
 * @param X row-major `n` × `d` (copied into shared memory once unless it already is)
 * @param labels class index of each row
 * @param classes class names (classes without rows are kept, never predicted)
 * @param threads worker threads for the SVM classes (default: the cores, at most 4)
 */
export async function trainLinear(
  X: Float32Array,
  n: number,
  d: number,
  labels: number[],
  classes: string[],
  opts: LinearOptions,
  { threads, onProgress, warn }: { threads?: number; onProgress?: FitProgress; warn?: (message: string) => void } = {},
): Promise<LinearModel> {
  const o = resolveLinearOptions(opts);
  const pool = FitPool.create(o.classifier === 'linear-svm' ? (threads ?? defaultFitThreads()) : 1);
  try {
    return await fitLinearModel(X, n, d, labels, classes, o, { pool, onProgress, warn });
  } finally {
    await pool.close();
  }
}
