import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { withLock } from '../util/lock.js';
import { gatherRows, rowCount, RowReader, writeFeatureDir, type RowSource } from './rows.js';
import { diffSettings, featureDirState, manifestFor, settingsVersus, type FeatureManifest } from './schema.js';
import { readFeatureIndex, type FeatureIndex } from './reader.js';
import { removeWorkFiles } from './writer.js';

/** Options of `mergeFeatureDirs`. */
export interface MergeOptions {
  /** Replace what the output directory holds. */
  overwrite?: boolean;
  logger?: Logger;
}

/**
 * Joins the shard directories of one sharded extraction (`extract --shard i/n`, every index
 * exactly once, same model, layer, preprocessing, input handling and dims) into `outDir`, in the
 * layout and row order a single unsharded run writes.
 */
export async function mergeFeatureDirs(dirs: string[], outDir: string, opts: MergeOptions = {}): Promise<FeatureManifest> {
  const logger = opts.logger ?? silentLogger;
  const resolvedOut = path.resolve(outDir);
  if (dirs.some((d) => path.resolve(d) === resolvedOut)) throw new CnnfeatError(`${outDir}: the output folder (-o) is one of the shards being merged; choose another folder`);
  const shards = orderShards(await Promise.all(dirs.map((d) => readFeatureIndex(d))));
  return withLock(outDir, 'merge', logger, async () => {
    const state = await featureDirState(outDir);
    if (state !== 'empty' && !opts.overwrite) {
      throw new CnnfeatError(`${outDir} already holds features (or an unfinished run); overwrite them (--overwrite) or choose another output folder`);
    }
    return writeMerged(shards, outDir);
  });
}

/** Checks that the directories are all the shards of one job, and sorts them by index. */
function orderShards(indices: FeatureIndex[]): FeatureIndex[] {
  const first = indices[0];
  if (!first) throw new CnnfeatError('merge: give the shard directories to merge');
  for (const ix of indices) {
    if (!ix.manifest.shard) throw new CnnfeatError(`${ix.dir}: not a shard (extracted without a shard, --shard); merge joins the shards of one extraction (extract --shard i/n)`);
    if (!Array.isArray(ix.manifest.files)) throw new CnnfeatError(`${ix.dir}: its manifest has no file list; re-run that shard`);
  }
  const job = first.manifest.shard!;
  for (const ix of indices.slice(1)) {
    const changed = diffSettings(first.manifest.settings, ix.manifest.settings);
    if (changed.length > 0) {
      const what = settingsVersus(first.manifest.settings, ix.manifest.settings, changed);
      throw new CnnfeatError(`${ix.dir}: made with different settings than ${first.dir} (${what}); re-run the shards with the same options`);
    }
    const s = ix.manifest.shard!;
    if (s.of !== job.of || s.count !== job.count || s.total !== job.total) {
      throw new CnnfeatError(
        `${ix.dir}: shard of a different file list or shard count than ${first.dir} (${s.count} shards of ${s.total} files vs ${job.count} of ${job.total}); every shard must scan the same image folder content with the same shard count (--shards)`,
      );
    }
  }
  const byIndex = new Map<number, FeatureIndex>();
  for (const ix of indices) {
    const other = byIndex.get(ix.manifest.shard!.index);
    if (other) throw new CnnfeatError(`shard ${ix.manifest.shard!.index}/${job.count} given twice: ${other.dir} and ${ix.dir}`);
    byIndex.set(ix.manifest.shard!.index, ix);
  }
  const missing = Array.from({ length: job.count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) throw new CnnfeatError(`merge: shard(s) ${missing.map((i) => `${i}/${job.count}`).join(', ')} missing; give all ${job.count} shard directories`);
  const ordered = Array.from({ length: job.count }, (_, i) => byIndex.get(i)!);
  for (const [i, ix] of ordered.entries()) {
    const expected = Math.ceil((job.total - i) / job.count);
    if (ix.manifest.files!.length !== expected) throw new CnnfeatError(`${ix.dir}: shard ${i}/${job.count} planned ${ix.manifest.files!.length} files, expected ${expected}; re-run it`);
  }
  return ordered;
}

/** Interleaves the shards' rows back into the order of the whole list (file g is file ⌊g/n⌋ of shard g mod n). */
async function writeMerged(shards: FeatureIndex[], outDir: string): Promise<FeatureManifest> {
  const first = shards[0]!.manifest;
  const { count, total } = first.shard!;
  const readers = await Promise.all(shards.map((s) => RowReader.open(s.dir)));
  try {
    const sources: RowSource[] = shards.map((index, s) => ({ index, reader: readers[s]! }));
    const files = Array.from({ length: total }, (_, g) => shards[g % count]!.manifest.files![Math.floor(g / count)]!);
    const { copies, skipped } = gatherRows(
      files,
      (_, g) => sources[g % count]!,
      (file, source) => new CnnfeatError(`${source.index.dir}: ${file.relPath} has neither a row nor a skip reason; re-run that shard`),
    );
    const seconds = shards.reduce((sum, s) => sum + s.manifest.timings.seconds, 0);
    const plan = { imageRoot: first.imageRoot, classes: first.classes, settings: first.settings, files, ignored: first.ignored };
    const manifest: FeatureManifest = {
      ...manifestFor(plan, {
        rows: rowCount(copies),
        skipped,
        engine: first.engine,
        seconds,
        imagesPerSecond: copies.length / Math.max(seconds, 1e-9),
        resumed: shards.some((s) => s.manifest.timings.resumed),
      }),
      mergedFrom: shards.map((s) => ({ dir: path.resolve(s.dir), rows: s.rows })),
    };
    await removeWorkFiles(outDir);
    await writeFeatureDir(outDir, copies, manifest);
    return manifest;
  } finally {
    await Promise.allSettled(readers.map((r) => r.close()));
  }
}
