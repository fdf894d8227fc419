/** The checkpointed writer of a feature directory (features.npy, samples.csv, plan, checkpoint, manifest). */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import { fromSystemError, makeDir, readJson, writeAllAt, writeJsonAtomic, exists } from '../util/fs.js';
import { NPY_HEADER_BYTES, npyHeader } from './npy.js';
import {
  diffSettings,
  FEATURES_FILE,
  hashFlagChange,
  madeWith,
  MANIFEST_FILE,
  PLAN_FILE,
  PROGRESS_FILE,
  SAMPLES_FILE,
  sampleLines,
  samplesHeader,
  rowsPerImage,
  settingsFromDisk,
  UPDATE_DIR,
  type FeatureManifest,
  type PlannedFile,
  type Plan,
  type SkippedFile,
} from './schema.js';

interface Progress {
  /** Index into the plan of the first file not yet handled. */
  next: number;
  rows: number;
  samplesBytes: number;
  skipped: SkippedFile[];
  seconds: number;
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
    const header = samplesHeader(plan.settings);
    const progress: Progress = { next: 0, rows: 0, samplesBytes: Buffer.byteLength(header), skipped: [], seconds: 0 };
    const features = await fsp.open(path.join(dir, FEATURES_FILE), 'w+');
    const samples = await fsp.open(path.join(dir, SAMPLES_FILE), 'w+');
    await writeAllAt(features, npyHeader(0, plan.settings.dim), 0);
    await writeAllAt(samples, Buffer.from(header), 0);
    await Promise.all([features.sync(), samples.sync()]);
    await writeJsonAtomic(path.join(dir, PROGRESS_FILE), progress);
    return new FeatureWriter(dir, plan, progress, features, samples, resumed);
  }

  /**
   * Reopens an unfinished extraction. `plan` (image folder, files, settings) must equal the one
   * it was started with. Anything written after the last checkpoint is cut off.
   */
  static async resume(dir: string, plan: Plan): Promise<FeatureWriter> {
    const hint = 'start again, overwriting it (--overwrite)';
    const saved = await readJson<Plan>(path.join(dir, PLAN_FILE), hint);
    if (!Array.isArray(saved?.files) || typeof saved.settings !== 'object') {
      throw new CnnfeatError(`${path.join(dir, PLAN_FILE)}: damaged plan; ${hint}`);
    }
    saved.settings = settingsFromDisk(saved.settings);
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
   * Appends the rows of `files` (`rows` holds them back to back: one per file, two with
   * `augment: 'flip'`) and checkpoints with `next` as the index of the first plan entry not yet handled.
   */
  async commit(rows: Float32Array, files: PlannedFile[], skipped: SkippedFile[], next: number, seconds: number): Promise<void> {
    const dim = this.plan.settings.dim;
    const count = files.length * rowsPerImage(this.plan.settings);
    if (rows.length < count * dim) throw new Error('commit: fewer feature values than rows');
    const p = this.progress;
    const bytes = Buffer.from(rows.buffer, rows.byteOffset, count * dim * 4);
    const lines = sampleLines(p.rows, files, this.plan.settings);
    try {
      const text = Buffer.from(lines, 'utf8');
      await writeAllAt(this.features, bytes, NPY_HEADER_BYTES + p.rows * dim * 4);
      await writeAllAt(this.samples, text, p.samplesBytes);
      await writeAllAt(this.features, npyHeader(p.rows + count, dim), 0);
      await Promise.all([this.features.sync(), this.samples.sync()]);
      const progress = {
        next,
        rows: p.rows + count,
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
    const hint = what.includes('--resume') ? kept : `${kept}: fix this and resume (--resume)`;
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

/** Fails unless an extraction is continued with the same settings, image folder and file list. */
function assertSamePlan(dir: string, saved: Plan, plan: Plan): void {
  const changed = diffSettings(saved.settings, plan.settings);
  if (changed.length > 0) throw new CnnfeatError(`${dir}: cannot resume, it ${madeWith(saved.settings, plan.settings, changed, 'continue it', 'was started with')}`);
  if (saved.imageRoot !== plan.imageRoot) {
    throw new CnnfeatError(`${dir}: cannot resume, it was started on ${saved.imageRoot}, not ${plan.imageRoot}; use the same folder or overwrite it (--overwrite)`);
  }
  if (JSON.stringify(saved.files) !== JSON.stringify(plan.files) || JSON.stringify(saved.classes) !== JSON.stringify(plan.classes)) {
    const hashFlag = hashFlagChange(saved.files, plan.files);
    if (hashFlag) throw new CnnfeatError(`${dir}: cannot resume, ${hashFlag}`);
    throw new CnnfeatError(
      `${dir}: cannot resume, the image list changed since the extraction started (${saved.files.length} files then, ${plan.files.length} now); restore it or start again, overwriting it (--overwrite)`,
    );
  }
}

/**
 * Removes what an extraction or update left in `dir` besides the data files (checkpoint, plan,
 * manifest, update folder), checkpoint first, before something else is written there.
 */
export async function removeWorkFiles(dir: string): Promise<void> {
  for (const name of [PROGRESS_FILE, MANIFEST_FILE, PLAN_FILE]) await fsp.rm(path.join(dir, name), { force: true });
  await fsp.rm(path.join(dir, UPDATE_DIR), { recursive: true, force: true });
}

