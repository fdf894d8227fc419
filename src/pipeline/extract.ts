import path from 'node:path';
import { CnnfeatError, ExitCode } from '../errors.js';
import { fromSystemError } from '../util/fs.js';
import { assertUsableDataset, scanDataset, type Dataset } from '../dataset/scan.js';
import { assertNotSplitRoot } from '../dataset/split.js';
import type { DecodeOptions } from '../image/decode.js';
import { decodeFiles, decodeOptionsOf, toInput } from './batch.js';
import { rowsOfViews, withViews } from './views.js';
import { FeatureWriter } from '../features/writer.js';
import { diffSettings, hashFlagChange, madeWith, featureDirState, manifestFor, planDigest, type Plan, type FeatureManifest, type PlannedFile, type SkippedFile } from '../features/schema.js';
import { readFeatureSet } from '../features/reader.js';
import { withLock } from '../util/lock.js';
import { completePendingUpdate } from '../features/swap.js';
import { planFiles } from './plan-files.js';
import type { ShardSpec } from '../dataset/shard.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { EXTRACT_DEFAULTS } from './defaults.js';
import { withFeatureModel, type FeatureModel, type FeatureModelOptions } from './feature-model.js';
import { StageClock } from './stage-clock.js';
import type { ExtractStages } from '../features/schema.js';
import type { EngineInput } from '../engines/engine.js';

/** Options of `extractFeatures`. */
export interface ExtractOptions extends FeatureModelOptions {
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
  return withFeatureModel(opts, async (featureModel) => {
    const plan: Plan = {
      imageRoot: dataset.root,
      classes: dataset.classes,
      settings: featureModel.settings,
      files,
      ignored: dataset.ignored,
      ...(shard ? { shard } : {}),
    };
    if (state === 'complete' && !opts.overwrite) return reuseFinished(outDir, plan, logger);
    const writer = state === 'partial' && opts.resume ? await FeatureWriter.resume(outDir, plan) : await FeatureWriter.create(outDir, plan);
    try {
      if (writer.resumed) logger.info(`Resuming ${outDir} at file ${writer.next + 1} of ${writer.plan.files.length}`);
      return resultOf(outDir, await runBatches(writer, featureModel, opts, logger));
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

interface DecodedBatch {
  files: PlannedFile[];
  pixels: Buffer[];
  skipped: SkippedFile[];
  /** Plan index after the last file of the batch. */
  end: number;
}

/** Decodes plan[start, end); with `strict`, the first undecodable file is an error. */
async function decodeBatch(writer: FeatureWriter, start: number, end: number, decode: DecodeOptions, strict: boolean): Promise<DecodedBatch> {
  const planned = writer.plan.files.slice(start, end);
  const { ok, pixels, failed } = await decodeFiles(
    planned.map((f) => path.join(writer.plan.imageRoot, f.relPath)),
    decode,
  ).catch((err: unknown) => {
    const known = fromSystemError(err);
    if (!known) throw err;
    throw new CnnfeatError(`${known.message}; the rows so far are kept: fix or restore the file and resume (--resume)`);
  });
  if (strict && failed.length > 0) {
    const file = path.join(writer.plan.imageRoot, planned[failed[0]!.index]!.relPath);
    throw new CnnfeatError(`${file}: ${failed[0]!.reason}; fix or remove the file, or leave strict mode (--strict) off to skip it`);
  }
  return {
    files: ok.map((i) => planned[i]!),
    pixels,
    skipped: failed.map((f) => ({ path: planned[f.index]!.relPath, reason: f.reason })),
    end,
  };
}

/** A batch handed to the engine: what to commit when its features arrive. */
interface SubmittedBatch {
  files: PlannedFile[];
  skipped: SkippedFile[];
  end: number;
  features: Promise<Float32Array>;
  /** The features arrived (or the run failed). */
  settled: boolean;
}

/**
 * The extraction loop. The engine has its next batch queued before it finishes the current one:
 * batch k+1 is decoded and preprocessed while batch k runs, and handed over at once; when k's
 * features arrive the engine is already running k+1, so k is written and checkpointed, and k+2
 * decoded, meanwhile. At most one batch waits ahead of the running one (bounded memory), in the
 * float32 buffer the engine handed back from the batch before. (An engine that runs on this
 * thread has finished k when k+1 is handed over; k+2 is then decoded while k+1 runs.)
 */
async function runBatches(writer: FeatureWriter, fm: FeatureModel, opts: ExtractOptions, logger: Logger): Promise<FeatureManifest> {
  const { settings, extractor } = fm;
  const batchSize = opts.batchSize ?? extractor.batchSize ?? EXTRACT_DEFAULTS.batchSize;
  const decode = decodeOptionsOf(settings);
  const total = writer.plan.files.length;
  const startedAt = Date.now();
  const startRow = writer.rows;
  const secondsBefore = writer.secondsSoFar;
  const elapsed = () => (Date.now() - startedAt) / 1000;
  const progress = logger.progress(total, 'extract', 'img', writer.next);
  const clock = new StageClock(extractor, batchSize);
  const buffers: EngineInput[] = [];
  const nextBatch = (start: number) => {
    if (start >= total) return null;
    const t = performance.now();
    const decoded = decodeBatch(writer, start, Math.min(start + batchSize, total), decode, opts.strict ?? false);
    decoded.then(() => clock.decoded(t), () => {});
    return decoded;
  };
  const submit = (batch: DecodedBatch): SubmittedBatch => {
    const n = batch.files.length;
    let features: Promise<Float32Array> = Promise.resolve(new Float32Array(0));
    if (n > 0) {
      const views = withViews(batch.pixels, settings);
      const input = clock.timeSync('preprocess', () => toInput(views, settings, buffers.pop(), extractor.inputType));
      clock.submitted(views.length);
      // An engine that runs on this thread does its work inside this call: counted as waiting for it.
      features = clock.timeSync('waitEngine', () => extractor.run(input, views.length, { transfer: true, returned: (b) => buffers.push(b) }));
    }
    const submitted: SubmittedBatch = { files: batch.files, skipped: batch.skipped, end: batch.end, features, settled: false };
    const settle = () => void (submitted.settled = true);
    features.then(settle, settle);
    return submitted;
  };
  const commit = async (done: SubmittedBatch) => {
    const features = rowsOfViews(await clock.time('waitEngine', () => done.features), done.files.length, settings);
    await clock.time('write', () => writer.commit(features, done.files, done.skipped, done.end, secondsBefore + elapsed()));
    progress.update(done.end);
  };
  throwIfInterrupted(opts.signal, writer);
  let decoding = nextBatch(writer.next);
  decoding?.catch(() => {});
  let running: SubmittedBatch | null = null;
  try {
    while (decoding || running) {
      let queued: SubmittedBatch | null = null;
      if (decoding) {
        const ready = decoding;
        decoding = null;
        const batch = await clock.time('waitDecode', () => ready).catch(async (err: unknown) => {
          if (running) await commit(running).catch(() => {}); // keep the rows before the failure
          throw err;
        });
        // Nothing runs ahead of `batch`: decode the next one now, before handing `batch` over.
        if (!running || running.settled) decoding = nextBatch(batch.end);
        queued = submit(batch);
      }
      if (running) {
        const finishing = running;
        await clock.time('waitEngine', () => finishing.features.catch(() => {}));
        clock.received();
        // The engine has moved on to `queued`: decode the batch after it while `running` is written.
        if (queued && !decoding) decoding = nextBatch(queued.end);
        await commit(running);
        throwIfInterrupted(opts.signal, writer);
      }
      decoding?.catch(() => {});
      running = queued;
    }
  } finally {
    progress.stop();
    if (decoding) await decoding.catch(() => {});
  }
  const manifest = buildManifest(writer, fm, (writer.rows - startRow) / Math.max(elapsed(), 1e-9), secondsBefore + elapsed(), clock.finish());
  reportFiles(manifest.ignored, 'passed over by the scan', logger);
  reportFiles(manifest.skipped, 'that could not be decoded', logger);
  await writer.finish(manifest);
  if (manifest.counts.rows === 0) {
    throw new CnnfeatError(`${writer.dir}: none of the ${total} images could be decoded (reasons above and in manifest.json); check the image folder`);
  }
  return manifest;
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
