/**
 * Class weights: how much a margin violation (svc, linear-svm) or a row's loss (logistic) of
 * each class counts.
 */

/** Class weighting choices. */
export const CLASS_WEIGHTS = ['none', 'balanced'] as const;
export type ClassWeight = (typeof CLASS_WEIGHTS)[number];

/** The class weighting when none is given (TRAIN_DEFAULTS.classWeight). */
export const DEFAULT_CLASS_WEIGHT: ClassWeight = 'none';

/**
 * scikit-learn's `class_weight='balanced'`: n_samples / (n_classes · n_c) for each class c
 * with samples (n_classes counts those), 1 for classes without.
 * @param labels class index per sample
 * @param nClasses number of class indices
 */
export function balancedClassWeights(labels: number[], nClasses: number): number[] {
  const counts = new Array<number>(nClasses).fill(0);
  for (const label of labels) counts[label]++;
  const present = counts.filter((c) => c > 0).length;
  return counts.map((c) => (c > 0 ? labels.length / (present * c) : 1));
}

/**
 * The per-class weights of a class weighting on some training labels: {@link balancedClassWeights}
 * for `balanced`, none (every class 1) otherwise.
 */
export function classWeightsFor(classWeight: ClassWeight | undefined, labels: number[], nClasses: number): number[] | undefined {
  return classWeight === 'balanced' ? balancedClassWeights(labels, nClasses) : undefined;
}
