import { CnnfeatError } from '../errors.js';
import { predictModel } from '../classifiers/classifier.js';
import { assertSameFeatures, type ClassifierFile } from '../classifiers/model-file.js';
import type { FeatureSet } from '../features/reader.js';
import { computeMetrics, type Evaluation } from '../metrics/metrics.js';

export type { Evaluation, RowPrediction } from '../metrics/metrics.js';
import { labelIndices } from './train.js';

/**
 * Scores a classifier on a feature set made the same way as its training features.
 * @throws CnnfeatError when the features differ (model, layer, preprocessing, dim), hold unknown
 *   classes or mirrored rows (`augment: 'flip'`: each image would count twice).
 */
export async function evaluateClassifier(classifier: ClassifierFile, set: FeatureSet): Promise<Evaluation> {
  assertSameFeatures(classifier, set.manifest.settings, set.dir);
  if (set.views) {
    throw new CnnfeatError(`${set.dir}: holds mirrored rows (extracted with --augment flip), which would count each image twice; score on features extracted without --augment (with --tta flip to use mirrors at test time)`);
  }
  const truth = labelIndices(set.labels, classifier.classes, set.dir);
  const { labels, scores } = await predictModel(classifier.model, set.X, set.rows, set.dim);
  const predictions = set.paths.map((p, i) => ({
    path: p,
    label: set.labels[i]!,
    predicted: classifier.classes[labels[i]!]!,
    score: scores[i]!,
  }));
  return { metrics: computeMetrics(truth, labels, classifier.classes), predictions };
}
