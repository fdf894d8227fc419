import { CnnfeatError } from '../errors.js';
import { trainSvm, type ClassWeight, type SvmOptions } from '../classifiers/svm.js';
import { classifierFile, type ClassifierFile } from '../classifiers/model-file.js';
import { selectModel, type CvScoring, type Grid, type ModelSelection } from '../classifiers/model-selection.js';
import type { FeatureSet } from '../features/reader.js';
import type { Logger, Progress } from '../util/log.js';

/** Default SVM settings of a single fit: the linear SVC of the original recipe (scikit-learn's `SVC(kernel='linear', C=1)`). */
export const DEFAULT_SVM: SvmOptions = { kernel: 'linear', C: 1, gamma: 'scale', scale: 'none' };

/** Model selection settings: the grid, folds and seed, and what the refit adds. */
export interface SelectionSettings {
  grid: Grid;
  folds: number;
  seed: number;
  scoring?: CvScoring;
  classWeight?: ClassWeight;
  /** Fit Platt probabilities in the final refit. */
  probability?: boolean;
}

/** How to train: one fit with given options, or model selection by cross-validation then a refit. */
export type TrainOptions = { svm: SvmOptions } | { selection: SelectionSettings };

/** Progress callbacks of {@link trainClassifier}. */
export interface TrainProgress {
  /** Cross-validation fits done and total. */
  onCvProgress?: (done: number, total: number) => void;
}

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

/** The SVM options of a selection's best grid point, with the refit extras. */
function bestOptions(selection: ModelSelection, settings: SelectionSettings): SvmOptions {
  const best = selection.results[selection.best]!.params;
  return { ...best, probability: settings.probability, classWeight: settings.classWeight };
}

/**
 * Trains an SVM on a feature set and wraps it with the provenance of its features. With
 * `selection`, the options are first chosen by stratified k-fold cross-validation on this
 * feature set (nothing else is looked at), then refitted on all of it.
 */
export async function trainClassifier(set: FeatureSet, options: TrainOptions = { svm: DEFAULT_SVM }, progress: TrainProgress = {}): Promise<ClassifierFile> {
  const classes = set.manifest.classes.filter((c) => (set.manifest.counts.perClass[c] ?? 0) > 0);
  if (classes.length < 2) {
    throw new CnnfeatError(`${set.dir}: a classifier needs at least 2 classes with images, found ${classes.length} (${classes.join(', ') || 'none'})`);
  }
  const labels = labelIndices(set.labels, classes, set.dir);
  const started = Date.now();
  let selection: ModelSelection | undefined;
  let svmOptions: SvmOptions;
  if ('selection' in options) {
    const s = options.selection;
    selection = await selectModel(set.X, set.rows, set.dim, labels, classes.length, { ...s, onProgress: progress.onCvProgress });
    svmOptions = bestOptions(selection, s);
  } else svmOptions = options.svm;
  const fitStarted = Date.now();
  const svm = await trainSvm(set.X, set.rows, set.dim, labels, classes, svmOptions);
  const perClass = Object.fromEntries(classes.map((c) => [c, set.manifest.counts.perClass[c] ?? 0]));
  const now = Date.now();
  return classifierFile(
    svm,
    set.manifest.settings,
    { dir: set.dir, rows: set.rows, perClass, seconds: (now - started) / 1000, fitSeconds: (now - fitStarted) / 1000 },
    selection,
  );
}

/** One line describing training options, for the log. */
export function describeTraining(options: TrainOptions, rows: number): string {
  if ('svm' in options) {
    const s = options.svm;
    return `Training a ${s.kernel} SVM (C=${s.C}, scale=${s.scale}) on ${rows} rows…`;
  }
  const { grid, folds, scoring } = options.selection;
  const points = grid.scale.length * grid.C.length * grid.kernel.reduce((a, k) => a + (k === 'linear' ? 1 : grid.gamma.length), 0);
  return `Choosing among ${points} SVM settings by ${folds}-fold cross-validation (${scoring}) on ${rows} training rows, then refitting…`;
}

/**
 * {@link trainClassifier} with a log line and a progress bar over the cross-validation grid.
 */
export async function trainWithLogger(set: FeatureSet, options: TrainOptions, logger: Logger): Promise<ClassifierFile> {
  logger.info(describeTraining(options, set.rows));
  let bar: Progress | undefined;
  try {
    return await trainClassifier(set, options, {
      onCvProgress: (done, total) => {
        bar ??= logger.progress(total, 'cv');
        bar.update(done);
      },
    });
  } finally {
    bar?.stop();
  }
}
