import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import type { ResizeKernel, ResizeMode } from '../image/decode.js';
import type { PreprocessMode } from '../image/preprocess.js';
import type { EngineDescription, PoolMode } from '../engines/engine.js';
import type { FileKey } from '../dataset/file-keys.js';
import { exists, fromSystemError, makeDir, readJson, writeAllAt, writeJsonAtomic } from '../util/fs.js';
import { csvField, parseCsv } from './csv.js';
import { NPY_HEADER_BYTES, npyHeader, readNpy, readNpyHeader } from './npy.js';
import { TOOL_STAMP } from '../version.js';
import { sha256OfText } from '../util/hash.js';
import type { ExtractStages } from './timings.js';

export const FEATURES_FILE = 'features.npy';
export const SAMPLES_FILE = 'samples.csv';
export const MANIFEST_FILE = 'manifest.json';
export const PLAN_FILE = '.cnnfeat-plan.json';
/** Working folder of `extract --update` inside the feature directory. */
export const UPDATE_DIR = '.cnnfeat-update';
const PROGRESS_FILE = '.cnnfeat-progress.json';
/** First line of samples.csv. */
export const SAMPLES_HEADER = 'row,path,label\n';

/** What must agree between features used together (train vs eval, predict vs train). */
export interface FeatureSignature {
  /** Card id or absolute model.json path. */
  model: string;
  weightsDigest: string;
  /** Layer name, or comma-separated names whose features are concatenated. */
  layer: string;
  /** A spatial output was pooled to a vector (by `pool`). */
  pooled: boolean;
  pool: PoolMode;
  preprocess: PreprocessMode;
  dim: number;
}

/** Everything that decides the numbers written by one extraction. */
export interface ExtractSettings extends FeatureSignature {
  input: { height: number; width: number };
  resize: ResizeMode;
  kernel: ResizeKernel;
}

/** A file the extraction will visit, in order, with what identifies its content (for `--update`). */
export interface PlannedFile extends Partial<FileKey> {
  relPath: string;
  label: string;
}

/** Which part of a larger file list an extraction covers (`extract --shard i/n`). */
export interface ShardInfo {
  /** 0-based index of this shard. */
  index: number;
  count: number;
  /** Files in the whole list. */
  total: number;
  /** `sha256:` of the whole list's classes, paths and labels: equal in every shard of one job. */
  of: string;
}

/** What `extract --update` did (recorded in the manifest). */
export interface UpdateCounts {
  added: number;
  changed: number;
  removed: number;
  kept: number;
}

/** A file left out, with why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** `manifest.json` of a finished feature directory. */
export interface FeatureManifest {
  format: 'cnnfeat-features';
  formatVersion: 1;
  tool: { name: 'cnnfeat'; version: string };
  createdAt: string;
  imageRoot: string;
  settings: ExtractSettings;
  engine: EngineDescription;
  classes: string[];
  counts: { rows: number; planned: number; skipped: number; perClass: Record<string, number> };
  /** `sha256:` of the image folder, classes and file list the extraction planned (see planDigest). */
  planDigest: string;
  skipped: SkippedFile[];
  /** Image-like entries the scan passed over (root-level files, broken links, link loops). */
  ignored: SkippedFile[];
  timings: { seconds: number; imagesPerSecond: number; resumed: boolean; stages?: ExtractStages };
  /** Every planned file (rows and skipped ones) with its size, mtime and, with --hash, digest. */
  files?: PlannedFile[];
  /** Set when the extraction covered one shard of a larger list. */
  shard?: ShardInfo;
  /** Set by `extract --update`. */
  update?: UpdateCounts;
  /** Set by `cnnfeat merge`: the shard directories merged, in shard order. */
  mergedFrom?: { dir: string; rows: number }[];
}

/** What an extraction will do: written when it starts, checked when it is resumed. */
export interface Plan {
  imageRoot: string;
  classes: string[];
  settings: ExtractSettings;
  files: PlannedFile[];
  ignored: SkippedFile[];
  shard?: ShardInfo;
}

interface Progress {
  /** Index into the plan of the first file not yet handled. */
  next: number;
  rows: number;
  samplesBytes: number;
  skipped: SkippedFile[];
  seconds: number;
}

/** What an output directory holds. */
export type DirState = 'empty' | 'complete' | 'partial' | 'foreign';

/** Inspects a feature directory: nothing of ours, finished, unfinished (resumable), or unknown files. */
export async function featureDirState(dir: string): Promise<DirState> {
  if (await exists(path.join(dir, MANIFEST_FILE))) return 'complete';
  if ((await exists(path.join(dir, PLAN_FILE))) || (await exists(path.join(dir, PROGRESS_FILE)))) return 'partial';
  if ((await exists(path.join(dir, FEATURES_FILE))) || (await exists(path.join(dir, SAMPLES_FILE)))) return 'foreign';
  return 'empty';
}

/**
 * Appends feature rows and their sample lines to a feature directory with checkpoints:
 * data is written and flushed first, then the checkpoint is replaced atomically, so after a
 * kill at any moment `resume` truncates to the last checkpoint and carries on with no
 * duplicate or missing row.
 */
export class FeatureWriter {
  private constructor(
    readonly dir: string,
    readonly plan: Plan,
    private progress: Progress,
    private features: fsp.FileHandle,
    private samples: fsp.FileHandle,
    readonly resumed: boolean,
  ) {}

  /**
   * Starts a new extraction in `dir` (created if needed); the caller has checked the dir state.
   * The plan is written first: from then on the directory counts as unfinished, so a kill at
   * any later point leaves something `--resume` (or `--overwrite`) can take over.
   */
  static async create(dir: string, plan: Plan): Promise<FeatureWriter> {
    await makeDir(dir);
    // Old checkpoint and manifest go first: a checkpoint must never outlive the plan it belongs to.
    for (const name of [PROGRESS_FILE, MANIFEST_FILE]) await fsp.rm(path.join(dir, name), { force: true });
    await writeJsonAtomic(path.join(dir, PLAN_FILE), plan);
    return FeatureWriter.start(dir, plan, false);
  }

  /** Creates empty data files and the first checkpoint. */
  private static async start(dir: string, plan: Plan, resumed: boolean): Promise<FeatureWriter> {
    const progress: Progress = { next: 0, rows: 0, samplesBytes: Buffer.byteLength(SAMPLES_HEADER), skipped: [], seconds: 0 };
    const features = await fsp.open(path.join(dir, FEATURES_FILE), 'w+');
    const samples = await fsp.open(path.join(dir, SAMPLES_FILE), 'w+');
    await writeAllAt(features, npyHeader(0, plan.settings.dim), 0);
    await writeAllAt(samples, Buffer.from(SAMPLES_HEADER), 0);
    await Promise.all([features.sync(), samples.sync()]);
    await writeJsonAtomic(path.join(dir, PROGRESS_FILE), progress);
    return new FeatureWriter(dir, plan, progress, features, samples, resumed);
  }

  /**
   * Reopens an unfinished extraction. `plan` (image folder, files, settings) must equal the one
   * it was started with. Anything written after the last checkpoint is cut off.
   */
  static async resume(dir: string, plan: Plan): Promise<FeatureWriter> {
    const hint = 'start again with --overwrite';
    const saved = await readJson<Plan>(path.join(dir, PLAN_FILE), hint);
    if (!Array.isArray(saved?.files) || typeof saved.settings !== 'object') {
      throw new CnnfeatError(`${path.join(dir, PLAN_FILE)}: damaged plan; ${hint}`);
    }
    saved.settings = withPoolDefault(saved.settings);
    assertSamePlan(dir, saved, plan);
    if (!(await exists(path.join(dir, PROGRESS_FILE)))) return FeatureWriter.start(dir, saved, true);
    const progress = await readJson<Progress>(path.join(dir, PROGRESS_FILE), hint);
    if (!Number.isInteger(progress?.rows) || !Number.isInteger(progress.next) || !Number.isInteger(progress.samplesBytes) || !Array.isArray(progress.skipped)) {
      throw new CnnfeatError(`${path.join(dir, PROGRESS_FILE)}: damaged checkpoint; ${hint}`);
    }
    const featureBytes = NPY_HEADER_BYTES + progress.rows * saved.settings.dim * 4;
    const features = await fsp.open(path.join(dir, FEATURES_FILE), 'r+');
    const samples = await fsp.open(path.join(dir, SAMPLES_FILE), 'r+');
    const [fStat, sStat] = await Promise.all([features.stat(), samples.stat()]);
    if (fStat.size < featureBytes || sStat.size < progress.samplesBytes) {
      await Promise.allSettled([features.close(), samples.close()]);
      throw new CnnfeatError(`${dir}: ${FEATURES_FILE} or ${SAMPLES_FILE} is shorter than its last checkpoint (changed by hand?); ${hint}`);
    }
    await features.truncate(featureBytes);
    await samples.truncate(progress.samplesBytes);
    await writeAllAt(features, npyHeader(progress.rows, saved.settings.dim), 0);
    return new FeatureWriter(dir, saved, progress, features, samples, true);
  }

  /** Index into the plan of the next file to process. */
  get next(): number {
    return this.progress.next;
  }

  get rows(): number {
    return this.progress.rows;
  }

  get skipped(): readonly SkippedFile[] {
    return this.progress.skipped;
  }

  /**
   * Appends `files.length` rows (`rows` holds them back to back) and checkpoints with
   * `next` as the index of the first plan entry not yet handled.
   */
  async commit(rows: Float32Array, files: PlannedFile[], skipped: SkippedFile[], next: number, seconds: number): Promise<void> {
    const dim = this.plan.settings.dim;
    if (rows.length < files.length * dim) throw new Error('commit: fewer feature values than files');
    const p = this.progress;
    const bytes = Buffer.from(rows.buffer, rows.byteOffset, files.length * dim * 4);
    const lines = files.map((f, i) => `${p.rows + i},${csvField(f.relPath)},${csvField(f.label)}\n`).join('');
    try {
      const text = Buffer.from(lines, 'utf8');
      await writeAllAt(this.features, bytes, NPY_HEADER_BYTES + p.rows * dim * 4);
      await writeAllAt(this.samples, text, p.samplesBytes);
      await writeAllAt(this.features, npyHeader(p.rows + files.length, dim), 0);
      await Promise.all([this.features.sync(), this.samples.sync()]);
      const progress = {
        next,
        rows: p.rows + files.length,
        samplesBytes: p.samplesBytes + text.length,
        skipped: [...p.skipped, ...skipped],
        seconds,
      };
      await writeJsonAtomic(path.join(this.dir, PROGRESS_FILE), progress);
      this.progress = progress;
    } catch (err) {
      throw this.writeError(err);
    }
  }

  /**
   * A failed write (disk full, file-size limit, I/O error) as a one-line error: nothing past the
   * last checkpoint counts, so the directory stays resumable.
   */
  private writeError(err: unknown): unknown {
    const known = fromSystemError(err);
    if (!known) return err;
    const what = known.message.startsWith(this.dir) ? known.message : `${this.dir}: ${known.message}`;
    const kept = `${this.progress.rows} rows up to the last checkpoint are kept`;
    const hint = what.includes('--resume') ? kept : `${kept}: fix this and continue with --resume`;
    return new CnnfeatError(`${what}; ${hint}`, known.exitCode);
  }

  /** Total seconds spent in earlier (interrupted) sessions of this extraction. */
  get secondsSoFar(): number {
    return this.progress.seconds;
  }

  /** Writes the manifest, which marks the directory finished, and removes the checkpoint files. */
  async finish(manifest: FeatureManifest): Promise<void> {
    await this.close();
    await writeJsonAtomic(path.join(this.dir, MANIFEST_FILE), manifest).catch((err: unknown) => {
      throw this.writeError(err);
    });
    await fsp.rm(path.join(this.dir, PROGRESS_FILE), { force: true });
    await fsp.rm(path.join(this.dir, PLAN_FILE), { force: true });
  }

  /** Closes the files; the directory stays resumable. */
  async close(): Promise<void> {
    await Promise.allSettled([this.features.close(), this.samples.close()]);
  }
}

/** What a manifest records besides the plan: the outcome and how it was reached. */
export interface ManifestFacts {
  rows: number;
  skipped: readonly SkippedFile[];
  engine: FeatureManifest['engine'];
  seconds: number;
  imagesPerSecond: number;
  resumed: boolean;
  /** Where the time of an extraction went. */
  stages?: ExtractStages;
}

/** Builds the manifest of a finished extraction of `plan`. */
export function manifestFor(plan: Plan, facts: ManifestFacts): FeatureManifest {
  const skippedPaths = new Set(facts.skipped.map((s) => s.path));
  const perClass: Record<string, number> = Object.fromEntries(plan.classes.map((c) => [c, 0]));
  for (const f of plan.files) if (!skippedPaths.has(f.relPath)) perClass[f.label] = (perClass[f.label] ?? 0) + 1;
  return {
    format: 'cnnfeat-features',
    formatVersion: 1,
    tool: TOOL_STAMP,
    createdAt: new Date().toISOString(),
    imageRoot: plan.imageRoot,
    settings: plan.settings,
    engine: facts.engine,
    classes: plan.classes,
    counts: { rows: facts.rows, planned: plan.files.length, skipped: facts.skipped.length, perClass },
    planDigest: planDigest(plan),
    skipped: [...facts.skipped],
    ignored: plan.ignored ?? [],
    timings: {
      seconds: Math.round(facts.seconds * 1000) / 1000,
      imagesPerSecond: Math.round(facts.imagesPerSecond * 100) / 100,
      resumed: facts.resumed,
      ...(facts.stages ? { stages: facts.stages } : {}),
    },
    files: plan.files,
    ...(plan.shard ? { shard: plan.shard } : {}),
  };
}

/** A digest of what a plan covers (image folder, classes, files), to recognise the same input later. */
export function planDigest(plan: Plan): string {
  const covered = JSON.stringify({ imageRoot: plan.imageRoot, classes: plan.classes, files: plan.files });
  return `sha256:${sha256OfText(covered)}`;
}

/** Names of the settings that differ between `a` and `b` (all keys, or only `keys`). */
export function diffSettings<T extends object>(a: T, b: T, keys = Object.keys({ ...a, ...b }) as (keyof T)[]): (keyof T)[] {
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** Fails unless an extraction is continued with the same settings, image folder and file list. */
function assertSamePlan(dir: string, saved: Plan, plan: Plan): void {
  const changed = diffSettings(saved.settings, plan.settings);
  if (changed.length > 0) {
    throw new CnnfeatError(`${dir}: cannot resume, it was started with different ${changed.join(', ')}; use the same options or --overwrite`);
  }
  if (saved.imageRoot !== plan.imageRoot) {
    throw new CnnfeatError(`${dir}: cannot resume, it was started on ${saved.imageRoot}, not ${plan.imageRoot}; use the same folder or --overwrite`);
  }
  if (JSON.stringify(saved.files) !== JSON.stringify(plan.files) || JSON.stringify(saved.classes) !== JSON.stringify(plan.classes)) {
    const hashFlag = hashFlagChange(saved.files, plan.files);
    if (hashFlag) throw new CnnfeatError(`${dir}: cannot resume, ${hashFlag}`);
    throw new CnnfeatError(
      `${dir}: cannot resume, the image list changed since the extraction started (${saved.files.length} files then, ${plan.files.length} now); restore it or start again with --overwrite`,
    );
  }
}

/** When two file lists differ only because one was keyed with `--hash`: what to do about it. */
export function hashFlagChange(before: PlannedFile[], now: PlannedFile[]): string | null {
  const hashed = (files: PlannedFile[]) => files.some((f) => f.sha256 !== undefined);
  if (hashed(before) === hashed(now)) return null;
  return `it was made ${hashed(before) ? 'with' : 'without'} --hash; run it ${hashed(before) ? 'with' : 'without'} --hash too`;
}

/** A finished feature directory without its feature values: manifest, row descriptions, matrix shape. */
export interface FeatureIndex {
  dir: string;
  manifest: FeatureManifest;
  rows: number;
  dim: number;
  /** Sample path (relative to the image root) of each row. */
  paths: string[];
  /** Class name of each row. */
  labels: string[];
}

/**
 * Reads a finished feature directory's manifest and samples.csv and checks them against the
 * shape in features.npy's header (the values are not read).
 */
export async function readFeatureIndex(dir: string): Promise<FeatureIndex> {
  const state = await featureDirState(dir);
  if (state === 'partial') {
    throw new CnnfeatError(`${dir}: extraction did not finish; run \`cnnfeat extract ... --resume\` to complete it`);
  }
  if (state !== 'complete') {
    if (!(await exists(dir))) throw new CnnfeatError(`${dir}: no such folder; give a feature directory written by \`cnnfeat extract\``);
    throw new CnnfeatError(`${dir}: not a cnnfeat feature directory (no ${MANIFEST_FILE}); create it with \`cnnfeat extract\``);
  }
  const manifest = await readJson<FeatureManifest>(path.join(dir, MANIFEST_FILE), 're-run `cnnfeat extract --overwrite`');
  if (manifest?.format !== 'cnnfeat-features' || typeof manifest.settings !== 'object' || typeof manifest.counts !== 'object') {
    throw new CnnfeatError(`${path.join(dir, MANIFEST_FILE)}: not a cnnfeat manifest; re-run \`cnnfeat extract --overwrite\``);
  }
  manifest.settings = withPoolDefault(manifest.settings);
  const handle = await fsp.open(path.join(dir, FEATURES_FILE), 'r');
  const matrix = await readNpyHeader(handle, path.join(dir, FEATURES_FILE)).finally(() => handle.close());
  const [header, ...rows] = parseCsv(await fsp.readFile(path.join(dir, SAMPLES_FILE), 'utf8'));
  if (`${header?.join(',')}\n` !== SAMPLES_HEADER) {
    throw new CnnfeatError(`${path.join(dir, SAMPLES_FILE)}: bad header; re-run \`cnnfeat extract --overwrite\``);
  }
  if (rows.length !== matrix.rows || matrix.rows !== manifest.counts.rows || matrix.cols !== manifest.settings.dim) {
    throw new CnnfeatError(
      `${dir}: ${FEATURES_FILE} has ${matrix.rows}×${matrix.cols}, ${SAMPLES_FILE} ${rows.length} rows, manifest ${manifest.counts.rows}×${manifest.settings.dim}; re-run \`cnnfeat extract --overwrite\``,
    );
  }
  return {
    dir,
    manifest,
    rows: matrix.rows,
    dim: matrix.cols,
    paths: rows.map((r) => r[1] ?? ''),
    labels: rows.map((r) => r[2] ?? ''),
  };
}

/** A finished feature directory loaded into memory. */
export interface FeatureSet extends FeatureIndex {
  /** Row-major `rows × dim` features. */
  X: Float32Array;
}

/**
 * Loads a finished feature directory, checking that `features.npy`, `samples.csv` and the
 * manifest agree.
 */
export async function readFeatureSet(dir: string): Promise<FeatureSet> {
  const index = await readFeatureIndex(dir);
  const matrix = await readNpy(path.join(dir, FEATURES_FILE));
  return { ...index, X: matrix.data };
}

/**
 * Removes what an extraction or update left in `dir` besides the data files (checkpoint, plan,
 * manifest, update folder), checkpoint first, before something else is written there.
 */
export async function removeWorkFiles(dir: string): Promise<void> {
  for (const name of [PROGRESS_FILE, MANIFEST_FILE, PLAN_FILE]) await fsp.rm(path.join(dir, name), { force: true });
  await fsp.rm(path.join(dir, UPDATE_DIR), { recursive: true, force: true });
}

/** Settings as read from disk: files written before `--pool` existed pooled by average. */
export function withPoolDefault<T extends FeatureSignature>(settings: T): T {
  return { ...settings, pool: settings.pool ?? 'avg' };
}
