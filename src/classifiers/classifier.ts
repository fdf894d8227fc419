/**
 * Every classifier behind one interface, and every training default and policy: which
 * classifier, whether and how to choose settings by cross-validation, the grids, the refit.
 * The CLI maps its flags onto {@link TrainOptions} and nothing else.
 *
 * - `svc`: libsvm's C-SVC (linear or RBF kernel) on a precomputed kernel matrix, up to
 *   5,000 training rows (its n × n kernel matrix).
 * - `linear-svm`: one-vs-rest L2-regularised linear SVM (dual coordinate descent, liblinear's algorithm).
 * - `logistic`: multinomial L2-regularised logistic regression (L-BFGS), with probabilities.
 * - `auto` (default): chosen by cross-validation among a grid that fits the data.
 */
import { CnnfeatError } from '../errors.js';
import { CLASS_WEIGHTS, type ClassWeight } from './common/class-weights.js';
import { checkMatrix } from './common/checks.js';
import { CV_SCORINGS, type CvScoring } from './common/cv-scoring.js';
import { scoreKindName, type ScoreKind } from './common/scores.js';
import { sharedMatrix } from './linalg/matrix.js';
import { SCALINGS, type Scaling } from './linalg/scaling.js';
import { describeLinear, LINEAR_CLASSIFIERS, predictLinear, type LinearClassifier, type LinearModel } from './linear/linear-model.js';
import { SVM_LOSSES, type SvmLoss } from './linear/linear-svm.js';
import { trainLinear } from './kinds.js';
import { defaultFitThreads, FitPool } from './parallel/fit-pool.js';
import { DEFAULT_GRID, parseGrid } from './selection/grid.js';
import { DEFAULT_LINEAR_GRID, selectLinear } from './selection/linear-search.js';
import { ranks } from './selection/ranking.js';
import { stratifiedFolds, stratifiedHoldout, subsampleHoldout } from './selection/splits.js';
import { selectModel } from './selection/svc-search.js';
import { isLinearPoint, type CvResult, type Grid, type LinearGrid, type LinearPoint, type ModelSelection, type SelectionPoint } from './selection/types.js';
import { KERNELS, type Kernel } from './svc/kernel-matrix.js';
import { assertSvcFits, describeSvm, PRECOMPUTED_MAX_ROWS, predictSvm, trainSvm, type SvmModel, type SvmOptions, type SvmPrediction } from './svc/svm.js';

/** Classifier choices. */
export const CLASSIFIERS = ['auto', 'svc', ...LINEAR_CLASSIFIERS] as const;
export type ClassifierChoice = (typeof CLASSIFIERS)[number];
export type ClassifierKind = Exclude<ClassifierChoice, 'auto'>;

/** A trained model of any classifier (JSON). */
export type ClassifierModel = SvmModel | LinearModel;

/**
 * Training sets up to this many rows are cross-validated with k folds over the whole grid by
 * default; larger ones by successive halving (see {@link HALVING}).
 */
export const KFOLD_MAX_ROWS = PRECOMPUTED_MAX_ROWS;
/** Default number of folds, and default held-out share of a holdout split. */
export const DEFAULT_FOLDS = 5;
export const DEFAULT_VAL_SIZE = 0.2;
/**
 * Successive halving (as scikit-learn's HalvingGridSearchCV with the rows as the resource):
 * round 1 scores every setting on a stratified subsample of `rows` rows, round 2 the best
 * `keep` on all rows, each round on a stratified 20 % holdout.
 */
export const HALVING = { rows: 5000, keep: 3 } as const;

/**
 * How to train. Every field is optional: with none, `auto` chooses among the classifiers by
 * cross-validation (what `cnnfeat train` and `cnnfeat run` do without options).
 */
export interface TrainOptions {
  /** Default `auto`. */
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
  /** linear-svm loss (default squared_hinge). */
  loss?: SvmLoss;
  /** k-fold cross-validation with this many folds. */
  folds?: number;
  /** One stratified held-out split keeping this share (0..1) of the rows for validation. */
  valSize?: number;
  /** The svc grid, as a `--grid` string (`kernel=…;C=…;gamma=…;scale=…`) or an object; its C and scale also apply to the linear classifiers. */
  grid?: string | Grid;
  seed?: number;
  scoring?: CvScoring;
  classWeight?: ClassWeight;
  /** svc: fit Platt probabilities (logistic always has probabilities). */
  probability?: boolean;
  /** Linear classifiers' stopping tolerance and iteration cap (defaults: LINEAR_DEFAULTS). */
  tol?: number;
  maxIter?: number;
  /** Worker threads (default: the cores, at most 4). */
  threads?: number;
}

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

/** The settings of one fit. */
export type FitSpec = { classifier: 'svc'; svm: SvmOptions } | { classifier: LinearClassifier; C: number; scale: Scaling; loss?: SvmLoss };

/** How training will go. */
export type TrainingPlan =
  | { kind: 'fit'; spec: FitSpec }
  | {
      kind: 'select';
      split: { method: 'stratified-k-fold'; folds: number } | { method: 'holdout'; valSize: number };
      /** Two rounds (default above {@link KFOLD_MAX_ROWS} rows): see {@link HALVING}. */
      halving?: { rows: number; keep: number };
      svcGrid?: Grid;
      linearGrid?: LinearGrid;
    };

function check(condition: boolean, message: string): void {
  if (!condition) throw new CnnfeatError(message);
}

/** Checks the options' values, naming each option in words and as its flag. */
export function checkTrainOptions(o: TrainOptions): void {
  check(o.classifier === undefined || CLASSIFIERS.includes(o.classifier), `classifier (--classifier) must be one of ${CLASSIFIERS.join(', ')}, got "${String(o.classifier)}"`);
  check(o.C === undefined || (typeof o.C === 'number' && Number.isFinite(o.C) && o.C > 0), `C (--C) must be a number > 0, got ${String(o.C)}`);
  check(o.kernel === undefined || KERNELS.includes(o.kernel), `kernel (--kernel) must be one of ${KERNELS.join(', ')}, got "${String(o.kernel)}"`);
  check(o.scale === undefined || SCALINGS.includes(o.scale), `scaling (--scale) must be one of ${SCALINGS.join(', ')}, got "${String(o.scale)}"`);
  check(o.loss === undefined || SVM_LOSSES.includes(o.loss), `loss (--loss) must be one of ${SVM_LOSSES.join(', ')}, got "${String(o.loss)}"`);
  const g = o.gamma;
  check(g === undefined || g === 'scale' || g === 'auto' || (typeof g === 'number' && Number.isFinite(g) && g > 0), `gamma (--gamma) must be a number > 0, scale or auto, got ${String(g)}`);
  check(o.folds === undefined || (Number.isInteger(o.folds) && o.folds >= 2), `the number of folds (--cv) must be an integer ≥ 2, got ${String(o.folds)}`);
  check(o.valSize === undefined || (typeof o.valSize === 'number' && o.valSize > 0 && o.valSize < 1), `the validation share (--val-size) must be a number in (0, 1), got ${String(o.valSize)}`);
  check(o.folds === undefined || o.valSize === undefined, 'give either the number of folds (--cv) or a validation share (--val-size), not both');
  check(o.seed === undefined || (Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32), `the seed (--seed) must be an integer in [0, 4294967295], got ${String(o.seed)}`);
  check(o.scoring === undefined || CV_SCORINGS.includes(o.scoring), `scoring (--scoring) must be one of ${CV_SCORINGS.join(', ')}, got "${String(o.scoring)}"`);
  check(o.classWeight === undefined || CLASS_WEIGHTS.includes(o.classWeight), `class weight (--class-weight) must be one of ${CLASS_WEIGHTS.join(', ')}, got "${String(o.classWeight)}"`);
  check(o.tol === undefined || (Number.isFinite(o.tol) && o.tol > 0), `tolerance (--tol) must be a number > 0, got ${String(o.tol)}`);
  check(o.maxIter === undefined || (Number.isInteger(o.maxIter) && o.maxIter > 0), `iteration cap (--max-iter) must be a positive integer, got ${String(o.maxIter)}`);
  const svcOnly = o.kernel !== undefined || o.gamma !== undefined;
  check(!(svcOnly && (o.classifier === 'linear-svm' || o.classifier === 'logistic')), `kernel and gamma (--kernel, --gamma) apply to the classifier svc only, not ${o.classifier}`);
  check(!(o.loss !== undefined && o.classifier !== undefined && o.classifier !== 'linear-svm' && o.classifier !== 'auto'), `loss (--loss) applies to the classifier linear-svm only, not ${o.classifier}`);
  check(!(o.probability && o.classifier === 'linear-svm'), 'probabilities (--probability) are not available for linear-svm; use the classifier logistic (probabilities by construction) or svc');
}

/** Whether a grid names kernels or gammas (then it is a grid of svc alone). */
function gridNamesKernels(grid: TrainOptions['grid']): boolean {
  if (grid === undefined) return false;
  const given = typeof grid === 'string' ? parseGrid(grid, { kernel: [], C: [], gamma: [], scale: [] }) : grid;
  return given.kernel.length > 0 || given.gamma.length > 0;
}

/** The svc grid of the options: `grid` (or the default) with the axes the options fix. */
function svcGridOf(o: TrainOptions): Grid {
  const grid = o.grid === undefined ? { ...DEFAULT_GRID } : typeof o.grid === 'string' ? parseGrid(o.grid) : { ...DEFAULT_GRID, ...o.grid };
  if (o.kernel) grid.kernel = [o.kernel];
  if (o.C !== undefined) grid.C = [o.C];
  if (o.gamma !== undefined) grid.gamma = [o.gamma];
  if (o.scale) grid.scale = [o.scale];
  return grid;
}

/** The linear grid of the options (C given: absolute; else the default relative grid). */
function linearGridOf(o: TrainOptions, classifiers: LinearClassifier[]): LinearGrid {
  const svc = o.grid === undefined ? undefined : typeof o.grid === 'string' ? parseGrid(o.grid, { kernel: [], C: [], gamma: [], scale: [] }) : o.grid;
  const grid: LinearGrid = { ...DEFAULT_LINEAR_GRID, classifier: classifiers, ...(o.loss ? { loss: o.loss } : {}) };
  if (svc?.C.length) Object.assign(grid, { C: svc.C, relativeC: false });
  if (svc?.scale.length) grid.scale = svc.scale;
  if (o.C !== undefined) Object.assign(grid, { C: [o.C], relativeC: false });
  if (o.scale) grid.scale = [o.scale];
  return grid;
}

/**
 * The training policy: one fit when C (or an svc kernel/gamma) is given without folds, a
 * validation share or a grid; otherwise model selection — k-fold (5) up to
 * {@link KFOLD_MAX_ROWS} rows, successive halving on stratified 20 % holdouts above — over svc's
 * grid (when its training sets fit its {@link PRECOMPUTED_MAX_ROWS}-row limit) and the linear
 * classifiers'. `auto`'s single fit is svc up to that limit, linear-svm above (and whenever
 * linear-svm's loss is given), logistic above it with probabilities asked for.
 * With the default folds, a class of fewer than 5 rows lowers them to its count; a class of a
 * single row leaves no validation to do, so the default is then one fit.
 * @param n training rows
 * @param smallestClass rows of the smallest class with rows (default: no limit)
 * @throws CnnfeatError (exit 2) on bad options, options none of the planned classifiers uses, or svc above its size limit
 */
export function planTraining(o: TrainOptions, n: number, smallestClass = Infinity): TrainingPlan {
  checkTrainOptions(o);
  if (smallestClass < 2 && o.folds === undefined && o.valSize === undefined && o.grid === undefined && o.C === undefined) {
    return planTraining({ ...o, C: 1 }, n);
  }
  const plan = planOf(o, n, smallestClass);
  checkOptionsUsed(o, plan);
  return plan;
}

function planOf(o: TrainOptions, n: number, smallestClass: number): TrainingPlan {
  const choice = o.classifier ?? 'auto';
  const svcAxes = o.kernel !== undefined || o.gamma !== undefined || gridNamesKernels(o.grid);
  const single = (o.C !== undefined || o.kernel !== undefined || o.gamma !== undefined) && o.folds === undefined && o.valSize === undefined && o.grid === undefined;
  if (single) {
    const auto: ClassifierKind = svcAxes ? 'svc' : o.loss !== undefined ? 'linear-svm' : n <= PRECOMPUTED_MAX_ROWS ? 'svc' : o.probability ? 'logistic' : 'linear-svm';
    const kind: ClassifierKind = choice === 'auto' ? auto : choice;
    if (kind === 'svc') {
      assertSvcFits(n);
      return { kind: 'fit', spec: { classifier: 'svc', svm: { kernel: o.kernel ?? 'linear', C: o.C ?? 1, gamma: o.gamma ?? 'scale', scale: o.scale ?? 'none', probability: o.probability, classWeight: o.classWeight } } };
    }
    return { kind: 'fit', spec: { classifier: kind, C: o.C ?? 1, scale: o.scale ?? 'none', ...(o.loss ? { loss: o.loss } : {}) } };
  }
  const halving = o.folds === undefined && o.valSize === undefined && n > KFOLD_MAX_ROWS;
  const folds = o.folds ?? (o.valSize === undefined && !halving ? Math.max(2, Math.min(DEFAULT_FOLDS, smallestClass)) : undefined);
  const split = folds !== undefined ? { method: 'stratified-k-fold' as const, folds } : { method: 'holdout' as const, valSize: o.valSize ?? DEFAULT_VAL_SIZE };
  // svc only when its refit on all rows fits as well.
  const wantsSvc = choice === 'svc' || (choice === 'auto' && (svcAxes || n <= PRECOMPUTED_MAX_ROWS));
  if (choice === 'svc' || svcAxes) assertSvcFits(n);
  const linear: LinearClassifier[] = choice === 'auto' && !svcAxes ? LINEAR_CLASSIFIERS.filter((c) => !(o.probability && c === 'linear-svm')) : choice === 'linear-svm' || choice === 'logistic' ? [choice] : [];
  return {
    kind: 'select',
    split,
    ...(halving && !wantsSvc ? { halving: { ...HALVING } } : {}),
    ...(wantsSvc ? { svcGrid: svcGridOf(o) } : {}),
    ...(linear.length ? { linearGrid: linearGridOf(o, linear) } : {}),
  };
}

/** Refuses options that none of the classifiers a plan trains would use (rather than ignoring them). */
function checkOptionsUsed(o: TrainOptions, plan: TrainingPlan): void {
  const kinds: ClassifierKind[] = plan.kind === 'fit' ? [plan.spec.classifier] : [...(plan.svcGrid ? ['svc' as const] : []), ...(plan.linearGrid?.classifier ?? [])];
  const trains = `this training fits ${kinds.join(', ')} only`;
  check(o.loss === undefined || kinds.includes('linear-svm'), `loss (--loss) applies to the classifier linear-svm only; ${trains}`);
  check((o.tol === undefined && o.maxIter === undefined) || kinds.some((k) => k !== 'svc'), `tolerance and iteration cap (--tol, --max-iter) apply to the linear classifiers only; ${trains} (choose one with --classifier linear-svm|logistic)`);
  check(!o.probability || kinds.some((k) => k !== 'linear-svm'), `probabilities (--probability) are not available for linear-svm; ${trains} (use the classifier logistic or svc)`);
}

/**
 * Checks labels: one class index per row, at least two classes with rows, and (for a split)
 * enough rows in every class.
 * @throws CnnfeatError (exit 2) naming the class
 */
function checkLabels(labels: number[], n: number, classes: string[], plan: TrainingPlan, source: string): void {
  check(labels.length === n, `${source}: ${labels.length} labels for ${n} rows`);
  const counts = new Array<number>(classes.length).fill(0);
  for (const label of labels) {
    check(Number.isInteger(label) && label >= 0 && label < classes.length, `${source}: label ${label} is not a class index in [0, ${classes.length - 1}]`);
    counts[label]++;
  }
  const present = counts.filter((c) => c > 0).length;
  check(present >= 2, `${source}: a classifier needs rows of at least 2 classes, got ${present} (${n} rows)`);
  if (plan.kind !== 'select') return;
  const need = plan.split.method === 'holdout' ? 2 : plan.split.folds;
  counts.forEach((count, c) => {
    if (count > 0 && count < need) {
      const why = plan.split.method === 'holdout' ? 'a held-out split (--val-size) needs at least 2' : `cross-validation needs at least the number of folds (--cv ${need})`;
      throw new CnnfeatError(`${source}: class "${classes[c]}" has ${count} row(s); ${why}; give fewer folds, add images of it, or give C (--C) for a single fit`);
    }
  });
}

/** The fit settings of a selection point, with the options' extras. */
function specOf(p: SelectionPoint, o: TrainOptions): FitSpec {
  if (isLinearPoint(p)) return { classifier: p.classifier, C: p.C, scale: p.scale, ...(p.loss ? { loss: p.loss } : {}) };
  return { classifier: 'svc', svm: { kernel: p.kernel, C: p.C, gamma: p.gamma, scale: p.scale, probability: o.probability, classWeight: o.classWeight } };
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
  const seed = o.seed ?? 0;
  const scoring = o.scoring ?? 'balanced_accuracy';
  const classWeight = o.classWeight ?? 'none';
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
      const round1Fold = plan.halving ? subsampleHoldout(labels, plan.halving.rows, DEFAULT_VAL_SIZE, seed) : fold;
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
  check(results.length > 0, 'the grid (--grid) is empty');
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

/** One fit with the given settings. */
async function fit(X: Float32Array, n: number, d: number, labels: number[], classes: string[], spec: FitSpec, o: TrainOptions, hooks: TrainHooks): Promise<ClassifierModel> {
  if (spec.classifier === 'svc') return trainSvm(X, n, d, labels, classes, spec.svm);
  return trainLinear(X, n, d, labels, classes, { ...spec, classWeight: o.classWeight, tol: o.tol, maxIter: o.maxIter, seed: o.seed }, {
    threads: o.threads,
    warn: hooks.warn,
    onProgress: (done, total, detail) => hooks.onProgress?.({ phase: 'fit', done, total, detail: `${spec.classifier} ${detail}` }),
  });
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
  const counts = new Map<number, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  const plan = planTraining(o, n, Math.min(...counts.values()));
  checkMatrix(X, n, d, source);
  checkLabels(labels, n, classes, plan, source);
  hooks.onStart?.(plan);
  let selection: ModelSelection | undefined;
  let spec: FitSpec;
  if (plan.kind === 'select') {
    selection = await runSelection(X, n, d, labels, classes.length, plan, o, hooks);
    spec = specOf(selection.results[selection.best]!.params, o);
  } else spec = plan.spec;
  const started = performance.now();
  const model = await fit(X, n, d, labels, classes, spec, o, hooks);
  return { model, selection, fitSeconds: (performance.now() - started) / 1000 };
}

/** Predictions of any model: labels, the predicted class's score, every class's, and what they are. */
export type Prediction = SvmPrediction;

/**
 * Predicts with any stored model (svc, linear-svm, logistic; files of earlier versions too).
 * @throws CnnfeatError (exit 2) on a corrupt model, a dimension mismatch or non-finite values
 */
export async function predictModel(model: ClassifierModel, X: Float32Array, n: number, d: number): Promise<Prediction> {
  if (model?.type === 'linear') return predictLinear(model, X, n, d);
  return predictSvm(model, X, n, d);
}

/** The kind of classifier of a model. */
export function classifierOf(model: ClassifierModel): ClassifierKind {
  return model.type === 'linear' ? model.options.classifier : 'svc';
}

/** The model's settings in words, e.g. `svc (rbf, C=10, …)` or `logistic, C=1, scale=l2`. */
export function describeModel(model: ClassifierModel): string {
  return model.type === 'linear' ? describeLinear(model.options) : `svc (${describeSvm(model.options)})`;
}

/** Whether a model's prediction scores are probabilities or decision values. */
export function scoreKindOf(model: ClassifierModel): ScoreKind {
  if (model.type === 'linear') return model.options.classifier === 'logistic' ? 'probability' : 'decision';
  return model.options.probability ? 'probability' : 'decision';
}

/**
 * What the scores of a model's predictions are, in words: the kind, then where it comes from,
 * e.g. `probability (softmax)`. Higher ranks first for every kind.
 */
export function scoreMeaning(model: ClassifierModel): string {
  return `${scoreKindName(scoreKindOf(model))} (${scoreSource(model)})`;
}

function scoreSource(model: ClassifierModel): string {
  if (model.type === 'linear') return model.options.classifier === 'logistic' ? 'softmax' : "wᵀx + b of each class's one-vs-rest linear SVM";
  if (model.options.probability) return "libsvm's Platt scaling";
  return model.classes.length === 2
    ? "the SVM's, the other class gets its negative"
    : "one-vs-one votes + a bounded sum of the class's pairwise decision values, as scikit-learn's SVC.decision_function";
}
