/**
 * The classifier kinds — svc (svc/), linear-svm and logistic (linear/) — as one table: how each
 * is fitted on a whole training set, predicts, and describes its settings and its scores.
 */
import type { ClassWeight } from './common/class-weights.js';
import type { Prediction, ScoreKind } from './common/scores.js';
import type { Scaling } from './linalg/scaling.js';
import { describeLinear, fitLinearModel, LINEAR_CLASSIFIERS, linearClassifierOf, predictLinear, resolveLinearOptions, type FitProgress, type LinearClassifier, type LinearModel, type LinearOptions } from './linear/linear-model.js';
import type { SvmLoss } from './linear/linear-svm.js';
import { defaultFitThreads, FitPool } from './parallel/fit-pool.js';
import { describeSvm, predictSvm, trainSvm, type SvmModel, type SvmOptions } from './svc/svm.js';

/** Classifier choices. */
export const CLASSIFIERS = ['auto', 'svc', ...LINEAR_CLASSIFIERS] as const;
export type ClassifierChoice = (typeof CLASSIFIERS)[number];
export type ClassifierKind = Exclude<ClassifierChoice, 'auto'>;

/** A trained model of any classifier (JSON). */
export type ClassifierModel = SvmModel | LinearModel;

/** The settings of one fit. */
export type FitSpec = { classifier: 'svc'; svm: SvmOptions } | { classifier: LinearClassifier; C: number; scale: Scaling; loss?: SvmLoss };

/** What a fit takes besides its settings: the options every kind shares, and callbacks. */
export interface FitExtras {
  classWeight?: ClassWeight;
  /** Linear classifiers: stopping tolerance, iteration cap, seed of the coordinate order. */
  tol?: number;
  maxIter?: number;
  seed?: number;
  threads?: number;
  warn?: (message: string) => void;
  onProgress?: FitProgress;
}

type ModelOf<K extends ClassifierKind> = K extends 'svc' ? SvmModel : LinearModel;
type SpecOf<K extends ClassifierKind> = K extends 'svc' ? Extract<FitSpec, { classifier: 'svc' }> : Exclude<FitSpec, { classifier: 'svc' }>;

/** What cnnfeat does with a classifier kind. */
interface Kind<K extends ClassifierKind> {
  fit(X: Float32Array, n: number, d: number, labels: number[], classes: string[], spec: SpecOf<K>, extras: FitExtras): Promise<ModelOf<K>>;
  predict(model: ModelOf<K>, X: Float32Array, n: number, d: number): Promise<Prediction>;
  /** The settings in words. */
  describe(model: ModelOf<K>): string;
  scoreKind(model: ModelOf<K>): ScoreKind;
  /** Where the scores come from, in words. */
  scoreSource(model: ModelOf<K>): string;
}

/** The linear classifiers' fit (linear-svm's classes in the fit pool). */
function fitLinear(X: Float32Array, n: number, d: number, labels: number[], classes: string[], spec: SpecOf<LinearClassifier>, extras: FitExtras): Promise<LinearModel> {
  const { classWeight, tol, maxIter, seed, threads, warn, onProgress } = extras;
  return trainLinear(X, n, d, labels, classes, { ...spec, classWeight, tol, maxIter, seed }, { threads, warn, onProgress });
}

const linear = { fit: fitLinear, predict: predictLinear, describe: (model: LinearModel) => describeLinear(model.options) };

/** The table of classifier kinds. */
const KINDS: { [K in ClassifierKind]: Kind<K> } = {
  svc: {
    fit: (X, n, d, labels, classes, spec) => trainSvm(X, n, d, labels, classes, spec.svm),
    predict: predictSvm,
    describe: (model) => `svc (${describeSvm(model.options)})`,
    scoreKind: (model) => (model.options.probability ? 'probability' : 'decision'),
    scoreSource: (model) => {
      if (model.options.probability) return "libsvm's Platt scaling";
      return model.classes.length === 2
        ? "the SVM's, the other class gets its negative"
        : "one-vs-one votes + a bounded sum of the class's pairwise decision values, as scikit-learn's SVC.decision_function";
    },
  },
  'linear-svm': { ...linear, scoreKind: () => 'decision', scoreSource: () => "wᵀx + b of each class's one-vs-rest linear SVM" },
  logistic: { ...linear, scoreKind: () => 'probability', scoreSource: () => 'softmax' },
};

/** The `type` field of each stored model format. */
export const MODEL_TYPES = ['svm', 'linear'] as const satisfies readonly ClassifierModel['type'][];

/**
 * The kind of classifier of a model (files of any version; not a model at all: svc, which refuses it).
 * @throws CnnfeatError (exit 2) on a linear model without a known `options.classifier` (corrupt model)
 */
export function classifierOf(model: ClassifierModel): ClassifierKind {
  return model?.type === 'linear' ? linearClassifierOf(model) : 'svc';
}

/**
 * The table's entry for a model.
 * @throws CnnfeatError (exit 2) as {@link classifierOf}
 */
export function kindOf(model: ClassifierModel): Kind<ClassifierKind> {
  return KINDS[classifierOf(model)];
}

/** One fit of the given settings on all rows. */
export function fitSpec(X: Float32Array, n: number, d: number, labels: number[], classes: string[], spec: FitSpec, extras: FitExtras): Promise<ClassifierModel> {
  const kind: Kind<ClassifierKind> = KINDS[spec.classifier];
  return kind.fit(X, n, d, labels, classes, spec, extras);
}

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
