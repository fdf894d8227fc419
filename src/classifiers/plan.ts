/**
 * The training policy: from the options and the size of the training set, one fit or a model
 * selection (which classifiers, which grids, how the rows are split), with every default of
 * TRAIN_DEFAULTS applied and the options no planned classifier would use refused.
 */
import { CnnfeatError, optionName } from '../errors.js';
import { LINEAR_CLASSIFIERS, type LinearClassifier } from './linear/linear-model.js';
import type { ClassifierKind, FitSpec } from './kinds.js';
import { checkTrainOptions, TRAIN_DEFAULTS, type TrainOptions } from './options.js';
import { gridOf } from './selection/grid.js';
import { isLinearPoint, type Grid, type LinearGrid, type SelectionPlan, type SelectionPoint } from './selection/types.js';
import { assertSvcFits } from './svc/svm.js';

/** How training will go: one fit, or a model selection (halving by default above TRAIN_DEFAULTS.kfoldMaxRows rows) and the fit of its best. */
export type TrainingPlan = { kind: 'fit'; spec: FitSpec } | ({ kind: 'select' } & SelectionPlan);

/** A grid with no value on any axis: the `grid` option over it says which axes the option names. */
const NO_AXES: Grid = { kernel: [], C: [], gamma: [], scale: [] };

/** Whether a grid names kernels or gammas (then it is a grid of svc alone). */
function gridNamesKernels(grid: TrainOptions['grid']): boolean {
  if (grid === undefined) return false;
  const given = gridOf(grid, NO_AXES);
  return given.kernel.length > 0 || given.gamma.length > 0;
}

/** The svc grid of the options: `grid` (or the default) with the axes the options fix. */
function svcGridOf(o: TrainOptions): Grid {
  const grid = o.grid === undefined ? { ...TRAIN_DEFAULTS.grid } : gridOf(o.grid, TRAIN_DEFAULTS.grid);
  if (o.kernel) grid.kernel = [o.kernel];
  if (o.C !== undefined) grid.C = [o.C];
  if (o.gamma !== undefined) grid.gamma = [o.gamma];
  if (o.scale) grid.scale = [o.scale];
  return grid;
}

/** The linear grid of the options (C given: absolute; else the default relative grid). */
function linearGridOf(o: TrainOptions, classifiers: LinearClassifier[]): LinearGrid {
  const svc = o.grid === undefined ? undefined : gridOf(o.grid, NO_AXES);
  const grid: LinearGrid = { ...TRAIN_DEFAULTS.linearGrid, classifier: classifiers, ...(o.loss ? { loss: o.loss } : {}) };
  if (svc?.C.length) Object.assign(grid, { C: svc.C, relativeC: false });
  if (svc?.scale.length) grid.scale = svc.scale;
  if (o.C !== undefined) Object.assign(grid, { C: [o.C], relativeC: false });
  if (o.scale) grid.scale = [o.scale];
  return grid;
}

/**
 * The training policy: one fit when C (or an svc kernel/gamma) is given without folds, a
 * validation share or a grid; otherwise model selection — k-fold up to
 * TRAIN_DEFAULTS.kfoldMaxRows rows, successive halving on stratified holdouts above — over svc's
 * grid (when its training sets fit its TRAIN_DEFAULTS.svcMaxRows-row limit) and the linear
 * classifiers'. `auto`'s single fit is svc up to that limit, linear-svm above (and whenever
 * linear-svm's loss is given), logistic above it with probabilities asked for.
 * With the default folds, a class of fewer rows than them lowers them to its count; a class of a
 * single row leaves no validation to do, so the default is then one fit.
 * @param n training rows
 * @param smallestClass rows of the smallest class with rows (default: no limit)
 * @throws CnnfeatError (exit 2) on bad options, options none of the planned classifiers uses, or svc above its size limit
 */
export function planTraining(o: TrainOptions, n: number, smallestClass = Infinity): TrainingPlan {
  checkTrainOptions(o);
  if (smallestClass < 2 && o.folds === undefined && o.valSize === undefined && o.grid === undefined && o.C === undefined) {
    return planTraining({ ...o, C: TRAIN_DEFAULTS.C }, n);
  }
  const plan = planOf(o, n, smallestClass);
  checkOptionsUsed(o, plan);
  return plan;
}

function planOf(o: TrainOptions, n: number, smallestClass: number): TrainingPlan {
  const D = TRAIN_DEFAULTS;
  const choice = o.classifier ?? D.classifier;
  const svcAxes = o.kernel !== undefined || o.gamma !== undefined || gridNamesKernels(o.grid);
  const single = (o.C !== undefined || o.kernel !== undefined || o.gamma !== undefined) && o.folds === undefined && o.valSize === undefined && o.grid === undefined;
  if (single) {
    const auto: ClassifierKind = svcAxes ? 'svc' : o.loss !== undefined ? 'linear-svm' : n <= D.svcMaxRows ? 'svc' : o.probability ? 'logistic' : 'linear-svm';
    const kind: ClassifierKind = choice === 'auto' ? auto : choice;
    if (kind === 'svc') {
      assertSvcFits(n);
      return { kind: 'fit', spec: { classifier: 'svc', svm: { kernel: o.kernel ?? D.kernel, C: o.C ?? D.C, gamma: o.gamma ?? D.gamma, scale: o.scale ?? D.scale, probability: o.probability, classWeight: o.classWeight } } };
    }
    return { kind: 'fit', spec: { classifier: kind, C: o.C ?? D.C, scale: o.scale ?? D.scale, ...(o.loss ? { loss: o.loss } : {}) } };
  }
  const halving = o.folds === undefined && o.valSize === undefined && n > D.kfoldMaxRows;
  const folds = o.folds ?? (o.valSize === undefined && !halving ? Math.max(2, Math.min(D.folds, smallestClass)) : undefined);
  const split = folds !== undefined ? { method: 'stratified-k-fold' as const, folds } : { method: 'holdout' as const, valSize: o.valSize ?? D.valSize };
  // svc only when its refit on all rows fits as well.
  const wantsSvc = choice === 'svc' || (choice === 'auto' && (svcAxes || n <= D.svcMaxRows));
  if (choice === 'svc' || svcAxes) assertSvcFits(n);
  const linear: LinearClassifier[] = choice === 'auto' && !svcAxes ? LINEAR_CLASSIFIERS.filter((c) => !(o.probability && c === 'linear-svm')) : choice === 'linear-svm' || choice === 'logistic' ? [choice] : [];
  return {
    kind: 'select',
    split,
    ...(halving && !wantsSvc ? { halving: { ...D.halving } } : {}),
    ...(wantsSvc ? { svcGrid: svcGridOf(o) } : {}),
    ...(linear.length ? { linearGrid: linearGridOf(o, linear) } : {}),
  };
}

/** Refuses options that none of the classifiers a plan trains would use (rather than ignoring them). */
function checkOptionsUsed(o: TrainOptions, plan: TrainingPlan): void {
  const kinds: ClassifierKind[] = plan.kind === 'fit' ? [plan.spec.classifier] : [...(plan.svcGrid ? ['svc' as const] : []), ...(plan.linearGrid?.classifier ?? [])];
  const trains = `this training fits ${kinds.join(', ')} only`;
  const refuse = (message: string) => {
    throw new CnnfeatError(message);
  };
  if (o.loss !== undefined && !kinds.includes('linear-svm')) refuse(`${optionName('loss')} applies to the classifier linear-svm only; ${trains}`);
  if ((o.tol !== undefined || o.maxIter !== undefined) && kinds.every((k) => k === 'svc')) {
    refuse(`${optionName('tol')} and ${optionName('maxIter')} apply to the linear classifiers only; ${trains} (choose one with ${optionName('classifier', 'linear-svm|logistic')})`);
  }
  if (o.probability && kinds.every((k) => k === 'linear-svm')) refuse(`${optionName('probability')} (Platt probabilities) is not available for linear-svm; ${trains} (use the classifier logistic or svc)`);
}

/**
 * Fails unless every class with rows has enough of them for the plan's split.
 * @param counts rows of each class, or groups of rows (images) when `grouped`
 * @throws CnnfeatError (exit 2) naming the class
 */
export function checkClassSizes(counts: number[], classes: string[], plan: TrainingPlan, source: string, grouped = false): void {
  if (plan.kind !== 'select') return;
  const holdout = plan.split.method === 'holdout';
  const need = plan.split.method === 'holdout' ? 2 : plan.split.folds;
  const c = counts.findIndex((count) => count > 0 && count < need);
  if (c < 0) return;
  const why = holdout ? `a held-out split (${optionName('valSize')}) needs at least 2` : `cross-validation needs at least the number of folds (${optionName('folds', need)})`;
  const fixes = `${holdout ? '' : 'give fewer folds, '}add images of it, or give ${optionName('C')} for a single fit`;
  throw new CnnfeatError(`${source}: class "${classes[c]}" has ${counts[c]} ${grouped ? 'image(s)' : 'row(s)'}; ${why}; ${fixes}`);
}

/** The fit settings of a selection point, with the options' extras. */
export function specOf(p: SelectionPoint, o: TrainOptions): FitSpec {
  if (isLinearPoint(p)) return { classifier: p.classifier, C: p.C, scale: p.scale, ...(p.loss ? { loss: p.loss } : {}) };
  return { classifier: 'svc', svm: { kernel: p.kernel, C: p.C, gamma: p.gamma, scale: p.scale, probability: o.probability, classWeight: o.classWeight } };
}
