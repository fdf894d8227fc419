import { predictSvm } from '../classifiers/svm.js';
import { assertSameFeatures, type ClassifierFile } from '../classifiers/model-file.js';
import { decodeFiles, decodeOptionsOf, toInput } from './batch.js';
import { loadFeatureModel } from './feature-model.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import type { BackendChoice } from '../engines/backend.js';

/** The prediction for one image, or why it has none. */
export type ImagePrediction =
  | { path: string; label: string; score: number }
  | { path: string; error: string };

/** Options of `predictImages`. */
export interface PredictOptions {
  batchSize?: number;
  backend?: BackendChoice;
  /** Where the network is now, when it moved since training (its weights digest must match). */
  model?: string;
  logger?: Logger;
}

/**
 * Classifies image files with a trained classifier: the images go through the same network,
 * layer, preprocessing and resizing as its training features.
 */
export async function predictImages(classifier: ClassifierFile, files: string[], opts: PredictOptions = {}): Promise<ImagePrediction[]> {
  const { batchSize = 32, backend, logger = silentLogger } = opts;
  const f = classifier.features;
  const model = opts.model ?? f.model;
  const fm = await loadFeatureModel({ model, layer: f.layer, preprocess: f.preprocess, resize: f.resize, kernel: f.kernel, backend, logger });
  try {
    assertSameFeatures(classifier, fm.settings, model);
    const results: ImagePrediction[] = [];
    for (let start = 0; start < files.length; start += batchSize) {
      const chunk = files.slice(start, start + batchSize);
      const decoded = await decodeFiles(chunk, decodeOptionsOf(fm.settings));
      const out: ImagePrediction[] = chunk.map((p) => ({ path: p, error: '' }));
      for (const { index, reason } of decoded.failed) out[index] = { path: chunk[index]!, error: reason };
      if (decoded.ok.length > 0) {
        const X = await fm.extractor.run(toInput(decoded.pixels, fm.settings), decoded.ok.length);
        const { labels, scores } = await predictSvm(classifier.svm, X, decoded.ok.length, fm.settings.dim);
        decoded.ok.forEach((index, i) => {
          out[index] = { path: chunk[index]!, label: classifier.classes[labels[i]!]!, score: scores[i]! };
        });
      }
      results.push(...out);
    }
    return results;
  } finally {
    fm.extractor.dispose();
  }
}
