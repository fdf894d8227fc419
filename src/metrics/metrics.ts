/**
 * Classification metrics with scikit-learn's definitions and zero-division
 * convention (an undefined ratio counts as 0, as `zero_division="warn"` returns).
 */
import { CnnfeatError } from '../errors.js';

/** Per-class scores. */
export interface ClassMetrics {
  class: string;
  /** TP / (TP + FP); 0 if the class was never predicted. */
  precision: number;
  /** TP / (TP + FN); 0 if the class has no true samples. */
  recall: number;
  /** 2TP / (2TP + FP + FN); 0 if the class is neither present nor predicted. */
  f1: number;
  /** Number of true samples of the class. */
  support: number;
}

/** Evaluation of predictions against ground truth. */
export interface Metrics {
  /** correct / total (0 for no samples). */
  accuracy: number;
  /** Mean recall over the classes present in yTrue (sklearn's balanced_accuracy_score). */
  balancedAccuracy: number;
  /** Mean F1 over the classes present in yTrue or yPred (sklearn's f1_score(average='macro')). */
  macroF1: number;
  classes: string[];
  /** One entry per class of `classes`, in order, including absent classes. */
  perClass: ClassMetrics[];
  /** `confusionMatrix[t][p]` = number of samples of true class t predicted as p. */
  confusionMatrix: number[][];
  counts: { total: number; correct: number };
}

/**
 * `a / b`, or 0 when `b` is 0 (scikit-learn's default zero-division result).
 */
export function safeDivide(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/**
 * Checks that both label vectors have the same length and hold class indices.
 * @throws CnnfeatError (exit 2) otherwise
 */
function checkLabelVectors(yTrue: number[], yPred: number[], nClasses: number): void {
  if (yTrue.length !== yPred.length) {
    throw new CnnfeatError(`metrics: ${yTrue.length} true labels but ${yPred.length} predictions`);
  }
  for (const [name, y] of [['true label', yTrue], ['prediction', yPred]] as const) {
    const bad = y.find((v) => !Number.isInteger(v) || v < 0 || v >= nClasses);
    if (bad !== undefined) {
      throw new CnnfeatError(`metrics: ${name} ${bad} is not a class index in [0, ${nClasses - 1}]`);
    }
  }
}

/**
 * Confusion matrix of class indices.
 * @param yTrue true class indices
 * @param yPred predicted class indices, same length
 * @param nClasses number of classes k
 * @returns k x k counts, rows = true class, columns = predicted class
 */
export function confusionMatrix(yTrue: number[], yPred: number[], nClasses: number): number[][] {
  const cm = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) cm[yTrue[i]][yPred[i]]++;
  return cm;
}

/**
 * Precision, recall, F1 and support of class `c` from a confusion matrix.
 * @param cm confusion matrix (rows = true)
 * @param c class index
 * @param name class name to report
 */
export function classMetrics(cm: number[][], c: number, name: string): ClassMetrics {
  const tp = cm[c][c];
  const support = cm[c].reduce((a, b) => a + b, 0);
  const predicted = cm.reduce((a, row) => a + row[c], 0);
  const fp = predicted - tp;
  const fn = support - tp;
  return {
    class: name,
    precision: safeDivide(tp, predicted),
    recall: safeDivide(tp, support),
    f1: safeDivide(2 * tp, 2 * tp + fp + fn),
    support,
  };
}

/** Mean of the values, 0 for none. */
function mean(values: number[]): number {
  return safeDivide(
    values.reduce((a, b) => a + b, 0),
    values.length,
  );
}

/**
 * Computes accuracy, balanced accuracy, macro F1, per-class scores and the confusion matrix.
 *
 * Follows scikit-learn: balanced accuracy averages recall over the classes present in
 * `yTrue`; macro F1 averages F1 over the classes present in `yTrue` or `yPred` (classes in
 * neither are listed in `perClass` with zeros but not averaged); undefined ratios are 0.
 *
 * @param yTrue true class indices into `classes`
 * @param yPred predicted class indices into `classes`, same length
 * @param classes class names
 * @throws CnnfeatError (exit 2) on a length mismatch or an index outside `classes`
 */
export function computeMetrics(yTrue: number[], yPred: number[], classes: string[]): Metrics {
  checkLabelVectors(yTrue, yPred, classes.length);
  const cm = confusionMatrix(yTrue, yPred, classes.length);
  const perClass = classes.map((name, c) => classMetrics(cm, c, name));
  const correct = classes.reduce((a, _, c) => a + cm[c][c], 0);
  const predictedCount = (c: number) => cm.reduce((a, row) => a + row[c], 0);
  const inTrue = perClass.filter((m) => m.support > 0);
  const inTrueOrPred = perClass.filter((m, c) => m.support > 0 || predictedCount(c) > 0);
  return {
    accuracy: safeDivide(correct, yTrue.length),
    balancedAccuracy: mean(inTrue.map((m) => m.recall)),
    macroF1: mean(inTrueOrPred.map((m) => m.f1)),
    classes: [...classes],
    perClass,
    confusionMatrix: cm,
    counts: { total: yTrue.length, correct },
  };
}

/** One test row's outcome. */
export interface RowPrediction {
  path: string;
  label: string;
  predicted: string;
  score: number;
}

/** Metrics of a classifier on a feature set, with each row's prediction. */
export interface Evaluation {
  metrics: Metrics;
  predictions: RowPrediction[];
}
