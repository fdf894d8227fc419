import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { CnnfeatError, ExitCode } from '../errors.js';
import { assertUsableDataset, scanDataset, type Dataset } from '../dataset/scan.js';
import { assertNotSplitRoot } from '../dataset/split.js';
import { sameFile } from '../dataset/file-keys.js';
import { withLock } from '../util/lock.js';
import { gatherRows, rowCount, RowReader, writeFeatureDir, type RowSource } from '../features/rows.js';
import { diffSettings, featureDirState, madeWith, manifestFor, rowsPerImage, type FeatureManifest, type Plan, type PlannedFile, type UpdateCounts } from '../features/schema.js';
import { readFeatureIndex, type FeatureIndex } from '../features/reader.js';
import { UPDATE_NEXT_DIR, UPDATE_ROWS_DIR, completePendingUpdate } from '../features/swap.js';
import { silentLogger } from '../util/log.js';
import { extractFeatures, reportFiles, resultOf, type ExtractOptions, type ExtractResult } from './extract.js';
import { withFeatureModel } from './setup/feature-model.js';
import { planFiles } from './plan-files.js';

/** What `extract --update` produced. */
export interface UpdateResult extends ExtractResult {
  update: UpdateCounts;
}

/**
 * Brings a finished feature directory up to date with the image folder: only new and changed
 * files (path + size + mtime, or content sha256 with `hash`) are decoded and run through the
 * network; rows of unchanged files are copied, rows of deleted files dropped. The result is
 * the directory a fresh extraction of the folder would write (same rows, same order). An empty
 * `outDir` gets a plain extraction. Interrupted, it is continued by running it again.
 */
export async function updateFeatures(images: string | Dataset, outDir: string, opts: ExtractOptions = {}): Promise<UpdateResult> {
  const logger = opts.logger ?? silentLogger;
  if (opts.overwrite || opts.resume || opts.shard) {
    throw new CnnfeatError('an update (--update) cannot be combined with overwrite, resume or a shard (--overwrite, --resume, --shard); an interrupted update is continued by running it again');
  }
  const scanned = typeof images === 'string';
  const dataset = scanned ? await scanDataset(images) : images;
  if (scanned) assertNotSplitRoot(dataset, opts, images);
  assertUsableDataset(dataset, { strict: opts.strict, logger: scanned ? logger : undefined });
  return withLock(outDir, 'extract --update', logger, async () => {
    await completePendingUpdate(outDir, logger);
    const state = await featureDirState(outDir);
    if (state === 'empty') {
      const result = await extractFeatures(dataset, outDir, opts);
      return { ...result, update: { added: result.manifest.counts.planned, changed: 0, removed: 0, kept: 0 } };
    }
    if (state !== 'complete') {
      throw new CnnfeatError(
        state === 'partial'
          ? `${outDir} holds an unfinished extraction; complete it (--resume) before updating it (or start over, --overwrite)`
          : `${outDir} has features.npy/samples.csv not written by a cnnfeat run; overwrite them (--overwrite) or choose another output folder`,
      );
    }
    const old = await readFeatureIndex(outDir);
    assertUpdatable(old);
    return withFeatureModel(opts, async (featureModel) => {
      const changedSettings = diffSettings(old.manifest.settings, featureModel.settings);
      if (changedSettings.length > 0) throw new CnnfeatError(`${outDir} ${madeWith(old.manifest.settings, featureModel.settings, changedSettings, 'update it')}`);
      const startedAt = Date.now();
      const { files } = await planFiles(dataset, { hash: opts.hash });
      const plan: Plan = { imageRoot: dataset.root, classes: dataset.classes, settings: featureModel.settings, files, ignored: dataset.ignored };
      const diff = compare(old.manifest.files!, files);
      logger.info(`${outDir}: ${diff.counts.added} added, ${diff.counts.changed} changed, ${diff.counts.removed} removed, ${diff.counts.kept} kept`);
      const computed = diff.toCompute.length > 0 ? await computeRows(dataset, diff.toCompute, path.join(outDir, UPDATE_ROWS_DIR), { ...opts, featureModel }) : null;
      const manifest = await assemble(outDir, plan, old, computed, diff.counts, (Date.now() - startedAt) / 1000);
      await completePendingUpdate(outDir);
      reportFiles(manifest.ignored, 'passed over by the scan', logger);
      reportFiles(manifest.skipped, 'that could not be decoded', logger);
      if (manifest.counts.rows === 0) {
        throw new CnnfeatError(`${outDir}: none of the ${files.length} images could be decoded (reasons above and in manifest.json); check the image folder`);
      }
      return { ...resultOf(outDir, manifest), update: diff.counts };
    });
  });
}

function assertUpdatable(old: FeatureIndex): void {
  if (!Array.isArray(old.manifest.files)) {
    throw new CnnfeatError(`${old.dir} was written by an older cnnfeat that did not record file sizes and times; extract it once more, overwriting it (--overwrite)`);
  }
  if (old.manifest.shard) {
    throw new CnnfeatError(`${old.dir} holds shard ${old.manifest.shard.index}/${old.manifest.shard.count} only; merge the shards (cnnfeat merge) and update the merged folder`);
  }
}

interface Diff {
  counts: UpdateCounts;
  /** Planned files whose rows must be computed (new or changed), in plan order. */
  toCompute: PlannedFile[];
}

/** Sorts the new file list into kept, changed and added files, and counts the removed ones. */
function compare(before: PlannedFile[], now: PlannedFile[]): Diff {
  const byPath = new Map(before.map((f) => [f.relPath, f]));
  const counts: UpdateCounts = { added: 0, changed: 0, removed: 0, kept: 0 };
  const toCompute: PlannedFile[] = [];
  for (const f of now) {
    const was = byPath.get(f.relPath);
    if (!was) counts.added++;
    else if (was.label !== f.label || !isSame(was, f)) counts.changed++;
    else {
      counts.kept++;
      continue;
    }
    toCompute.push(f);
  }
  const nowPaths = new Set(now.map((f) => f.relPath));
  counts.removed = before.filter((f) => !nowPaths.has(f.relPath)).length;
  return { counts, toCompute };
}

function isSame(was: PlannedFile, now: PlannedFile): boolean {
  if (was.size === undefined || was.mtimeMs === undefined || now.size === undefined || now.mtimeMs === undefined) return false;
  return sameFile({ size: was.size, mtimeMs: was.mtimeMs, sha256: was.sha256 }, { size: now.size, mtimeMs: now.mtimeMs, sha256: now.sha256 });
}

/**
 * Extracts the rows of `files` into `rowsDir` (a normal, resumable feature directory), reusing
 * what an interrupted earlier attempt left there when it covers the same files.
 */
async function computeRows(dataset: Dataset, files: PlannedFile[], rowsDir: string, opts: ExtractOptions): Promise<FeatureIndex> {
  const wanted = new Set(files.map((f) => f.relPath));
  const sub: Dataset = { ...dataset, samples: dataset.samples.filter((s) => wanted.has(s.relPath)), emptyClasses: [], ignored: [] };
  const state = await featureDirState(rowsDir);
  const run = (mode: Partial<ExtractOptions>) => extractFeatures(sub, rowsDir, { ...opts, hash: false, ...mode });
  try {
    await run(state === 'empty' ? {} : { resume: true });
  } catch (err) {
    if (isInterruption(err)) throw err;
    // An update in which no new file decodes still finishes its rows folder (0 rows).
    if (!(await covers(rowsDir, files))) {
      if (state === 'empty') throw err;
      await run({ overwrite: true }).catch(async (again: unknown) => {
        if (isInterruption(again) || !(await covers(rowsDir, files))) throw again;
      });
    }
  }
  if (!(await covers(rowsDir, files))) throw new CnnfeatError(`${rowsDir}: image files changed while they were being updated; run the update (--update) again`);
  return readFeatureIndex(rowsDir);
}

function isInterruption(err: unknown): boolean {
  return err instanceof CnnfeatError && (err.exitCode === ExitCode.interrupted || err.exitCode === ExitCode.terminated);
}

/** Whether `dir` is a finished extraction of exactly these files in their current state. */
async function covers(dir: string, files: PlannedFile[]): Promise<boolean> {
  if ((await featureDirState(dir)) !== 'complete') return false;
  const done = await readFeatureIndex(dir).catch(() => null);
  const made = done?.manifest.files;
  if (!made || made.length !== files.length) return false;
  return made.every((f, i) => f.relPath === files[i]!.relPath && f.label === files[i]!.label && isSame(f, files[i]!));
}

/**
 * Writes the updated directory into `.cnnfeat-update/next`: rows in plan order, copied from the
 * old directory (kept files) or from the rows just computed (new and changed files).
 */
async function assemble(
  outDir: string,
  plan: Plan,
  old: FeatureIndex,
  computed: FeatureIndex | null,
  counts: UpdateCounts,
  seconds: number,
): Promise<FeatureManifest> {
  const computedPaths = new Set(computed?.manifest.files?.map((f) => f.relPath) ?? []);
  const oldReader = await RowReader.open(outDir);
  const newReader = computed ? await RowReader.open(computed.dir) : null;
  try {
    const oldRows: RowSource = { index: old, reader: oldReader };
    const newRows: RowSource | null = computed && newReader ? { index: computed, reader: newReader } : null;
    const { copies, skipped } = gatherRows(
      plan.files,
      (file) => (newRows && computedPaths.has(file.relPath) ? newRows : oldRows),
      (file) => new CnnfeatError(`${outDir}: ${file.relPath} changed while the update ran; run the update (--update) again`),
    );
    const engine = computed?.manifest.engine ?? old.manifest.engine;
    const decoded = (computed?.rows ?? 0) / rowsPerImage(plan.settings);
    const manifest: FeatureManifest = {
      ...manifestFor(plan, { rows: rowCount(copies), skipped, engine, seconds, imagesPerSecond: decoded / Math.max(seconds, 1e-9), resumed: false }),
      update: counts,
    };
    await fsp.rm(path.join(outDir, UPDATE_NEXT_DIR), { recursive: true, force: true });
    await writeFeatureDir(path.join(outDir, UPDATE_NEXT_DIR), copies, manifest);
    return manifest;
  } finally {
    await Promise.allSettled([oldReader.close(), newReader?.close()]);
  }
}
