/**
 * The records of model selection, shared by the svc and linear searches, the selection run and
 * the table: the grids searched, the points, the cross-validated score of each, the whole record.
 */
import type { ClassWeight } from '../common/class-weights.js';
import type { CvScoring } from '../common/cv-scoring.js';
import type { Scaling } from '../linalg/scaling.js';
import type { LinearClassifier } from '../linear/linear-model.js';
import type { SvmLoss } from '../linear/linear-svm.js';
import type { Kernel } from '../svc/kernel-matrix.js';
import type { SvmOptions } from '../svc/svm.js';

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

/** The values tried for the linear classifiers. */
export interface LinearGrid {
  classifier: LinearClassifier[];
  /**
   * C values. With `relativeC`, multiples of 1 / (mean squared norm of the scaled rows), so
   * that one grid covers the same range of regularisation under every scaling (for l2 rows,
   * whose norm is 1, they are C itself).
   */
  C: number[];
  relativeC: boolean;
  scale: Scaling[];
  loss?: SvmLoss;
}

/** A linear grid as recorded: with the absolute C values of each scaling. */
export interface LinearGridRecord extends LinearGrid {
  /** Absolute C values per scaling, in `C` order. */
  absoluteC: Partial<Record<Scaling, number[]>>;
}

/** A grid point of a linear classifier (see linear-search.ts). */
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

/** A model selection to run: how the rows are split, the grids, and successive halving or not. */
export interface SelectionPlan {
  split: { method: 'stratified-k-fold'; folds: number } | { method: 'holdout'; valSize: number };
  /** Successive halving of the linear grid in two rounds on holdouts (see selection/halving.ts). */
  halving?: { rows: number; keep: number };
  svcGrid?: Grid;
  linearGrid?: LinearGrid;
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
