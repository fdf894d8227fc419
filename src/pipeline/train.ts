import { CnnfeatError } from '../errors.js';
import { trainSvm, type SvmOptions } from '../classifiers/svm.js';
import { classifierFile, type ClassifierFile } from '../classifiers/model-file.js';
import type { FeatureSet } from '../features/store.js';

/** Default SVM settings: the linear SVC of the original recipe (scikit-learn's `SVC(kernel='linear', C=1)`). */
export const DEFAULT_SVM: SvmOptions = { kernel: 'linear', C: 1, gamma: 'scale', scale: 'none' };

/** Class index of each row, for the class list of the feature set. */
export function labelIndices(labels: string[], classes: string[], source: string): number[] {
  const index = new Map(classes.map((c, i) => [c, i]));
  return labels.map((label) => {
    const i = index.get(label);
    if (i === undefined) {
      throw new CnnfeatError(
        `${source}: class "${label}" is not among the classifier's classes (${classes.join(', ')}); train with images of it, or leave that folder out`,
      );
    }
    return i;
  });
}

/** Trains an SVM on a feature set and wraps it with the provenance of its features. */
export async function trainClassifier(set: FeatureSet, options: SvmOptions = DEFAULT_SVM): Promise<ClassifierFile> {
  const classes = set.manifest.classes.filter((c) => (set.manifest.counts.perClass[c] ?? 0) > 0);
  if (classes.length < 2) {
    throw new CnnfeatError(`${set.dir}: a classifier needs at least 2 classes with images, found ${classes.length} (${classes.join(', ') || 'none'})`);
  }
  const started = Date.now();
  const svm = await trainSvm(set.X, set.rows, set.dim, labelIndices(set.labels, classes, set.dir), classes, options);
  const perClass = Object.fromEntries(classes.map((c) => [c, set.manifest.counts.perClass[c] ?? 0]));
  return classifierFile(svm, set.manifest.settings, {
    dir: set.dir,
    rows: set.rows,
    perClass,
    seconds: (Date.now() - started) / 1000,
  });
}
