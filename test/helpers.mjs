// Shared test fixtures: generated images, datasets and a tiny TensorFlow.js model.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'bin', 'cnnfeat.js');

/** A fresh temporary folder, removed when the test ends. */
export async function tempDir(t, prefix = 'cnnfeat-test-') {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a solid-colour image with a little noise so that no two files are identical. */
export async function writeImage(file, { width = 40, height = 30, rgb = [200, 30, 30], seed = 0, format = 'jpeg' } = {}) {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const pixels = Buffer.alloc(width * height * 3);
  let s = seed * 9973 + 1;
  for (let i = 0; i < pixels.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    pixels[i] = Math.max(0, Math.min(255, rgb[i % 3] + ((s >> 16) % 31) - 15));
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } }).toFormat(format).toFile(file);
}

/**
 * A two-class dataset of reddish and bluish images under `<dir>/<split>/<class>/`,
 * `perClass` images each (or directly `<dir>/<class>/` when `split` is null).
 */
export async function makeColourDataset(dir, { perClass = 6, split = null, start = 0 } = {}) {
  const base = split ? path.join(dir, split) : dir;
  const classes = { red: [210, 40, 40], blue: [40, 60, 210] };
  for (const [name, rgb] of Object.entries(classes)) {
    for (let i = 0; i < perClass; i++) {
      await writeImage(path.join(base, name, `img${String(i + start).padStart(3, '0')}.jpg`), { rgb, seed: i + start + (name === 'red' ? 0 : 1000) });
    }
  }
  return base;
}

/**
 * Builds and saves a tiny Keras-style LayersModel (32×32×3 → conv → global average pool
 * "features" → dense "head") as model.json + weights.bin, the layout tfjs converters write.
 * `filters` is the feature dimension (default 8).
 */
export async function makeTinyModel(dir, { filters = 8 } = {}) {
  const tf = await import('@tensorflow/tfjs');
  tf.util.seedrandom?.('cnnfeat');
  const input = tf.input({ shape: [32, 32, 3], name: 'input' });
  const conv = tf.layers
    .conv2d({ filters, kernelSize: 3, activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })
    .apply(input);
  const pooled = tf.layers.globalAveragePooling2d({ name: 'features' }).apply(conv);
  const head = tf.layers.dense({ units: 2, activation: 'softmax', name: 'head', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(pooled);
  return saveLayersModel(tf.model({ inputs: input, outputs: head }), dir);
}

/** Saves a tfjs LayersModel as model.json + weights.bin (disposing it); returns the model.json path. */
export async function saveLayersModel(model, dir) {
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
      await fsp.writeFile(path.join(dir, 'weights.bin'), Buffer.from(artifacts.weightData));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return path.join(dir, 'model.json');
}

/** The JSON a CLI run printed, after checking that it succeeded. */
export function json(result) {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** The `manifest.json` of a feature directory. */
export async function manifestOf(dir) {
  return JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8'));
}

/** Runs the CLI; resolves to { code, stdout, stderr }. */
export function runCli(args, { env = {}, cwd = ROOT } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the CLI and returns the child process (for kill tests). */
export function startCli(args, { env = {} } = {}) {
  return spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}
