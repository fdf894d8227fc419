/** Reading finished feature directories: the index (manifest, samples) and the whole matrix. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import { exists, readJson } from '../util/fs.js';
import { parseCsv } from './csv.js';
import { readNpy, readNpyHeader } from './npy.js';
import { featureDirState, FEATURES_FILE, MANIFEST_FILE, SAMPLES_FILE, samplesHeader, settingsFromDisk, type FeatureManifest } from './schema.js';

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
  /** With mirrored rows (`augment: 'flip'`): the view each row holds, `original` or `flip` (samples.csv `view`). */
  views?: string[];
}

/**
 * Reads a finished feature directory's manifest and samples.csv and checks them against the
 * shape in features.npy's header (the values are not read).
 */
export async function readFeatureIndex(dir: string): Promise<FeatureIndex> {
  const state = await featureDirState(dir);
  if (state === 'partial') {
    throw new CnnfeatError(`${dir}: extraction did not finish; resume it (\`cnnfeat extract … --resume\`) to complete it`);
  }
  if (state !== 'complete') {
    if (!(await exists(dir))) throw new CnnfeatError(`${dir}: no such folder; give a feature directory written by \`cnnfeat extract\``);
    throw new CnnfeatError(`${dir}: not a cnnfeat feature directory (no ${MANIFEST_FILE}); create it with \`cnnfeat extract\``);
  }
  const manifest = await readJson<FeatureManifest>(path.join(dir, MANIFEST_FILE), 'extract it again, overwriting it (`cnnfeat extract … --overwrite`)');
  if (manifest?.format !== 'cnnfeat-features' || typeof manifest.settings !== 'object' || typeof manifest.counts !== 'object') {
    throw new CnnfeatError(`${path.join(dir, MANIFEST_FILE)}: not a cnnfeat manifest; extract it again, overwriting it (\`cnnfeat extract … --overwrite\`)`);
  }
  manifest.settings = settingsFromDisk(manifest.settings);
  const handle = await fsp.open(path.join(dir, FEATURES_FILE), 'r');
  const matrix = await readNpyHeader(handle, path.join(dir, FEATURES_FILE)).finally(() => handle.close());
  const [header, ...rows] = parseCsv(await fsp.readFile(path.join(dir, SAMPLES_FILE), 'utf8'));
  if (`${header?.join(',')}\n` !== samplesHeader(manifest.settings)) {
    const expected = samplesHeader(manifest.settings).trim();
    throw new CnnfeatError(`${path.join(dir, SAMPLES_FILE)}: bad header (expected ${expected}); extract it again, overwriting it (\`cnnfeat extract … --overwrite\`)`);
  }
  if (rows.length !== matrix.rows || matrix.rows !== manifest.counts.rows || matrix.cols !== manifest.settings.dim) {
    throw new CnnfeatError(
      `${dir}: ${FEATURES_FILE} has ${matrix.rows}×${matrix.cols}, ${SAMPLES_FILE} ${rows.length} rows, manifest ${manifest.counts.rows}×${manifest.settings.dim}; extract it again, overwriting it (\`cnnfeat extract … --overwrite\`)`,
    );
  }
  return {
    dir,
    manifest,
    rows: matrix.rows,
    dim: matrix.cols,
    paths: rows.map((r) => r[1] ?? ''),
    labels: rows.map((r) => r[2] ?? ''),
    ...(manifest.settings.augment === 'flip' ? { views: rows.map((r) => r[3] ?? '') } : {}),
  };
}

/** A finished feature directory loaded into memory. */
export interface FeatureSet extends FeatureIndex {
  /** Row-major `rows × dim` features. */
  X: Float32Array;
}

/**
 * Loads a finished feature directory, checking that `features.npy`, `samples.csv` and the
 * manifest agree. `shared`: the matrix in a SharedArrayBuffer (training reads it from worker threads).
 */
export async function readFeatureSet(dir: string, opts: { shared?: boolean } = {}): Promise<FeatureSet> {
  const index = await readFeatureIndex(dir);
  const matrix = await readNpy(path.join(dir, FEATURES_FILE), opts);
  return { ...index, X: matrix.data };
}

