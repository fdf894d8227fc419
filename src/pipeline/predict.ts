import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import { exists } from '../util/fs.js';
import { predictModel } from '../classifiers/classifier.js';
import type { ScoreKind } from '../classifiers/common/scores.js';
import { assertSameFeatures, type ClassifierFile } from '../classifiers/model-file.js';
import { runBatchLoop } from './batches/batch-loop.js';
import { batchesAhead, batchSizeFor, withDecoderAndModel, type DecoderChoice } from './setup/decoding.js';
import type { ImageDecoder } from '../image/decoder.js';
import { StageClock } from './batches/stage-clock.js';
import { describeFitting, type FeatureModel } from './setup/feature-model.js';
import type { Logger } from '../util/log.js';
import type { EngineChoice } from '../engines/engine.js';
import type { DeviceRequest } from '../engines/device/choice.js';
import type { TtaMode } from '../image/flip.js';

/**
 * The prediction for one image, or why it has none. `score` is the predicted class's, the
 * highest; `scoreKind` says whether scores are probabilities or decision values.
 */
export type ImagePrediction =
  | { path: string; label: string; score: number; scoreKind: ScoreKind; top?: ClassScore[] }
  | { path: string; error: string };

/** A class and its score (probability or decision value, as the prediction's `scoreKind`). */
export interface ClassScore {
  label: string;
  score: number;
}

/** Options of `predictImages`. */
export interface PredictOptions extends DecoderChoice {
  batchSize?: number;
  engine?: EngineChoice;
  threads?: number;
  /** Where the network runs (as extraction's `device`; default auto). Its precision is the training features'. */
  device?: DeviceRequest | string;
  /** Where the network is now, when it moved since training (its weights digest must match). */
  model?: string;
  logger?: Logger;
  /** Also list the `topK` best classes of each image with their scores. */
  topK?: number;
  /** Test-time augmentation (default: as the classifier's training features were made, `tta` of its file). */
  tta?: TtaMode;
}

/**
 * The `k` highest-scoring classes; among equal scores the predicted class first (the
 * classifier's own tie rule chose it), then class order.
 * @param predicted index of the predicted class
 */
export function topClasses(classScores: number[], classes: string[], k: number, predicted: number): ClassScore[] {
  return classScores
    .map((score, i) => ({ label: classes[i]!, score, i }))
    .sort((a, b) => b.score - a.score || Number(b.i === predicted) - Number(a.i === predicted) || a.i - b.i)
    .slice(0, k)
    .map(({ label, score }) => ({ label, score }));
}

/**
 * Classifies image files with a trained classifier: the images go through the same network,
 * layer, preprocessing, resizing and test-time augmentation as its training features (mirrored
 * training rows, `augment`, add no mirror here: one image, one row).
 */
export async function predictImages(classifier: ClassifierFile, files: string[], opts: PredictOptions = {}): Promise<ImagePrediction[]> {
  const { engine, threads, device, logger } = opts;
  const f = classifier.features;
  const model = opts.model ?? f.model;
  if (!opts.model && path.isAbsolute(f.model) && !(await exists(f.model))) {
    throw new CnnfeatError(`the classifier's network ${f.model} is not there any more; point at it with -m <model.json>`);
  }
  const fitting = { resize: f.resize, cropFraction: f.cropFraction, resizeKernel: f.resizeKernel, tta: opts.tta ?? f.tta, augment: 'none' as const };
  const modelOptions = { model, layer: f.layer, pool: f.pool, preprocess: f.preprocess, input: f.input, ...fitting, icc: f.icc, precision: f.precision, engine, threads, device, logger };
  logger?.info(`${model} ${f.layer}: ${describeFitting(fitting)}${opts.tta === undefined ? " (as the classifier's training features)" : ''}`);
  const { rows, decodedIndex, failures } = await withDecoderAndModel({ ...opts, ...modelOptions }, files.length, async (fm, decoder) => {
    assertSameFeatures(classifier, fm.settings, model, 'pass the -m model the classifier was trained with');
    return featuresOf(fm, decoder, files, batchSizeFor(opts.batchSize, fm));
  });
  const { labels, scores, classScores, scoreKind } = await predictModel(classifier.model, rows, decodedIndex.length, f.dim);
  const results: ImagePrediction[] = files.map((p) => ({ path: p, error: failures.get(p) ?? '' }));
  decodedIndex.forEach((index, i) => {
    const top = opts.topK ? { top: topClasses(classScores[i]!, classifier.classes, opts.topK, labels[i]!) } : {};
    results[index] = { path: files[index]!, label: classifier.classes[labels[i]!]!, score: scores[i]!, scoreKind, ...top };
  });
  return results;
}

/** Features of every decodable file (rows in file order), and why the others failed: extract's batch loop, keeping rows in memory. */
async function featuresOf(fm: FeatureModel, decoder: ImageDecoder, files: string[], batchSize: number) {
  const chunks: Float32Array[] = [];
  const decodedIndex: number[] = [];
  const failures = new Map<string, string>();
  await runBatchLoop({
    files,
    from: 0,
    batchSize,
    featureModel: fm,
    decoder,
    clock: new StageClock(fm.extractor, batchSize),
    ahead: batchesAhead(decoder, batchSize),
    commit: async (batch) => {
      for (const { index, reason } of batch.failed) failures.set(files[index]!, reason);
      chunks.push(batch.features);
      decodedIndex.push(...batch.ok);
    },
  });
  const rows = new Float32Array(decodedIndex.length * fm.settings.dim);
  chunks.reduce((offset, c) => (rows.set(c, offset), offset + c.length), 0);
  return { rows, decodedIndex, failures };
}
