/**
 * Every classifier behind one interface: training, prediction and a model's description, as the
 * pipeline, the report and the CLI call them. Other modules are imported where they are what is
 * needed: the classifier file (model-file.ts), the CV table and its types (selection/), score
 * formatting and option checks (common/), the option choices of the CLI's flags (train-options.ts),
 * and the single classifiers that index.ts exports as well.
 *
 * - `svc`: libsvm's C-SVC (linear or RBF kernel) on a precomputed kernel matrix, up to
 *   5,000 training rows (its n × n kernel matrix).
 * - `linear-svm`: one-vs-rest L2-regularised linear SVM (dual coordinate descent, liblinear's algorithm).
 * - `logistic`: multinomial L2-regularised logistic regression (L-BFGS), with probabilities.
 * - `auto` (default): chosen by cross-validation among a grid that fits the data.
 *
 * The options and their defaults are in options.ts, the policy that applies them in plan.ts.
 */
import { checkLabels, checkMatrix } from './common/checks.js';
import { scoreKindName, type Prediction, type ScoreKind } from './common/scores.js';
import { fitSpec, kindOf, type ClassifierModel, type FitSpec } from './kinds.js';
import { TRAIN_DEFAULTS, type TrainOptions } from './options.js';
import { defaultFitThreads } from './parallel/fit-pool.js';
import { checkClassSizes, planTraining, specOf, type TrainingPlan } from './plan.js';
import { runSelection } from './selection/search.js';
import { checkGroups } from './selection/splits.js';
import type { ModelSelection } from './selection/types.js';

export { CLASSIFIERS, classifierOf, type ClassifierChoice, type ClassifierKind, type ClassifierModel, type FitSpec } from './kinds.js';
export type { Prediction } from './common/scores.js';
export { checkTrainOptions, TRAIN_DEFAULTS, type TrainOptions } from './options.js';
export { planTraining, type TrainingPlan } from './plan.js';

/** Callbacks of {@link trainModel}. */
export interface TrainHooks {
  /** Progress: the phase (`svc` selection, `linear` selection, the final `fit`), fits done of total, what runs now. */
  onProgress?: (progress: TrainProgressEvent) => void;
  warn?: (message: string) => void;
  /** Called once the options and data are checked, before any work, with the plan. */
  onStart?: (plan: TrainingPlan) => void;
  /** Names the data in error messages (e.g. the feature directory). */
  source?: string;
}

/** A progress report of {@link trainModel}. */
export interface TrainProgressEvent {
  phase: 'svc' | 'linear' | 'fit';
  done: number;
  total: number;
  detail: string;
}

/** What {@link trainModel} produced. */
export interface TrainedModel {
  model: ClassifierModel;
  selection?: ModelSelection;
  /** Seconds of the final fit alone. */
  fitSeconds: number;
}

/**
 * Trains a classifier on a dense matrix following {@link planTraining}: optionally a model
 * selection on these rows only, then a fit of the chosen settings on all of them.
 * @param X row-major `n` × `d` training features (float32; put it in a SharedArrayBuffer to
 *   spare one copy for the worker threads)
 * @param labels class index of each row
 * @param classes class names
 * @throws CnnfeatError (exit 2) on bad options, non-finite values, a single class, a class with
 *   fewer rows than folds, or svc above its size limit
 */
export async function trainModel(X: Float32Array, n: number, d: number, labels: number[], classes: string[], o: TrainOptions = {}, hooks: TrainHooks = {}): Promise<TrainedModel> {
  const source = hooks.source ?? 'training';
  checkGroups(o.groups, n, source);
  const sizes = classSizes(labels, o.groups);
  const plan = planTraining(o, n, Math.min(...sizes.values()));
  checkMatrix(X, n, d, source);
  checkLabels(labels, n, classes.length, source);
  checkClassSizes(Array.from({ length: classes.length }, (_, c) => sizes.get(c) ?? 0), classes, plan, source, o.groups !== undefined);
  hooks.onStart?.(plan);
  let selection: ModelSelection | undefined;
  let spec: FitSpec;
  if (plan.kind === 'select') {
    const settings = {
      seed: o.seed ?? TRAIN_DEFAULTS.seed,
      scoring: o.scoring ?? TRAIN_DEFAULTS.scoring,
      classWeight: o.classWeight ?? TRAIN_DEFAULTS.classWeight,
      threads: o.threads ?? defaultFitThreads(),
      tol: o.tol,
      maxIter: o.maxIter,
      groups: o.groups,
    };
    selection = await runSelection(X, n, d, labels, classes.length, plan, settings, (phase, done, total, detail) => hooks.onProgress?.({ phase, done, total, detail }));
    spec = specOf(selection.results[selection.best]!.params, o);
  } else spec = plan.spec;
  const started = performance.now();
  const model = await fitSpec(X, n, d, labels, classes, spec, {
    classWeight: o.classWeight,
    tol: o.tol,
    maxIter: o.maxIter,
    seed: o.seed,
    threads: o.threads,
    warn: hooks.warn,
    onProgress: (done, total, detail) => hooks.onProgress?.({ phase: 'fit', done, total, detail: `${spec.classifier} ${detail}` }),
  });
  return { model, selection, fitSeconds: (performance.now() - started) / 1000 };
}

/** Rows per class (present classes only), or groups per class when rows are grouped (see `TrainOptions.groups`). */
function classSizes(labels: number[], groups: readonly number[] | undefined): Map<number, number> {
  const seen = new Set<number>();
  const counts = new Map<number, number>();
  labels.forEach((label, i) => {
    if (groups) {
      if (seen.has(groups[i]!)) return;
      seen.add(groups[i]!);
    }
    counts.set(label, (counts.get(label) ?? 0) + 1);
  });
  return counts;
}

/**
 * Predicts with any stored model (svc, linear-svm, logistic; files of earlier versions too):
 * labels, the predicted class's score, every class's, and what they are.
 * @throws CnnfeatError (exit 2) on a corrupt model, a dimension mismatch or non-finite values
 */
export async function predictModel(model: ClassifierModel, X: Float32Array, n: number, d: number): Promise<Prediction> {
  return kindOf(model).predict(model, X, n, d);
}

/** The model's settings in words, e.g. `svc (rbf, C=10, …)` or `logistic, C=1, scale=l2`. */
export function describeModel(model: ClassifierModel): string {
  return kindOf(model).describe(model);
}

/** Whether a model's prediction scores are probabilities or decision values. */
export function scoreKindOf(model: ClassifierModel): ScoreKind {
  return kindOf(model).scoreKind(model);
}

/**
 * What the scores of a model's predictions are, in words: the kind, then where it comes from,
 * e.g. `probability (softmax)`. Higher ranks first for every kind.
 */
export function scoreMeaning(model: ClassifierModel): string {
  return `${scoreKindName(scoreKindOf(model))} (${kindOf(model).scoreSource(model)})`;
}
