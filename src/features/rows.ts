import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fromSystemError, makeDir, writeAllAt, writeJsonAtomic } from '../util/fs.js';
import { CnnfeatError } from '../errors.js';
import { NPY_HEADER_BYTES, npyHeader, readNpyHeader } from './npy.js';
import { FEATURES_FILE, MANIFEST_FILE, rowsPerImage, SAMPLES_FILE, sampleLines, samplesHeader, type ExtractSettings, type FeatureManifest, type PlannedFile, type SkippedFile } from './schema.js';
import type { FeatureIndex } from './reader.js';

/** Reads rows of a feature directory's `features.npy` by index, without loading the whole matrix. */
export class RowReader {
  private constructor(
    private readonly handle: fsp.FileHandle,
    readonly rows: number,
    readonly dim: number,
    private readonly dataOffset: number,
  ) {}

  /** Opens `<dir>/features.npy`. */
  static async open(dir: string): Promise<RowReader> {
    const file = path.join(dir, FEATURES_FILE);
    const handle = await fsp.open(file, 'r');
    try {
      const { rows, cols, dataOffset } = await readNpyHeader(handle, file);
      return new RowReader(handle, rows, cols, dataOffset);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Rows `start … start+count−1`, back to back as float32 bytes. */
  async read(start: number, count: number): Promise<Buffer> {
    if (start < 0 || start + count > this.rows) throw new Error(`rows ${start}+${count} outside 0…${this.rows}`);
    const bytes = Buffer.alloc(count * this.dim * 4);
    const { bytesRead } = await this.handle.read(bytes, 0, bytes.length, this.dataOffset + start * this.dim * 4);
    if (bytesRead !== bytes.length) throw new Error('short read from features.npy');
    return bytes;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** The rows of one file in an output and where their feature values come from. */
export interface RowCopy {
  file: PlannedFile;
  source: RowReader;
  /** The file's first row in `source`. */
  row: number;
  /** Its rows there, consecutive: 1, or 2 with `augment: 'flip'` (the image's and its mirror's). */
  count: number;
}

/** Rows the copies add up to. */
export function rowCount(copies: readonly RowCopy[]): number {
  return copies.reduce((sum, c) => sum + c.count, 0);
}

/** A finished feature directory that rows are copied from, with its open reader. */
export interface RowSource {
  index: FeatureIndex;
  reader: RowReader;
}

/**
 * The rows of `files` (a new plan) taken from finished directories: each file's row is copied
 * from the source `sourceOf` names, or the reason that source skipped it is carried over.
 * @param missing the error for a file its source has neither a row nor a skip reason for
 */
export function gatherRows(
  files: readonly PlannedFile[],
  sourceOf: (file: PlannedFile, position: number) => RowSource,
  missing: (file: PlannedFile, source: RowSource) => Error,
): { copies: RowCopy[]; skipped: SkippedFile[] } {
  const lookups = new Map<RowSource, { rowOf: Map<string, number>; reasons: Map<string, string> }>();
  const lookupOf = (source: RowSource) => {
    let lookup = lookups.get(source);
    if (!lookup) {
      const rowOf = new Map<string, number>();
      source.index.paths.forEach((p, i) => rowOf.has(p) || rowOf.set(p, i)); // a file's first row
      lookup = { rowOf, reasons: new Map(source.index.manifest.skipped.map((k) => [k.path, k.reason])) };
      lookups.set(source, lookup);
    }
    return lookup;
  };
  const copies: RowCopy[] = [];
  const skipped: SkippedFile[] = [];
  files.forEach((file, position) => {
    const source = sourceOf(file, position);
    const { rowOf, reasons } = lookupOf(source);
    const reason = reasons.get(file.relPath);
    const row = rowOf.get(file.relPath);
    if (reason !== undefined) skipped.push({ path: file.relPath, reason });
    else if (row !== undefined) copies.push({ file, source: source.reader, row, count: rowsPerImage(source.index.manifest.settings) });
    else throw missing(file, source);
  });
  return { copies, skipped };
}

/**
 * Writes a feature directory in one pass: rows appended in order, header and manifest last
 * (the manifest marks it finished). Used where rows are copied rather than computed
 * (`extract --update`, `cnnfeat merge`).
 */
export class FeatureDirWriter {
  private rows = 0;
  private samplesBytes: number;

  private constructor(
    readonly dir: string,
    private readonly settings: ExtractSettings,
    private readonly features: fsp.FileHandle,
    private readonly samples: fsp.FileHandle,
  ) {
    this.samplesBytes = Buffer.byteLength(samplesHeader(settings));
  }

  /** Feature values per row. */
  get dim(): number {
    return this.settings.dim;
  }

  /** Creates (or empties) the data files in `dir` for features made with `settings`, removing any manifest there first. */
  static async create(dir: string, settings: ExtractSettings): Promise<FeatureDirWriter> {
    await makeDir(dir);
    await fsp.rm(path.join(dir, MANIFEST_FILE), { force: true });
    const features = await fsp.open(path.join(dir, FEATURES_FILE), 'w');
    const samples = await fsp.open(path.join(dir, SAMPLES_FILE), 'w').catch(async (err: unknown) => {
      await features.close();
      throw err;
    });
    const writer = new FeatureDirWriter(dir, settings, features, samples);
    await writer.guard(async () => {
      await writeAllAt(features, npyHeader(0, settings.dim), 0);
      await writeAllAt(samples, Buffer.from(samplesHeader(settings)), 0);
    });
    return writer;
  }

  /** Copies the files' rows, reading consecutive rows of one source in one go. */
  async copy(items: readonly RowCopy[]): Promise<void> {
    const maxRun = Math.max(1, Math.floor((8 << 20) / (this.dim * 4)));
    for (let i = 0; i < items.length; ) {
      let end = i + 1;
      let rows = items[i]!.count;
      const follows = (c: RowCopy, before: RowCopy) => c.source === before.source && c.row === before.row + before.count;
      while (end < items.length && rows < maxRun && follows(items[end]!, items[end - 1]!)) rows += items[end++]!.count;
      const bytes = await items[i]!.source.read(items[i]!.row, rows);
      await this.append(bytes, items.slice(i, end).map((c) => c.file));
      i = end;
    }
  }

  /** Appends the rows of `files` (float32 bytes, `rowsPerImage` rows per file) and their sample lines. */
  async append(bytes: Buffer, files: readonly PlannedFile[]): Promise<void> {
    const lines = sampleLines(this.rows, files, this.settings);
    await this.guard(async () => {
      const text = Buffer.from(lines, 'utf8');
      await writeAllAt(this.features, bytes, NPY_HEADER_BYTES + this.rows * this.dim * 4);
      await writeAllAt(this.samples, text, this.samplesBytes);
      this.samplesBytes += text.length;
    });
    this.rows += files.length * rowsPerImage(this.settings);
  }

  /** Writes the final header, flushes, and writes the manifest (rows counted here). */
  async finish(manifest: FeatureManifest): Promise<void> {
    if (manifest.counts.rows !== this.rows) throw new Error(`manifest counts ${manifest.counts.rows} rows, ${this.rows} written`);
    await this.guard(async () => {
      await writeAllAt(this.features, npyHeader(this.rows, this.dim), 0);
      await Promise.all([this.features.sync(), this.samples.sync()]);
      await this.close();
      await writeJsonAtomic(path.join(this.dir, MANIFEST_FILE), manifest);
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.features.close(), this.samples.close()]);
  }

  /** File-system errors (disk full…) as one line naming the folder; nothing is finished until the manifest is written. */
  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const known = fromSystemError(err);
      if (!known) throw err;
      await this.close();
      throw new CnnfeatError(`${this.dir}: ${known.message}; nothing was finished there: fix this and run the command again`, known.exitCode);
    }
  }
}

/**
 * Writes a whole feature directory into `dir`: `copies` in order, then `manifest` last, so that
 * a kill at any point leaves no finished-looking directory.
 */
export async function writeFeatureDir(dir: string, copies: RowCopy[], manifest: FeatureManifest): Promise<void> {
  const writer = await FeatureDirWriter.create(dir, manifest.settings);
  try {
    await writer.copy(copies);
    await writer.finish(manifest);
  } finally {
    await writer.close();
  }
}
