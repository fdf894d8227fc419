// Shared test fixtures: generated images, datasets, a tiny TensorFlow.js model, the CLI runner
// and the shapes of what the CLI prints with --json.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, promises as fsp, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type * as tfjs from '@tensorflow/tfjs';
import type { trainingSummary } from '../dist/commands/train.js';
import type { ExtractResult } from '../dist/pipeline/extract.js';
import type { fetchModel } from '../dist/models/resolve.js';
import type { FeatureManifest, ShardInfo, UpdateCounts } from '../dist/features/schema.js';
import type { Logger } from '../dist/util/log.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'bin', 'cnnfeat.js');
/** The shared data folder beside the repository (`../shared`), absent on a fresh machine. */
export const SHARED = path.resolve(ROOT, '..', 'shared');

/**
 * `../shared/<rel>` when it exists; else the reason to skip a test that needs it (for `{ skip }`).
 */
export function sharedData(rel: string): { path: string; skip: string | false } {
  const file = path.join(SHARED, rel);
  return { path: file, skip: existsSync(file) ? false : `needs ../shared/${rel} beside the repository (not found at ${file})` };
}

/** A fresh temporary folder, removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'cnnfeat-test-'): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A temporary folder shared by the tests of one file (made in `before`), removed when the
 * process exits (synchronously: an exit handler cannot wait for a promise).
 */
export async function fileTempDir(prefix: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export type Rgb = [number, number, number];

export interface ImageOptions {
  width?: number;
  height?: number;
  rgb?: Rgb;
  seed?: number;
  format?: 'jpeg' | 'png';
}

/** Writes a solid-colour image with a little noise so that no two files are identical. */
export async function writeImage(file: string, { width = 40, height = 30, rgb = [200, 30, 30], seed = 0, format = 'jpeg' }: ImageOptions = {}): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const pixels = Buffer.alloc(width * height * 3);
  let s = seed * 9973 + 1;
  for (let i = 0; i < pixels.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    pixels[i] = Math.max(0, Math.min(255, rgb[i % 3]! + ((s >> 16) % 31) - 15));
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } }).toFormat(format).toFile(file);
}

/**
 * A two-class dataset of reddish and bluish images under `<dir>/<split>/<class>/`,
 * `perClass` images each (or directly `<dir>/<class>/` when `split` is null).
 */
export async function makeColourDataset(dir: string, { perClass = 6, split = null as string | null, start = 0 } = {}): Promise<string> {
  const base = split ? path.join(dir, split) : dir;
  const classes: Record<string, Rgb> = { red: [210, 40, 40], blue: [40, 60, 210] };
  for (const [name, rgb] of Object.entries(classes)) {
    for (let i = 0; i < perClass; i++) {
      await writeImage(path.join(base, name, `img${String(i + start).padStart(3, '0')}.jpg`), { rgb, seed: i + start + (name === 'red' ? 0 : 1000) });
    }
  }
  return base;
}

/** A layer's output on a symbolic input: Layer.apply returns a union, these models have one output. */
export function applyLayer(layer: tfjs.layers.Layer, input: tfjs.SymbolicTensor | tfjs.SymbolicTensor[]): tfjs.SymbolicTensor {
  const output = layer.apply(input);
  assert.ok(!Array.isArray(output) && 'sourceLayer' in output, `${layer.name}: one symbolic output expected`);
  return output;
}

/**
 * Builds and saves a tiny Keras-style LayersModel (32×32×3 → conv → global average pool
 * "features" → dense "head") as model.json + weights.bin, the layout tfjs converters write.
 * `filters` is the feature dimension (default 8).
 */
export async function makeTinyModel(dir: string, { filters = 8 } = {}): Promise<string> {
  const tf = await import('@tensorflow/tfjs');
  const input = tf.input({ shape: [32, 32, 3], name: 'input' });
  const conv = applyLayer(tf.layers.conv2d({ filters, kernelSize: 3, activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }), input);
  const pooled = applyLayer(tf.layers.globalAveragePooling2d({ name: 'features' }), conv);
  const head = applyLayer(tf.layers.dense({ units: 2, activation: 'softmax', name: 'head', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }), pooled);
  return saveLayersModel(tf.model({ inputs: input, outputs: head }), dir);
}

/** Saves a tfjs LayersModel as model.json + weights.bin (disposing it); returns the model.json path. */
export async function saveLayersModel(model: tfjs.LayersModel, dir: string): Promise<string> {
  const tf = await import('@tensorflow/tfjs');
  await fsp.mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const json = {
        format: 'layers-model',
        generatedBy: 'cnnfeat tests',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await fsp.writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
      assert.ok(artifacts.weightData instanceof ArrayBuffer, 'the weights of a small model come as one buffer');
      await fsp.writeFile(path.join(dir, 'weights.bin'), Buffer.from(artifacts.weightData));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return path.join(dir, 'model.json');
}

/**
 * max |actual − expected| / max |expected|, after checking the lengths agree and the reference
 * is not all zeros (which would make any comparison pass).
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'feature lengths differ');
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
  }
  assert.ok(maxAbs > 0, 'reference features are all zero: the comparison would prove nothing');
  return maxDiff / maxAbs;
}

/** What a CLI run gave back. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The JSON a CLI run printed, after checking that it succeeded. `T` names what the command
 * prints (stdout is untyped JSON: the type is the test's claim, checked by its assertions).
 */
export function json<T>(result: CliResult): T {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

/** A JSON file's content; `T` as for {@link json}. */
export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
}

/** The `manifest.json` of a feature directory. */
export function manifestOf(dir: string): Promise<FeatureManifest> {
  return readJson<FeatureManifest>(path.join(dir, 'manifest.json'));
}

/** Runs the CLI; resolves to { code, stdout, stderr }. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return runScript(CLI, args, options);
}

/** Runs a Node script (colours off); resolves to { code, stdout, stderr }. */
export function runScript(script: string, args: string[], { env = {}, cwd = ROOT }: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The last line a command printed on stderr (its error line, after any warnings). */
export function lastLine(stderr: string): string {
  return stderr.trim().split('\n').at(-1) ?? '';
}

/** Whether process `pid` runs (a zombie, dead but not yet reaped by its new parent, does not). */
export async function running(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat === null ? os.platform() !== 'linux' : stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** Starts the CLI and returns the child process (for kill tests). */
export function startCli(args: string[], { env = {} }: { env?: NodeJS.ProcessEnv } = {}): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A logger that keeps what it is told (`info` and `warn` lines, in order) and shows no progress. */
export function recordingLogger(): { logger: Logger; infos: string[]; warnings: string[]; all: string[] } {
  const infos: string[] = [];
  const warnings: string[] = [];
  const all: string[] = [];
  const logger: Logger = {
    info: (m) => void (infos.push(m), all.push(m)),
    warn: (m) => void (warnings.push(m), all.push(m)),
    progress: () => ({ update() {}, stop() {} }),
  };
  return { logger, infos, warnings, all };
}

/** `cnnfeat extract --json` (see src/commands/extract.ts). */
export type ExtractJson = Omit<ExtractResult, 'manifest'> & { update?: UpdateCounts; shard?: ShardInfo };
/** `cnnfeat train --json` (see src/commands/train.ts). */
export type TrainJson = { output: string } & ReturnType<typeof trainingSummary>;
/** `cnnfeat merge --json` (see src/commands/merge.ts). */
export type MergeJson = Pick<ExtractResult, 'rows' | 'dim' | 'skipped' | 'outDir'> & { shards: number };
/** One row of `cnnfeat models list --json` (see src/commands/models.ts). */
export interface ModelsListRow {
  id: string;
  title: string;
  dim: number;
  layer: string;
  format: string;
  user: boolean;
  installed: string | null;
}
/** `cnnfeat models pull --json`. */
export type PulledJson = Awaited<ReturnType<typeof fetchModel>>;

/** The `train --json` fields these tests read. */
export interface TrainOut {
  classifier: string;
  options: { kernel?: string; C: number; scale: string };
  selection: {
    method: string;
    folds: number;
    valSize?: number;
    seed: number;
    scoring: string;
    best: number;
    results: { params: { classifier?: string; kernel?: string; C: number; scale: string }; round?: number; trainRows?: number }[];
  };
}

/** Seeded uniform numbers in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}
