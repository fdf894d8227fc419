import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CnnfeatError, ExitCode } from '../errors.js';
import { exists, makeDir, readJson, statOrNull, writeJsonAtomic } from '../util/fs.js';
import { waitForLockFile } from '../util/lock.js';
import type { Logger } from '../util/log.js';
import { INSTALL_RECORD } from '../util/cache.js';
import { readModelJson } from '../formats/tfjs-model.js';
import { isOnnxPath, onnxModelFiles } from '../formats/onnx-model.js';
import { sha256OfFiles } from '../util/hash.js';

/** One installed file: its path relative to the model folder, size and (HTTP sources) sha256. */
export interface InstalledFile {
  name: string;
  bytes: number;
  /** Hex sha256; recorded for HTTP downloads and checked before each use. */
  sha256?: string;
}

/** What an install leaves beside the weights (`cnnfeat-install.json`); checked before every use. */
export interface InstallRecord {
  id: string;
  /** npm sources: package spec and tarball integrity. */
  spec?: string;
  integrity?: string;
  /** HTTP sources: the URL of model.json or of the .onnx file. */
  url?: string;
  files: InstalledFile[];
  /** `sha256:<hex>` of the weights (see {@link weightsDigest}). */
  weightsDigest: string;
  installedAt: string;
}

/** An installed, verified model on disk. */
export interface InstalledModel {
  dir: string;
  /** The model.json or .onnx file. */
  modelFile: string;
  record: InstallRecord;
}

/**
 * The files of a model: model.json then its weight shards (in manifest order), or the .onnx
 * file then its external-data files; `weights` are those the weights digest covers.
 */
async function modelFilesOf(modelFile: string): Promise<{ all: string[]; weights: string[] }> {
  if (isOnnxPath(modelFile)) {
    const files = await onnxModelFiles(modelFile);
    return { all: files, weights: files };
  }
  const { shards } = await readModelJson(modelFile);
  return { all: [modelFile, ...shards], weights: shards };
}

/**
 * `sha256:<hex>` of a model's weights: of a TensorFlow.js model's shards in manifest order, of an
 * ONNX model's .onnx file and external-data files (the .onnx holds the weights unless they are external).
 */
export async function weightsDigest(modelFile: string): Promise<string> {
  return `sha256:${await sha256OfFiles((await modelFilesOf(modelFile)).weights)}`;
}

/**
 * Reads the install record in `dir` and checks every recorded file still has its size (and its
 * sha256, when recorded). Null when absent, foreign (`matches` says no) or damaged.
 */
export async function verifiedInstall(
  dir: string,
  modelFile: string,
  matches: (record: InstallRecord) => boolean,
): Promise<InstalledModel | null> {
  const record = await readJson<InstallRecord>(path.join(dir, INSTALL_RECORD)).catch(() => null);
  if (record === null || !Array.isArray(record.files) || !matches(record)) return null;
  for (const file of record.files) {
    const where = path.join(dir, file.name);
    if ((await statOrNull(where))?.size !== file.bytes) return null;
    if (file.sha256 !== undefined && (await sha256OfFiles([where])) !== file.sha256) return null;
  }
  return { dir, modelFile: path.join(dir, modelFile), record };
}

/**
 * Writes the install record of the model unpacked in `staging`: sizes (and, with `hashes`,
 * sha256) of model.json and every shard (or of the .onnx file and its external data), and the
 * weights digest.
 */
export async function recordInstall(
  staging: string,
  modelFile: string,
  fields: Omit<InstallRecord, 'files' | 'weightsDigest' | 'installedAt'>,
  hashes?: Map<string, string>,
): Promise<InstallRecord> {
  const { all, weights } = await modelFilesOf(path.join(staging, modelFile));
  const files = await Promise.all(
    all.map(async (file) => {
      const name = path.relative(staging, file).split(path.sep).join('/');
      const entry: InstalledFile = { name, bytes: (await fsp.stat(file)).size };
      const sha256 = hashes?.get(name);
      if (sha256) entry.sha256 = sha256;
      return entry;
    }),
  );
  const record: InstallRecord = { ...fields, files, weightsDigest: `sha256:${await sha256OfFiles(weights)}`, installedAt: new Date().toISOString() };
  await writeJsonAtomic(path.join(staging, INSTALL_RECORD), record);
  return record;
}

/** How to install one model folder: where, how to recognise a good copy, how to fill a new one. */
export interface InstallPlan {
  /** Final folder, e.g. `<cache>/models/<id>`. */
  dir: string;
  modelFile: string;
  /** Whether an existing record belongs to this source (same integrity, URL, pins…). */
  matches: (record: InstallRecord) => boolean;
  /** Downloads into the (empty) staging folder and returns its install record. */
  fill: (staging: string) => Promise<InstallRecord>;
  /** Wraps an unexpected failure into the one-line error shown to the user. */
  describeFailure: (err: unknown) => string;
  force?: boolean;
  logger: Logger;
}

/**
 * Installs a model folder atomically: under a per-folder lock (so concurrent pulls download once),
 * it fills a hidden staging folder next to `dir` and renames it into place only when complete;
 * any failure removes the staging folder, so nothing half-installed is ever left in the cache.
 * A verified existing copy is returned as is unless `force`.
 */
export async function installModel(plan: InstallPlan): Promise<InstalledModel> {
  const { dir, modelFile } = plan;
  if (!plan.force) {
    const cached = await verifiedInstall(dir, modelFile, plan.matches);
    if (cached) return cached;
    if (await exists(path.join(dir, INSTALL_RECORD))) {
      plan.logger.warn(`the cached copy in ${dir} is damaged or does not match its source any more; downloading it again`);
    }
  }
  const parent = path.dirname(dir);
  await makeDir(parent);
  const lock = await waitForLockFile(path.join(parent, `.${path.basename(dir)}.lock`), 'install', plan.logger, (holder) =>
    `Waiting for another cnnfeat process (pid ${holder.pid}) that is installing the same model…`,
  );
  let staging: string | undefined;
  try {
    if (!plan.force) {
      const finished = await verifiedInstall(dir, modelFile, plan.matches);
      if (finished) return finished; // another process completed the same install while we waited
    }
    await removeLeftovers(parent, path.basename(dir));
    staging = await fsp.mkdtemp(path.join(parent, `.${path.basename(dir)}-partial-`));
    const record = await plan.fill(staging);
    await replaceDir(staging, dir);
    staging = undefined;
    plan.logger.info(`Installed ${record.id} in ${dir}`);
    return { dir, modelFile: path.join(dir, modelFile), record };
  } catch (err) {
    if (err instanceof CnnfeatError) throw err;
    throw new CnnfeatError(plan.describeFailure(err), ExitCode.model);
  } finally {
    if (staging) await fsp.rm(staging, { recursive: true, force: true });
    await lock.release();
  }
}

/** Staging folders of earlier runs that died mid-download (only the lock holder creates them). */
async function removeLeftovers(parent: string, name: string): Promise<void> {
  for (const entry of await fsp.readdir(parent)) {
    if (entry.startsWith(`.${name}-partial-`)) await fsp.rm(path.join(parent, entry), { recursive: true, force: true });
  }
}

/** Moves `staging` to `dir`; an older copy is moved aside first and removed after. */
async function replaceDir(staging: string, dir: string): Promise<void> {
  const old = `${staging}-old`;
  const hadOld = await exists(dir);
  if (hadOld) await fsp.rename(dir, old);
  await fsp.rename(staging, dir);
  if (hadOld) await fsp.rm(old, { recursive: true, force: true });
}
