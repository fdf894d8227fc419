import { predictModel } from '../classifiers/classifier.js';
import { assertSameFeatures, type ClassifierFile } from '../classifiers/model-file.js';
import type { FeatureSet } from '../features/reader.js';
import { computeMetrics, type Evaluation } from '../metrics/metrics.js';

export type { Evaluation, RowPrediction } from '../metrics/metrics.js';
import { labelIndices } from './train.js';

/**
 * Scores a classifier on a feature set made the same way as its training features.
 * @throws CnnfeatError when the features differ (model, layer, preprocessing, dim) or hold unknown classes.
 */
export async function evaluateClassifier(classifier: ClassifierFile, set: FeatureSet): Promise<Evaluation> {
  assertSameFeatures(classifier, set.manifest.settings, set.dir);
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
