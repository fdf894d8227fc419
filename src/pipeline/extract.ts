import path from 'node:path';
import { CnnfeatError, ExitCode } from '../errors.js';
import { fromSystemError } from '../util/fs.js';
import { assertUsableDataset, scanDataset, type Dataset } from '../dataset/scan.js';
import { assertNotSplitRoot } from '../dataset/split.js';
import { runBatchLoop, type DecodedBatch } from './batches/batch-loop.js';
import { batchesAhead, batchSizeFor, withDecoderAndModel, type DecoderChoice } from './setup/decoding.js';
import { statsBetween, type ImageDecoder } from '../image/decoder.js';
import { FeatureWriter } from '../features/writer.js';
import { diffSettings, hashFlagChange, madeWith, featureDirState, manifestFor, planDigest, rowsPerImage, type Plan, type FeatureManifest, type PlannedFile, type SkippedFile } from '../features/schema.js';
import { readFeatureSet } from '../features/reader.js';
import { withLock } from '../util/lock.js';
import { completePendingUpdate } from '../features/swap.js';
import { planFiles } from './plan-files.js';
import type { ShardSpec } from '../dataset/shard.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import type { FeatureModel, FeatureModelOptions } from './setup/feature-model.js';
import { StageClock } from './batches/stage-clock.js';
import type { ExtractStages } from '../features/schema.js';

/** Options of `extractFeatures`. */
export interface ExtractOptions extends FeatureModelOptions, DecoderChoice {
  /** Images per forward pass (default: the engine's for its device, 32 on the CPU, 32/64 on a GPU in fp32/fp16). */
  batchSize?: number;
  /** The top folders are classes even where they look like a given split (`train/`, `val/`); see `assertNotSplitRoot`. */
  topFoldersAreClasses?: boolean;
  /** Fail at the first undecodable file instead of skipping it. */
  strict?: boolean;
  /** Continue an interrupted extraction in the output directory. */
  resume?: boolean;
  /** Replace a finished or unfinished extraction in the output directory. */
  overwrite?: boolean;
  /** Record a sha256 of each file's content, so that `--update --hash` can compare content. */
  hash?: boolean;
  /** Extract only this part of the file list (see `selectShard`); merge the parts with `mergeFeatureDirs`. */
  shard?: ShardSpec;
  /** An already loaded model (e.g. shared by the train and test extractions of `run`). */
  featureModel?: FeatureModel;
  /**
   * Stops after the current batch is checkpointed (the directory stays resumable); a numeric
   * abort reason becomes the error's exit code.
   */
  signal?: AbortSignal;
}

/** What an extraction produced (also the `extract --json` object). */
export interface ExtractResult {
  outDir: string;
  rows: number;
  dim: number;
  skipped: SkippedFile[];
  imagesPerSecond: number;
  engine: string;
  manifest: FeatureManifest;
}

/**
 * Extracts features of every image under `images` (a folder laid out as `<class>/.../<image>`,
 * or an already scanned dataset) into the feature directory `outDir`.
 */
export async function extractFeatures(images: string | Dataset, outDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const logger = opts.logger ?? silentLogger;
  const scanned = typeof images === 'string';
  const dataset = scanned ? await scanDataset(images) : images;
  if (scanned) assertNotSplitRoot(dataset, opts, images);
  assertUsableDataset(dataset, { strict: opts.strict, logger: scanned ? logger : undefined });
  return withLock(outDir, 'extract', logger, () => extractLocked(dataset, outDir, opts, logger));
}

/** The extraction proper, run while holding the output directory's lock. */
async function extractLocked(dataset: Dataset, outDir: string, opts: ExtractOptions, logger: Logger): Promise<ExtractResult> {
  await completePendingUpdate(outDir, logger);
  const state = await featureDirState(outDir);
  assertWritable(outDir, state, opts);
  const { files, shard } = await planFiles(dataset, opts);
  const reusing = state === 'complete' && !opts.overwrite;
  return withDecoderAndModel(opts, reusing ? 0 : files.length, async (featureModel, decoder) => {
    const plan: Plan = {
      imageRoot: dataset.root,
      classes: dataset.classes,
      settings: featureModel.settings,
      files,
      ignored: dataset.ignored,
      ...(shard ? { shard } : {}),
    };
    if (reusing) return reuseFinished(outDir, plan, logger);
    const writer = state === 'partial' && opts.resume ? await FeatureWriter.resume(outDir, plan) : await FeatureWriter.create(outDir, plan);
    try {
      if (writer.resumed) logger.info(`Resuming ${outDir} at file ${writer.next + 1} of ${writer.plan.files.length}`);
      return resultOf(outDir, await runBatches(writer, featureModel, decoder, opts, logger));
    } finally {
      await writer.close();
    }
  });
}

/** `--resume` on a finished directory: its features are reused if they were made the same way. */
async function reuseFinished(outDir: string, plan: Plan, logger: Logger): Promise<ExtractResult> {
  const { manifest } = await readFeatureSet(outDir);
  const changed = diffSettings(manifest.settings, plan.settings);
  if (changed.length > 0 || manifest.planDigest !== planDigest(plan)) {
    const hashFlag = manifest.files ? hashFlagChange(manifest.files, plan.files) : null;
    if (changed.length === 0 && hashFlag) throw new CnnfeatError(`${outDir}: ${hashFlag}`);
    if (changed.length > 0) throw new CnnfeatError(`${outDir} is finished but ${madeWith(manifest.settings, plan.settings, changed, 'reuse it')}`);
    throw new CnnfeatError(`${outDir} is finished but was made with a different image folder or file list; overwrite it (--overwrite), or update it (--update) to process only new, changed and removed files`);
  }
  if (manifest.counts.rows === 0) throw new CnnfeatError(`${outDir}: none of its images could be decoded; fix the images and overwrite it (--overwrite)`);
  logger.info(`${outDir} is already complete; reusing it`);
  return resultOf(outDir, manifest);
}

function assertWritable(outDir: string, state: string, opts: ExtractOptions): void {
  if (opts.overwrite || state === 'empty') return;
  if (state === 'complete' && !opts.resume) {
    throw new CnnfeatError(`${outDir} already holds finished features; reuse them (--resume), replace them (--overwrite) or choose another output folder`);
  }
  if (state === 'partial' && !opts.resume) {
    throw new CnnfeatError(`${outDir} holds an unfinished extraction; resume it (--resume) or start over, overwriting it (--overwrite)`);
  }
  if (state === 'foreign') {
    throw new CnnfeatError(`${outDir} has features.npy/samples.csv not written by a cnnfeat run; overwrite them (--overwrite) or choose another output folder`);
  }
}

/** The result object of a finished feature directory. */
export function resultOf(outDir: string, manifest: FeatureManifest): ExtractResult {
  return {
    outDir,
    rows: manifest.counts.rows,
    dim: manifest.settings.dim,
    skipped: manifest.skipped,
    imagesPerSecond: manifest.timings.imagesPerSecond,
    engine: manifest.engine.engine,
    manifest,
  };
}

/**
 * Runs the batch loop over the plan's files from the writer's checkpoint, committing each batch's
 * rows and skipped files; then writes the manifest.
 */
async function runBatches(writer: FeatureWriter, fm: FeatureModel, decoder: ImageDecoder, opts: ExtractOptions, logger: Logger): Promise<FeatureManifest> {
  const batchSize = batchSizeFor(opts.batchSize, fm);
  const { imageRoot, files: planned } = writer.plan;
  const total = planned.length;
  // Also waits until the decoder processes are up: their start-up, like the network's loading, is not decoding time.
  const decoderAtStart = await decoder.stats();
  const startedAt = Date.now();
  const startRow = writer.rows;
  const secondsBefore = writer.secondsSoFar;
  const elapsed = () => (Date.now() - startedAt) / 1000;
  const progress = logger.progress(total, 'extract', 'img', writer.next);
  const clock = new StageClock(fm.extractor, batchSize);
  let stages: ExtractStages;
  try {
    throwIfInterrupted(opts.signal, writer);
    await runBatchLoop({
      files: planned.map((f) => path.join(imageRoot, f.relPath)),
      from: writer.next,
      batchSize,
      featureModel: fm,
      decoder,
      clock,
      ahead: batchesAhead(decoder, batchSize),
      checkDecoded: opts.strict ? (batch) => assertNoFailure(batch, imageRoot, planned) : undefined,
      readError: (err) => {
        const known = fromSystemError(err);
        return known ? new CnnfeatError(`${known.message}; the rows so far are kept: fix or restore the file and resume (--resume)`) : err;
      },
      commit: async (batch) => {
        const skipped = batch.failed.map((f) => ({ path: planned[f.index]!.relPath, reason: f.reason }));
        await writer.commit(batch.features, batch.ok.map((i) => planned[i]!), skipped, batch.end, secondsBefore + elapsed());
        progress.update(batch.end);
      },
      afterCommit: () => throwIfInterrupted(opts.signal, writer),
    });
    stages = clock.finish(statsBetween(decoderAtStart, await decoder.stats()));
  } finally {
    progress.stop();
  }
  const images = (writer.rows - startRow) / rowsPerImage(fm.settings);
  const manifest = buildManifest(writer, fm, images / Math.max(elapsed(), 1e-9), secondsBefore + elapsed(), stages);
  reportFiles(manifest.ignored, 'passed over by the scan', logger);
  reportFiles(manifest.skipped, 'that could not be decoded', logger);
  await writer.finish(manifest);
  if (manifest.counts.rows === 0) {
    throw new CnnfeatError(`${writer.dir}: none of the ${total} images could be decoded (reasons above and in manifest.json); check the image folder`);
  }
  return manifest;
}

/** Strict mode: the first undecodable file of a batch is an error. */
function assertNoFailure(batch: DecodedBatch, imageRoot: string, planned: PlannedFile[]): void {
  const first = batch.failed[0];
  if (!first) return;
  const file = path.join(imageRoot, planned[first.index]!.relPath);
  throw new CnnfeatError(`${file}: ${first.reason}; fix or remove the file, or leave strict mode (--strict) off to skip it`);
}

function throwIfInterrupted(signal: AbortSignal | undefined, writer: FeatureWriter): void {
  if (!signal?.aborted) return;
  const code = typeof signal.reason === 'number' ? signal.reason : ExitCode.interrupted;
  throw new CnnfeatError(`interrupted; ${writer.rows} rows are saved in ${writer.dir}, resume (--resume) to continue`, code);
}

function buildManifest(writer: FeatureWriter, fm: FeatureModel, imagesPerSecond: number, seconds: number, stages: ExtractStages): FeatureManifest {
  return manifestFor(writer.plan, {
    rows: writer.rows,
    skipped: writer.skipped,
    engine: fm.extractor.describe(),
    seconds,
    imagesPerSecond,
    resumed: writer.resumed,
    stages,
  });
}

/** Summarises skipped or ignored files on stderr (the first 20). */
export function reportFiles(files: SkippedFile[], what: string, logger: Logger): void {
  if (files.length === 0) return;
  logger.warn(`${files.length} file(s) ${what} (listed in manifest.json):`);
  for (const s of files.slice(0, 20)) logger.warn(`  ${s.path}: ${s.reason}`);
  if (files.length > 20) logger.warn(`  … and ${files.length - 20} more`);
}
