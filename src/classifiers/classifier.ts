/**
 * Every classifier behind one interface: the API the pipeline and the CLI call (the rest of
 * classifiers/ is reached through it, the classifier file and the CV table aside).
 *
 * - `svc`: libsvm's C-SVC (linear or RBF kernel) on a precomputed kernel matrix, up to
 *   5,000 training rows (its n × n kernel matrix).
 * - `linear-svm`: one-vs-rest L2-regularised linear SVM (dual coordinate descent, liblinear's algorithm).
 * - `logistic`: multinomial L2-regularised logistic regression (L-BFGS), with probabilities.
 * - `auto` (default): chosen by cross-validation among a grid that fits the data.
 *
 * The options and their defaults are in options.ts, the policy that applies them in plan.ts.
 */
import { CnnfeatError, optionName } from '../errors.js';
import { checkLabels, checkMatrix } from './common/checks.js';
import { scoreKindName, type Prediction, type ScoreKind } from './common/scores.js';
import { sharedMatrix } from './linalg/matrix.js';
import { fitSpec, kindOf, type ClassifierModel, type FitSpec } from './kinds.js';
import { TRAIN_DEFAULTS, type TrainOptions } from './options.js';
import { defaultFitThreads, FitPool } from './parallel/fit-pool.js';
import { checkClassSizes, planTraining, specOf, type TrainingPlan } from './plan.js';
import { selectLinear } from './selection/linear-search.js';
import { ranks } from './selection/ranking.js';
import { stratifiedFolds, stratifiedHoldout, subsampleHoldout } from './selection/splits.js';
import { selectModel } from './selection/svc-search.js';
import type { CvResult, LinearPoint, ModelSelection } from './selection/types.js';

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

/** Rows a fit trains on when each of the `evaluate` folds is held out in turn (their mean, rounded; −1 rows are left out). */
function trainRowsPerFold(fold: number[], evaluate: number[]): number {
  const used = fold.filter((g) => g >= 0).length;
  const trained = evaluate.map((f) => used - fold.filter((g) => g === f).length);
  return Math.round(trained.reduce((a, b) => a + b, 0) / trained.length);
}

/** Runs a model selection plan; the returned record's `best` is the first of rank 1. */
async function runSelection(
  X: Float32Array,
  n: number,
  d: number,
  labels: number[],
  K: number,
  plan: Extract<TrainingPlan, { kind: 'select' }>,
  o: TrainOptions,
  hooks: TrainHooks,
): Promise<ModelSelection> {
  const started = performance.now();
  const seed = o.seed ?? TRAIN_DEFAULTS.seed;
  const scoring = o.scoring ?? TRAIN_DEFAULTS.scoring;
  const classWeight = o.classWeight ?? TRAIN_DEFAULTS.classWeight;
  const { split } = plan;
  const fold = split.method === 'holdout' ? stratifiedHoldout(labels, split.valSize, seed) : stratifiedFolds(labels, split.folds, seed);
  const evaluate = split.method === 'holdout' ? [1] : Array.from({ length: split.folds }, (_, f) => f);
  const pool = FitPool.create(o.threads ?? defaultFitThreads());
  const results: Omit<CvResult, 'rank'>[] = [];
  let linearRecord;
  try {
    if (plan.svcGrid) {
      const svc = await selectModel(X, n, d, labels, K, {
        grid: plan.svcGrid,
        folds: evaluate.length,
        seed,
        scoring,
        classWeight,
        fold,
        evaluate,
        pool,
        onProgress: (done, total) => hooks.onProgress?.({ phase: 'svc', done, total, detail: `svc fits` }),
      });
      results.push(...svc.results.map(({ rank: _rank, ...r }) => ({ ...r, params: { classifier: 'svc' as const, ...r.params } })));
    }
    if (plan.linearGrid) {
      const shared = sharedMatrix(X);
      const linearOptions = {
        scoring,
        classWeight,
        seed,
        solver: { 'linear-svm': { tol: o.tol, maxIter: o.maxIter }, logistic: { tol: o.tol, maxIter: o.maxIter } },
        pool,
      };
      const round1Fold = plan.halving ? subsampleHoldout(labels, plan.halving.rows, TRAIN_DEFAULTS.valSize, seed) : fold;
      const linear = await selectLinear(shared, n, d, labels, K, {
        ...linearOptions,
        grid: plan.linearGrid,
        fold: round1Fold,
        evaluate,
        onProgress: (done, total, detail) => hooks.onProgress?.({ phase: 'linear', done, total, detail: `${plan.halving ? 'round 1: ' : ''}${detail}` }),
      });
      linearRecord = linear.record;
      const round1 = linear.results.map((r) => ({ ...r, trainRows: trainRowsPerFold(round1Fold, evaluate), ...(plan.halving ? { round: 1 as const } : {}) }));
      results.push(...round1);
      if (plan.halving) {
        const best = round1.map((r, i) => ({ r, i })).sort((a, b) => b.r.mean - a.r.mean || a.i - b.i).slice(0, plan.halving.keep);
        for (const [t, { r }] of best.entries()) {
          const p = r.params as LinearPoint;
          const again = await selectLinear(shared, n, d, labels, K, {
            ...linearOptions,
            grid: { classifier: [p.classifier], C: [p.C], relativeC: false, scale: [p.scale], ...(p.loss ? { loss: p.loss } : {}) },
            fold,
            evaluate,
            onProgress: (done, total, detail) => hooks.onProgress?.({ phase: 'linear', done: t + done / total, total: best.length, detail: `round 2: ${detail}` }),
          });
          results.push(...again.results.map((x) => ({ ...x, round: 2 as const, trainRows: trainRowsPerFold(fold, evaluate) })));
        }
      }
    }
  } finally {
    await pool.close();
  }
  if (results.length === 0) throw new CnnfeatError(`${optionName('grid')}: the grid is empty`);
  // Halving: round-2 results rank first (they are what was chosen from), round 1 after them.
  const round2 = results.filter((r) => r.round === 2).length;
  const rank = plan.halving
    ? results.map((r, i) => {
        const same = results.filter((x) => x.round === r.round);
        return (r.round === 2 ? 0 : round2) + ranks(same.map((x) => x.mean))[same.indexOf(results[i]!)]!;
      })
    : ranks(results.map((r) => r.mean));
  return {
    method: plan.halving ? 'halving' : split.method,
    ...(plan.halving ? { halving: plan.halving } : {}),
    folds: evaluate.length,
    ...(split.method === 'holdout' ? { valSize: split.valSize } : {}),
    seed,
    scoring,
    classWeight,
    ...(plan.svcGrid ? { grid: plan.svcGrid } : {}),
    ...(linearRecord ? { linearGrid: linearRecord } : {}),
    results: results.map((r, i) => ({ ...r, rank: rank[i]! })),
    best: rank.indexOf(1),
    seconds: (performance.now() - started) / 1000,
  };
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
  const sizes = new Map<number, number>();
  for (const label of labels) sizes.set(label, (sizes.get(label) ?? 0) + 1);
  const plan = planTraining(o, n, Math.min(...sizes.values()));
  checkMatrix(X, n, d, source);
  checkClassSizes(checkLabels(labels, n, classes.length, source), classes, plan, source);
  hooks.onStart?.(plan);
  let selection: ModelSelection | undefined;
  let spec: FitSpec;
  if (plan.kind === 'select') {
    selection = await runSelection(X, n, d, labels, classes.length, plan, o, hooks);
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

/**
 * Predicts with any stored model (svc, linear-svm, logistic; files of earlier versions too):
 * labels, the predicted class's score, every class's, and what they are.
 * @throws CnnfeatError (exit 2) on a corrupt model, a dimension mismatch or non-finite values
 */
export function predictModel(model: ClassifierModel, X: Float32Array, n: number, d: number): Promise<Prediction> {
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
