/**
 * The on-disk schema of a feature directory: file names, the manifest and plan, and the
 * comparisons of settings and file lists that decide whether two extractions agree.
 */
import path from 'node:path';
import type { ResizeKernel, ResizeMode } from '../image/resize.js';
import type { IccMode } from '../image/icc.js';
import type { AugmentMode, TtaMode } from '../image/flip.js';
import type { PreprocessMode } from '../image/preprocess.js';
import type { EngineDescription, PoolMode, Precision } from '../engines/engine.js';
import type { FileKey } from '../dataset/file-keys.js';
import { exists } from '../util/fs.js';
import { TOOL_STAMP } from '../version.js';
import { sha256OfText } from '../util/hash.js';
import { csvField } from './csv.js';

export const FEATURES_FILE = 'features.npy';
export const SAMPLES_FILE = 'samples.csv';
export const MANIFEST_FILE = 'manifest.json';
export const PLAN_FILE = '.cnnfeat-plan.json';
/** Working folder of `extract --update` inside the feature directory. */
export const UPDATE_DIR = '.cnnfeat-update';
/** Checkpoint of an unfinished extraction. */
export const PROGRESS_FILE = '.cnnfeat-progress.json';
/** First line of samples.csv. */
const SAMPLES_HEADER = 'row,path,label\n';
/** First line of samples.csv with mirrored rows (`--augment flip`): each row also says which view of its image it holds. */
const SAMPLES_HEADER_VIEWS = 'row,path,label,view\n';

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
  /**
   * center-crop: the share of the scaled image kept (1: the short side fills the input; 0.875:
   * torchvision's Resize(256) + CenterCrop(224)); 1 for the other modes and in files written before it existed.
   */
  cropFraction: number;
  /** Interpolation kernel of the resize (`kernel` in files written before the rename, still read). */
  resizeKernel: ResizeKernel;
  /** Embedded ICC profiles ignored or applied (files written before the choice existed applied them). */
  icc: IccMode;
  /**
   * The network's precision (fp32 in files written before it existed). Rows of different
   * precisions never share a feature directory; fp32 rows from any device do (a GPU's equal the CPU's).
   */
  precision: Precision;
  /** `flip`: each row is the mean of the features of the image and of its mirror ('none' in older files). */
  tta: TtaMode;
  /** `flip`: each image gives two rows, its own and its mirror's (samples.csv `view`); 'none' in older files. */
  augment: AugmentMode;
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
  /** `rows`: rows of features.npy (two per image with `augment: 'flip'`); `perClass`: images per class. */
  counts: { rows: number; planned: number; skipped: number; perClass: Record<string, number> };
  /** Classes without rows: an empty class folder, or one whose every image was skipped (absent in older manifests). */
  emptyClasses?: string[];
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

/**
 * Where the time of one extraction session went (manifest.json `timings.stages`), in seconds.
 * A resumed extraction describes only the session that finished it.
 */
export interface ExtractStages {
  batches: number;
  images: number;
  batchSize: number;
  /** From the start of the first decode to the last checkpoint (model loading excluded). */
  seconds: number;
  /** What the main thread did; the parts add up to `seconds`. */
  main: {
    /** Waiting for a batch to finish decoding (the first batch, or decoding slower than inference). */
    waitDecode: number;
    /** Converting decoded pixels into the float32 batch. */
    preprocess: number;
    /** Waiting for the engine's features. */
    waitEngine: number;
    /** Appending rows and sample lines, fsync, checkpoint. */
    write: number;
    other: number;
  };
  /** Decoding summed over batches (from asking for a batch until all of it was decoded); it overlaps inference. */
  decode: number;
  /** What the inference engine did; inference + idle = `seconds`. */
  engine: {
    inference: number;
    /** No batch to run: before the first one, in gaps between batches, after the last. */
    idle: number;
    /** Of `idle`: until the first batch was decoded and handed over. */
    beforeFirstBatch: number;
    /** Of `idle`: from the last features' arrival to the end (last write and checkpoint). */
    afterLastBatch: number;
    /**
     * The first batch's run, which also pays onnxruntime's first-run allocations for the batch
     * shape (null for engines that do not measure themselves).
     */
    firstBatch: { images: number; inference: number } | null;
    /** Batches handed to the engine until their run started (engines in another thread). */
    handover: number;
    /** Features on their way back to the main thread. */
    return: number;
    /** inference / seconds. */
    utilization: number;
  };
  /**
   * CPU seconds by thread group (Linux only, else null): the main thread, the inference threads
   * (and how long they were ready but waited for a core), everything else of this process —
   * sharp's decoding when it decodes here, file I/O, garbage-collector helpers — and the decoder
   * processes (null when decoding in this process; absent in older manifests).
   */
  cpu: {
    process: number;
    main: number;
    inference: number | null;
    inferenceWaitedForCore: number | null;
    decodeAndOther: number;
    decoders?: number | null;
    decodersWaitedForCore?: number | null;
  } | null;
  /**
   * Settings in force: inference threads, decoder processes (0: decoding in this process; absent
   * in older manifests), images decoded at once (over all decoder processes), libvips threads per image.
   */
  threads: { inference: number; decoderProcesses?: number; decodeConcurrency: number; libvips: number };
  /** The decoder processes' peak resident memory summed (MB), and how many died and were replaced (null, or absent in older manifests: decoded in this process). */
  decoders?: { peakRssMB: number | null; restarts: number } | null;
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

/** What an output directory holds. */
export type DirState = 'empty' | 'complete' | 'partial' | 'foreign';

/** Inspects a feature directory: nothing of ours, finished, unfinished (resumable), or unknown files. */
export async function featureDirState(dir: string): Promise<DirState> {
  if (await exists(path.join(dir, MANIFEST_FILE))) return 'complete';
  if ((await exists(path.join(dir, PLAN_FILE))) || (await exists(path.join(dir, PROGRESS_FILE)))) return 'partial';
  if ((await exists(path.join(dir, FEATURES_FILE))) || (await exists(path.join(dir, SAMPLES_FILE)))) return 'foreign';
  return 'empty';
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
    emptyClasses: plan.classes.filter((c) => perClass[c] === 0),
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

/** When two file lists differ only because one was keyed with `--hash`: what to do about it. */
export function hashFlagChange(before: PlannedFile[], now: PlannedFile[]): string | null {
  const hashed = (files: PlannedFile[]) => files.some((f) => f.sha256 !== undefined);
  if (hashed(before) === hashed(now)) return null;
  return `it was made ${hashed(before) ? 'with' : 'without'} content hashes (--hash); run it ${hashed(before) ? 'with' : 'without'} them too`;
}

/**
 * Settings as read from disk, in today's form: files written before `--pool` existed pooled by
 * average; files written before the rename call the resize interpolation `kernel`; files written
 * before crop fractions, test-time and training augmentation cropped (if at all) at fraction 1,
 * without mirrors; files written before `--precision` existed are fp32; files written before
 * `--icc` existed applied embedded ICC profiles.
 */
export function settingsFromDisk<T extends FeatureSignature>(settings: T): T {
  const { kernel, ...rest } = settings as T & { kernel?: ResizeKernel; resizeKernel?: ResizeKernel };
  const old = settings as Partial<ExtractSettings>;
  const upgraded = { ...rest, pool: settings.pool ?? 'avg', cropFraction: old.cropFraction ?? 1, tta: old.tta ?? 'none', augment: old.augment ?? 'none' } as T & { resizeKernel?: ResizeKernel; precision?: Precision; icc?: IccMode };
  if (kernel !== undefined && upgraded.resizeKernel === undefined) upgraded.resizeKernel = kernel;
  if ('resize' in upgraded && upgraded.precision === undefined) upgraded.precision = 'fp32';
  if ('resize' in upgraded && upgraded.icc === undefined) upgraded.icc = 'apply';
  return upgraded;
}

/** The view of its image each of an image's rows holds, in row order: `original`, then `flip` with `augment: 'flip'`. */
function rowViews(settings: Pick<ExtractSettings, 'augment'>): readonly string[] {
  return settings.augment === 'flip' ? ['original', 'flip'] : ['original'];
}

/** Rows of features.npy per image: 2 with `augment: 'flip'` (the image's and its mirror's), else 1 (`augment` left out: none). */
export function rowsPerImage(settings: Partial<Pick<ExtractSettings, 'augment'>>): number {
  return rowViews({ augment: settings.augment ?? 'none' }).length;
}

/** The first line of samples.csv for features made with `settings`. */
export function samplesHeader(settings: Pick<ExtractSettings, 'augment'>): string {
  return settings.augment === 'flip' ? SAMPLES_HEADER_VIEWS : SAMPLES_HEADER;
}

/**
 * The samples.csv lines of the rows of `files` (each file's rows in turn, see `rowViews`), numbered from `firstRow`.
 */
export function sampleLines(firstRow: number, files: readonly Pick<PlannedFile, 'relPath' | 'label'>[], settings: Pick<ExtractSettings, 'augment'>): string {
  const views = rowViews(settings);
  let row = firstRow;
  let text = '';
  for (const f of files) {
    const start = `${csvField(f.relPath)},${csvField(f.label)}`;
    for (const view of views) text += views.length > 1 ? `${row++},${start},${view}\n` : `${row++},${start}\n`;
  }
  return text;
}

/** The command-line flag that sets each setting, where one does. */
const SETTING_FLAGS: Partial<Record<keyof ExtractSettings, (s: ExtractSettings) => string | null>> = {
  model: (s) => `--model ${s.model}`,
  layer: (s) => `--layer ${s.layer}`,
  pool: (s) => `--pool ${s.pool}`,
  preprocess: (s) => `--preprocess ${s.preprocess}`,
  input: (s) => `--input ${s.input.height}x${s.input.width}`,
  resize: (s) => `--resize ${s.resize}`,
  // Only a center-crop has a fraction to keep; --resize of another mode implies 1.
  cropFraction: (s) => (s.resize === 'center-crop' ? `--crop-fraction ${s.cropFraction}` : null),
  resizeKernel: (s) => `--resize-kernel ${s.resizeKernel}`,
  icc: (s) => `--icc ${s.icc}`,
  precision: (s) => `--precision ${s.precision}`,
  tta: (s) => `--tta ${s.tta}`,
  augment: (s) => `--augment ${s.augment}`,
};

/** A setting's value in words (`224x224` for the input size). */
function settingValue(s: ExtractSettings, key: keyof ExtractSettings): string {
  const value = s[key];
  return key === 'input' ? `${s.input.height}x${s.input.width}` : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Settings that differ between two extractions, in words, `a`'s value first: `tta none vs flip, layer features vs conv`. */
export function settingsVersus(a: ExtractSettings, b: ExtractSettings, changed: (keyof ExtractSettings)[]): string {
  return changed.map((k) => `${k} ${settingValue(a, k)} vs ${settingValue(b, k)}`).join(', ');
}

/**
 * For an error about features made otherwise than the options now ask: `was made with resize
 * squash (now center-crop); add --resize squash to <verb>, or overwrite it (--overwrite)`.
 * @param changed the differing settings (see `diffSettings`)
 * @param verb what the old settings would let the command do, e.g. `continue it`
 * @param made how the sentence starts (`was started with` for an unfinished extraction)
 */
export function madeWith(before: ExtractSettings, now: ExtractSettings, changed: (keyof ExtractSettings)[], verb: string, made = 'was made with'): string {
  const values = changed.map((k) => `${k} ${settingValue(before, k)} (now ${settingValue(now, k)})`).join(', ');
  const flags = [...new Set(changed.map((k) => SETTING_FLAGS[k]?.(before) ?? null).filter((f): f is string => f !== null))];
  return `${made} ${values}; ${flags.length > 0 ? `add ${flags.join(' ')} to ${verb}, or ` : ''}overwrite it (--overwrite)`;
}
