import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import { saveClassifier, type ClassifierFile } from '../classifiers/model-file.js';
import { planTraining } from '../classifiers/classifier.js';
import { checkSeed, checkShare } from '../classifiers/common/checks.js';
import { assertUsableDataset, scanDataset, type Dataset } from '../dataset/scan.js';
import { findGivenSplit, stratifiedSplit } from '../dataset/split.js';
import { readFeatureSet } from '../features/reader.js';
import { rowsPerImage } from '../features/schema.js';
import type { Metrics } from '../metrics/metrics.js';
import { writeReport } from '../report/report.js';
import { isDirectory, writeJsonAtomic } from '../util/fs.js';
import { silentLogger } from '../util/log.js';
import { evaluateClassifier } from './evaluate.js';
import { extractFeatures, type ExtractOptions, type ExtractResult } from './extract.js';
import { describeFitting } from './setup/feature-model.js';
import { RUN_DEFAULTS } from './setup/defaults.js';
import { withDecoderAndModel } from './setup/decoding.js';
import { trainWithLogger, type TrainOptions } from './train.js';

/** Options of `runPipeline`: extraction and SVM options plus the split (`augment` applies to the training side only). */
export interface RunOptions extends ExtractOptions {
  /** How to train (default: `auto`, chosen by cross-validation; see `planTraining`). */
  train?: TrainOptions;

  /** Fraction held out when the dataset has no train/test folders (default 0.2). */
  testSize?: number;
  /** Seed of that split, and of the training's folds and solvers unless `train.seed` is given (default 0), as `run --seed`. */
  seed?: number;
  /** Write `<out>/report.html` (default true). */
  report?: boolean;
  /** Called once both feature directories are written, before training. */
  onExtracted?: () => void;
  /** Wraps the write of the classifier file (the CLI holds signals off during it). */
  saving?: (write: () => Promise<void>) => Promise<void>;

}

/** Everything `run` produced. */
export interface RunResult {
  split: 'given' | 'stratified';
  train: ExtractResult;
  test: ExtractResult;
  metrics: Metrics;
  modelFile: string;
  metricsFile: string;
  /** The HTML report, unless `report: false`. */
  reportFile?: string;
  trainSeconds: number;
  /** The cross-validation table, when the classifier was chosen by cross-validation. */
  selection?: ClassifierFile['selection'];
}

/**
 * The whole recipe: split (given `train/` + `test|val/`, else stratified), extract features of
 * both sides into `<out>/train` and `<out>/test`, train the SVM (`<out>/model.json`), score it
 * on the test side (`<out>/metrics.json`) and write the HTML report (`<out>/report.html`).
 */
export async function runPipeline(datasetDir: string, outDir: string, opts: RunOptions = {}): Promise<RunResult> {
  const logger = opts.logger ?? silentLogger;
  if (opts.testSize !== undefined) checkShare('testSize', opts.testSize);
  if (opts.seed !== undefined) checkSeed('seed', opts.seed);
  const { split, train, test } = await splitDataset(datasetDir, opts);
  const sides = split === 'given' ? ` (${path.basename(train.root)}/ + ${path.basename(test.root)}/)` : '';
  logger.info(`${split} split${sides}: ${train.samples.length} train / ${test.samples.length} test images, ${train.classes.length} classes`);
  const perClass = new Map<string, number>();
  for (const sample of train.samples) perClass.set(sample.label, (perClass.get(sample.label) ?? 0) + 1);
  const trainOptions = { ...opts.train, seed: opts.train?.seed ?? opts.seed };
  planTraining(trainOptions, train.samples.length * rowsPerImage(opts), Math.min(...perClass.values())); // bad options and svc size refusals before hours of extraction
  const images = train.samples.length + test.samples.length;
  const [trainFeatures, testFeatures] = await withDecoderAndModel(opts, images, async (featureModel, decoder) => {
    logger.info(`${featureModel.settings.model} ${featureModel.settings.layer}: ${describeFitting(featureModel.settings)}`);
    const trained = await extractFeatures(train, path.join(outDir, 'train'), { ...opts, featureModel, decoder });
    // Test rows are never augmented: one image, one row, one prediction.
    const testModel = { ...featureModel, settings: { ...featureModel.settings, augment: 'none' as const } };
    return [trained, await extractFeatures(test, path.join(outDir, 'test'), { ...opts, augment: 'none', featureModel: testModel, decoder })];
  });
  opts.onExtracted?.();
  const classifier = await trainWithLogger(await readFeatureSet(path.join(outDir, 'train'), { shared: true }), trainOptions, logger);
  const modelFile = path.join(outDir, 'model.json');
  await (opts.saving ?? ((write) => write()))(() => saveClassifier(modelFile, classifier));
  const testSet = await readFeatureSet(path.join(outDir, 'test'));
  const evaluation = await evaluateClassifier(classifier, testSet);
  const { metrics } = evaluation;
  const metricsFile = path.join(outDir, 'metrics.json');
  await writeJsonAtomic(metricsFile, metrics);
  let reportFile: string | undefined;
  if (opts.report !== false) {
    reportFile = path.join(outDir, 'report.html');
    await writeReport(reportFile, classifier, testSet, evaluation, { title: `cnnfeat run: ${path.basename(path.resolve(datasetDir))}` });
  }
  return {
    split,
    train: trainFeatures,
    test: testFeatures,
    metrics,
    modelFile,
    metricsFile,
    reportFile,
    trainSeconds: classifier.trainedOn.seconds,
    selection: classifier.selection,
  };
}

async function splitDataset(dir: string, opts: RunOptions): Promise<{ split: RunResult['split']; train: Dataset; test: Dataset }> {
  const logger = opts.logger;
  const given = await findGivenSplit(dir);
  if (given) {
    const [train, test] = await Promise.all([scanDataset(given.train), scanDataset(given.test)]);
    assertUsableDataset(train, { minClasses: 2, strict: opts.strict, logger });
    assertUsableDataset(test, { strict: opts.strict, logger });
    const trained = new Set(train.samples.map((s) => s.label));
    const unknown = [...new Set(test.samples.map((s) => s.label))].filter((c) => !trained.has(c));
    if (unknown.length > 0) {
      throw new CnnfeatError(`${given.test}: class folder(s) ${unknown.join(', ')} have no training images in ${given.train}; every test class needs training images`);
    }
    return { split: 'given', train, test };
  }
  if (await isDirectory(path.join(dir, 'train'))) {
    throw new CnnfeatError(`${dir}: has train/ but no test/ or val/ folder; add one, or give a folder of class folders for a stratified split`);
  }
  const all = await scanDataset(dir);
  assertUsableDataset(all, { minClasses: 2, strict: opts.strict, logger });
  return { split: 'stratified', ...stratifiedSplit(all, opts.testSize ?? RUN_DEFAULTS.testSize, opts.seed ?? RUN_DEFAULTS.seed) };
}
