import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import type { ResizeKernel, ResizeMode } from '../image/decode.js';
import type { PreprocessMode } from '../image/preprocess.js';
import { exists, readJson, writeJsonAtomic } from '../util/fs.js';
import { csvField, parseCsv } from './csv.js';
import { NPY_HEADER_BYTES, npyHeader, readNpy } from './npy.js';

export const FEATURES_FILE = 'features.npy';
export const SAMPLES_FILE = 'samples.csv';
export const MANIFEST_FILE = 'manifest.json';
const PLAN_FILE = '.cnnfeat-plan.json';
const PROGRESS_FILE = '.cnnfeat-progress.json';
const SAMPLES_HEADER = 'row,path,label\n';

/** What must agree between features used together (train vs eval, predict vs train). */
export interface FeatureSignature {
  /** Card id or absolute model.json path. */
  model: string;
  weightsDigest: string;
  layer: string;
  /** Spatial output averaged to a vector. */
  pooled: boolean;
  preprocess: PreprocessMode;
  dim: number;
}

/** Everything that decides the numbers written by one extraction. */
export interface ExtractSettings extends FeatureSignature {
  input: { height: number; width: number };
  resize: ResizeMode;
  kernel: ResizeKernel;
}

/** A file the extraction will visit, in order. */
export interface PlannedFile {
  relPath: string;
  label: string;
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
  engine: { name: string; backend: string };
  classes: string[];
  counts: { rows: number; planned: number; skipped: number; perClass: Record<string, number> };
  skipped: SkippedFile[];
  timings: { seconds: number; imagesPerSecond: number; resumed: boolean };
}

interface Plan {
  imageRoot: string;
  classes: string[];
  settings: ExtractSettings;
  files: PlannedFile[];
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
  if (await exists(path.join(dir, PROGRESS_FILE))) return 'partial';
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

  /** Starts a new extraction in `dir` (created if needed); the caller has checked the dir state. */
  static async create(dir: string, plan: Plan): Promise<FeatureWriter> {
    await fsp.mkdir(dir, { recursive: true });
    await removeOurFiles(dir);
    await writeJsonAtomic(path.join(dir, PLAN_FILE), plan);
    const progress: Progress = { next: 0, rows: 0, samplesBytes: Buffer.byteLength(SAMPLES_HEADER), skipped: [], seconds: 0 };
    const features = await fsp.open(path.join(dir, FEATURES_FILE), 'w+');
    const samples = await fsp.open(path.join(dir, SAMPLES_FILE), 'w+');
    await features.write(npyHeader(0, plan.settings.dim), 0, NPY_HEADER_BYTES, 0);
    await samples.write(SAMPLES_HEADER, 0);
    await Promise.all([features.sync(), samples.sync()]);
    await writeJsonAtomic(path.join(dir, PROGRESS_FILE), progress);
    return new FeatureWriter(dir, plan, progress, features, samples, false);
  }

  /**
   * Reopens an unfinished extraction. `settings` must equal those it was started with.
   * Anything written after the last checkpoint is cut off.
   */
  static async resume(dir: string, settings: ExtractSettings): Promise<FeatureWriter> {
    const plan = await readJson<Plan>(path.join(dir, PLAN_FILE)).catch(() => null);
    const progress = await readJson<Progress>(path.join(dir, PROGRESS_FILE)).catch(() => null);
    if (!plan || !progress) {
      throw new CnnfeatError(`${dir}: the checkpoint files are missing or damaged; start again with --overwrite`);
    }
    const changed = diffSettings(plan.settings, settings);
    if (changed.length > 0) {
      throw new CnnfeatError(
        `${dir}: cannot resume, it was started with different ${changed.join(', ')}; use the same options or --overwrite`,
      );
    }
    const features = await fsp.open(path.join(dir, FEATURES_FILE), 'r+');
    const samples = await fsp.open(path.join(dir, SAMPLES_FILE), 'r+');
    await features.truncate(NPY_HEADER_BYTES + progress.rows * settings.dim * 4);
    await samples.truncate(progress.samplesBytes);
    await features.write(npyHeader(progress.rows, settings.dim), 0, NPY_HEADER_BYTES, 0);
    return new FeatureWriter(dir, plan, progress, features, samples, true);
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
    await this.features.write(bytes, 0, bytes.length, NPY_HEADER_BYTES + p.rows * dim * 4);
    const written = await this.samples.write(lines, p.samplesBytes);
    await this.features.write(npyHeader(p.rows + files.length, dim), 0, NPY_HEADER_BYTES, 0);
    await Promise.all([this.features.sync(), this.samples.sync()]);
    this.progress = {
      next,
      rows: p.rows + files.length,
      samplesBytes: p.samplesBytes + written.bytesWritten,
      skipped: [...p.skipped, ...skipped],
      seconds,
    };
    await writeJsonAtomic(path.join(this.dir, PROGRESS_FILE), this.progress);
  }

  /** Total seconds spent in earlier (interrupted) sessions of this extraction. */
  get secondsSoFar(): number {
    return this.progress.seconds;
  }

  /** Writes the manifest, which marks the directory finished, and removes the checkpoint files. */
  async finish(manifest: FeatureManifest): Promise<void> {
    await this.close();
    await writeJsonAtomic(path.join(this.dir, MANIFEST_FILE), manifest);
    await fsp.rm(path.join(this.dir, PROGRESS_FILE), { force: true });
    await fsp.rm(path.join(this.dir, PLAN_FILE), { force: true });
  }

  /** Closes the files; the directory stays resumable. */
  async close(): Promise<void> {
    await Promise.allSettled([this.features.close(), this.samples.close()]);
  }
}

function diffSettings(a: ExtractSettings, b: ExtractSettings): string[] {
  const keys = Object.keys({ ...a, ...b }) as (keyof ExtractSettings)[];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** Removes cnnfeat's files from `dir` (used by --overwrite); other files are left alone. */
export async function removeOurFiles(dir: string): Promise<void> {
  for (const name of [MANIFEST_FILE, PROGRESS_FILE, PLAN_FILE, FEATURES_FILE, SAMPLES_FILE]) {
    await fsp.rm(path.join(dir, name), { force: true });
  }
}

/** A finished feature directory loaded into memory. */
export interface FeatureSet {
  dir: string;
  manifest: FeatureManifest;
  /** Row-major `rows × dim` features. */
  X: Float32Array;
  rows: number;
  dim: number;
  /** Sample path (relative to the image root) of each row. */
  paths: string[];
  /** Class name of each row. */
  labels: string[];
}

/**
 * Loads a finished feature directory, checking that `features.npy`, `samples.csv` and the
 * manifest agree.
 */
export async function readFeatureSet(dir: string): Promise<FeatureSet> {
  const state = await featureDirState(dir);
  if (state === 'partial') {
    throw new CnnfeatError(`${dir}: extraction did not finish; run \`cnnfeat extract ... --resume\` to complete it`);
  }
  if (state !== 'complete') {
    throw new CnnfeatError(`${dir}: not a cnnfeat feature directory (no ${MANIFEST_FILE}); create it with \`cnnfeat extract\``);
  }
  const manifest = await readJson<FeatureManifest>(path.join(dir, MANIFEST_FILE));
  const matrix = await readNpy(path.join(dir, FEATURES_FILE));
  const [header, ...rows] = parseCsv(await fsp.readFile(path.join(dir, SAMPLES_FILE), 'utf8'));
  if (header?.join(',') !== 'row,path,label') {
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
    X: matrix.data,
    rows: matrix.rows,
    dim: matrix.cols,
    paths: rows.map((r) => r[1] ?? ''),
    labels: rows.map((r) => r[2] ?? ''),
  };
}
