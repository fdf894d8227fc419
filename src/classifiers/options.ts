/**
 * How to train: the options, their defaults (TRAIN_DEFAULTS, which the CLI's help shows) and the
 * checks of their values. Messages name the library's options; the CLI names its flags instead
 * (`optionName` in errors.ts).
 */
import { CnnfeatError, optionName } from '../errors.js';
import { CLASS_WEIGHTS, DEFAULT_CLASS_WEIGHT, type ClassWeight } from './common/class-weights.js';
import { checkChoice, checkInteger, checkPositive, checkSeed, checkShare, DEFAULT_SEED } from './common/checks.js';
import { CV_SCORINGS, DEFAULT_SCORING, type CvScoring } from './common/cv-scoring.js';
import { SCALINGS, type Scaling } from './linalg/scaling.js';
import { LINEAR_DEFAULTS } from './linear/linear-model.js';
import { DEFAULT_LOSS, SVM_LOSSES, type SvmLoss } from './linear/linear-svm.js';
import { CLASSIFIERS, type ClassifierChoice } from './kinds.js';
import { DEFAULT_GRID, gridOf } from './selection/grid.js';
import { DEFAULT_LINEAR_GRID } from './selection/linear-search.js';
import type { Grid } from './selection/types.js';
import { KERNELS, type Kernel } from './svc/kernel-matrix.js';
import { GAMMA_RULES, PRECOMPUTED_MAX_ROWS, type SvmOptions } from './svc/svm.js';

/**
 * How to train. Every field is optional: with none, `auto` chooses among the classifiers by
 * cross-validation (what `cnnfeat train` and `cnnfeat run` do without options).
 */
export interface TrainOptions {
  /**
   * Group id of each training row (default: each row its own): folds and held-out splits keep a
   * group's rows together, e.g. an image and its mirror, whose near-copies on both sides would
   * inflate the validation score; the smallest class is counted in groups.
   */
  groups?: readonly number[];
  classifier?: ClassifierChoice;
  /**
   * Regularisation: cost of a margin violation / inverse regularisation strength. Given without
   * folds, a validation share or a grid: one fit with it (no cross-validation).
   */
  C?: number;
  /** svc kernel (given alone: one svc fit). */
  kernel?: Kernel;
  gamma?: SvmOptions['gamma'];
  /** Feature scaling (fixes that axis of the grid). */
  scale?: Scaling;
  /** linear-svm loss. */
  loss?: SvmLoss;
  /** k-fold cross-validation with this many folds. */
  folds?: number;
  /** One stratified held-out split keeping this share (0..1) of the rows for validation. */
  valSize?: number;
  /**
   * The svc grid, as a string in the `--grid` syntax (`kernel=…;C=…;gamma=…;scale=…`) or an object
   * of value lists (axes left out keep the default grid's); its C and scale also apply to the linear classifiers.
   */
  grid?: string | Partial<Grid>;
  seed?: number;
  scoring?: CvScoring;
  classWeight?: ClassWeight;
  /** svc: fit Platt probabilities (logistic always has probabilities). */
  probability?: boolean;
  /** Linear classifiers' stopping tolerance and iteration cap (defaults: TRAIN_DEFAULTS.solver). */
  tol?: number;
  maxIter?: number;
  /** Worker threads (default: the cores, at most 4). */
  threads?: number;
}

/** What training does with an option left out (see `planTraining` for the policy that applies them). */
export const TRAIN_DEFAULTS = {
  classifier: 'auto',
  /** A single fit's settings (C, a kernel or a gamma given without folds, a validation share or a grid). */
  C: 1,
  kernel: 'linear',
  gamma: 'scale',
  scale: 'none',
  loss: DEFAULT_LOSS,
  /** Model selection: k folds up to `kfoldMaxRows` training rows (fewer folds for a class of fewer rows). */
  folds: 5,
  kfoldMaxRows: PRECOMPUTED_MAX_ROWS,
  /** The held-out share of a holdout split (`valSize`, and each round of successive halving). */
  valSize: 0.2,
  /**
   * Above `kfoldMaxRows` rows, successive halving (scikit-learn's HalvingGridSearchCV with the
   * rows as the resource): round 1 scores every setting on a stratified subsample of `rows` rows,
   * round 2 the best `keep` on all rows.
   */
  halving: { rows: 5000, keep: 3 },
  grid: DEFAULT_GRID,
  linearGrid: DEFAULT_LINEAR_GRID,
  scoring: DEFAULT_SCORING,
  classWeight: DEFAULT_CLASS_WEIGHT,
  seed: DEFAULT_SEED,
  /** The linear classifiers' stopping tolerance and iteration cap. */
  solver: LINEAR_DEFAULTS,
  /** svc trains on at most this many rows (its n × n kernel matrix). */
  svcMaxRows: PRECOMPUTED_MAX_ROWS,
} as const satisfies Omit<Required<TrainOptions>, 'tol' | 'maxIter' | 'threads' | 'probability' | 'groups'> & Record<string, unknown>;

/**
 * Checks the options' values and the combinations no classifier takes.
 * @throws CnnfeatError (exit 2) naming the option
 */
export function checkTrainOptions(o: TrainOptions): void {
  const given = <K extends keyof TrainOptions>(key: K, check: (option: K, value: NonNullable<TrainOptions[K]>) => void) => {
    const value = o[key];
    if (value !== undefined) check(key, value);
  };
  given('classifier', (k, v) => checkChoice(k, v, CLASSIFIERS));
  given('C', checkPositive);
  given('kernel', (k, v) => checkChoice(k, v, KERNELS));
  given('gamma', (k, v) => checkPositive(k, v, GAMMA_RULES));
  given('scale', (k, v) => checkChoice(k, v, SCALINGS));
  given('loss', (k, v) => checkChoice(k, v, SVM_LOSSES));
  given('folds', (k, v) => checkInteger(k, v, 2));
  given('valSize', checkShare);
  given('grid', (_, v) => gridOf(v));
  given('seed', checkSeed);
  given('scoring', (k, v) => checkChoice(k, v, CV_SCORINGS));
  given('classWeight', (k, v) => checkChoice(k, v, CLASS_WEIGHTS));
  given('tol', checkPositive);
  given('maxIter', (k, v) => checkInteger(k, v, 1));
  given('threads', (k, v) => checkInteger(k, v, 1));
  const refuse = (message: string) => {
    throw new CnnfeatError(message);
  };
  if (o.folds !== undefined && o.valSize !== undefined) refuse(`give either the number of folds (${optionName('folds')}) or a validation share (${optionName('valSize')}), not both`);
  const svcOnly = o.kernel !== undefined || o.gamma !== undefined;
  if (svcOnly && (o.classifier === 'linear-svm' || o.classifier === 'logistic')) refuse(`${optionName('kernel')} and ${optionName('gamma')} apply to the classifier svc only, not ${o.classifier}`);
  if (o.loss !== undefined && o.classifier !== undefined && o.classifier !== 'linear-svm' && o.classifier !== 'auto') refuse(`${optionName('loss')} applies to the classifier linear-svm only, not ${o.classifier}`);
  if (o.probability && o.classifier === 'linear-svm') refuse(`${optionName('probability')} (Platt probabilities) is not available for linear-svm; use the classifier logistic (probabilities by construction) or svc`);
}
