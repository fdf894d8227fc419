import type { EngineInput } from '../../engines/engine.js';
import type { DecodedFiles, ImageDecoder } from '../../image/decoder.js';
import { decodeOptionsOf, toInput } from './batch.js';
import { rowsOfViews, withViews } from './views.js';
import type { FeatureModel } from '../setup/feature-model.js';
import type { StageClock } from './stage-clock.js';

/** A batch of the file list, decoded; indices are list indices. */
export interface DecodedBatch {
  /** List index of the batch's first file, and the index after its last. */
  start: number;
  end: number;
  /** The files that decoded, in order, and their pixels (8-bit RGB, HWC). */
  ok: number[];
  pixels: Buffer[];
  failed: { index: number; reason: string }[];
}

/**
 * A batch whose features arrived: the rows of file `ok[i]` (one, or with `augment: flip` two: the
 * image's and its mirror's) come i-th, `dim` values each.
 */
export interface FeatureBatch extends Omit<DecodedBatch, 'pixels'> {
  features: Float32Array;
}

/** What `runBatchLoop` runs, and what it hands its results to. */
export interface BatchLoop {
  /** Image files (paths as the decoder reads them). */
  files: readonly string[];
  /** List index to start at (after a resumed extraction's last checkpoint). */
  from: number;
  batchSize: number;
  featureModel: FeatureModel;
  decoder: ImageDecoder;
  clock: StageClock;
  /** Batches being decoded ahead of the one handed to the engine (at least 1). */
  ahead: number;
  /** Sees each batch once it is decoded, before it runs (throwing stops the loop; strict mode). */
  checkDecoded?(batch: DecodedBatch): void;
  /** What to throw when a file cannot be read at all (the decoder's error otherwise). */
  readError?(err: unknown): unknown;
  /** Takes each batch's features, in list order (timed as the `write` stage). */
  commit(batch: FeatureBatch): Promise<void>;
  /** Called after each commit; throwing stops the loop there (an interruption). */
  afterCommit?(): void;
}

/** A batch handed to the engine: what to commit when its features arrive. */
interface SubmittedBatch extends Omit<DecodedBatch, 'pixels'> {
  features: Promise<Float32Array>;
}

/**
 * The extraction loop, shared by `extract` and `predict`. `ahead` batches are decoding at any
 * time (by the decoder's processes or threads) while the engine runs the batch before them with
 * the next one queued behind it: when batch k's features arrive the engine is already running
 * k+1, so k is committed meanwhile. Memory is bounded by the batches in flight: `ahead` decoding
 * or decoded, one queued, one running (its input batch travels to the engine and back for
 * reuse). A decoding failure (strict mode, an unreadable file) first commits the batch before it.
 */
export async function runBatchLoop(loop: BatchLoop): Promise<void> {
  const { featureModel: fm, clock } = loop;
  const decode = decodeOptionsOf(fm.settings);
  const total = loop.files.length;
  const buffers: EngineInput[] = [];
  const decoding: Promise<DecodedBatch>[] = [];
  let nextStart = loop.from;

  const decodeNext = () => {
    const start = nextStart;
    const end = Math.min(start + loop.batchSize, total);
    nextStart = end;
    const t = performance.now();
    const batch = loop.decoder.decodeFiles(loop.files.slice(start, end), decode).then(
      (decoded) => {
        clock.decoded(t);
        const inList = listIndexed(decoded, start, end);
        loop.checkDecoded?.(inList);
        return inList;
      },
      (err: unknown) => {
        throw loop.readError ? loop.readError(err) : err;
      },
    );
    batch.catch(() => {}); // its failure is met when the loop awaits it
    decoding.push(batch);
  };
  const decodeAhead = () => {
    while (decoding.length < Math.max(1, loop.ahead) && nextStart < total) decodeNext();
  };

  const submit = ({ pixels, ...batch }: DecodedBatch): SubmittedBatch => {
    if (batch.ok.length === 0) return { ...batch, features: Promise.resolve(new Float32Array(0)) };
    const views = withViews(pixels, fm.settings);
    const input = clock.timeSync('preprocess', () => toInput(views, fm.settings, buffers.pop(), fm.extractor.inputType));
    clock.submitted(views.length);
    // An engine that runs on this thread does its work inside this call: counted as waiting for it.
    const features = clock.timeSync('waitEngine', () => fm.extractor.run(input, views.length, { transfer: true, returned: (b) => buffers.push(b) }));
    // Met when the batch is committed; it may fail before (it waits behind the running one), or a loop that stops early never commits it.
    features.catch(() => {});
    return { ...batch, features };
  };
  const commit = async ({ features, ...batch }: SubmittedBatch) => {
    const rows = rowsOfViews(await clock.time('waitEngine', () => features), batch.ok.length, fm.settings);
    await clock.time('write', () => loop.commit({ ...batch, features: rows }));
  };

  decodeAhead();
  let running: SubmittedBatch | null = null;
  try {
    while (decoding.length > 0 || running) {
      let queued: SubmittedBatch | null = null;
      if (decoding.length > 0) {
        const batch = await clock.time('waitDecode', () => decoding[0]!).catch(async (err: unknown) => {
          if (running) await commit(running).catch(() => {}); // keep the rows before the failure
          throw err;
        });
        decoding.shift();
        decodeAhead();
        queued = submit(batch);
      }
      if (running) {
        const finishing: SubmittedBatch = running;
        await clock.time('waitEngine', () => finishing.features.catch(() => {}));
        clock.received();
        await commit(finishing);
        loop.afterCommit?.();
      }
      running = queued;
    }
  } finally {
    await Promise.allSettled(decoding);
  }
}

/** DecodedFiles of files [start, end) of the list, with list indices. */
function listIndexed(decoded: DecodedFiles, start: number, end: number): DecodedBatch {
  return {
    start,
    end,
    ok: decoded.ok.map((i) => start + i),
    pixels: decoded.pixels,
    failed: decoded.failed.map((f) => ({ index: start + f.index, reason: f.reason })),
  };
}
