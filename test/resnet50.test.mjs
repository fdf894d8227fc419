// Integration with the real ResNet50, pulled (once, then cached) through `cnnfeat models pull`.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { readNpy } from '../dist/features/npy.js';
import { decodeFiles, decodeOptionsOf, toInput } from '../dist/pipeline/batch.js';
import { loadFeatureModel } from '../dist/pipeline/feature-model.js';
import { runCli, tempDir } from './helpers.mjs';

/** Real-looking, clearly different classes: red discs on grass-green, and black-and-white stripes. */
async function makeShapes(dir, perClass) {
  for (let i = 0; i < perClass; i++) {
    const r = 40 + 9 * i;
    const discs = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><rect width="320" height="240" fill="rgb(${60 + i * 5},${140 - i * 3},60)"/><circle cx="${120 + i * 11}" cy="${100 + i * 6}" r="${r}" fill="rgb(220,${20 + i * 4},30)"/></svg>`;
    const w = 8 + 3 * i;
    const stripes = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><defs><pattern id="p" width="${2 * w}" height="10" patternUnits="userSpaceOnUse" patternTransform="rotate(${i * 15})"><rect width="${w}" height="10" fill="black"/><rect x="${w}" width="${w}" height="10" fill="white"/></pattern></defs><rect width="320" height="240" fill="url(#p)"/></svg>`;
    for (const [name, svg] of [['discs', discs], ['stripes', stripes]]) {
      await fsp.mkdir(path.join(dir, name), { recursive: true });
      await sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toFile(path.join(dir, name, `${i}.jpg`));
    }
  }
}

test('resnet50: pulled and verified through the CLI, 2048-d finite features, batch-independent, classes separate', async (t) => {
  const pulled = await runCli(['models', 'pull', 'resnet50', '--json']);
  assert.equal(pulled.code, 0, pulled.stderr);
  const { dir, weightsDigest } = JSON.parse(pulled.stdout);
  assert.match(weightsDigest, /^sha256:[0-9a-f]{64}$/);
  assert.equal((await runCli(['models', 'path', 'resnet50'])).stdout.trim(), dir);
  assert.equal((await fsp.readdir(dir)).filter((f) => f.endsWith('.bin')).length, 25);

  const data = await tempDir(t);
  await makeShapes(data, 6);
  const out = path.join(data, 'out');
  const run = await runCli(['run', data, '-o', out, '--test-size', '0.5', '--batch-size', '4', '--json', '--quiet']);
  assert.equal(run.code, 0, run.stderr);
  const metrics = JSON.parse(run.stdout);
  assert.equal(metrics.accuracy, 1, 'discs and stripes separate perfectly');
  assert.equal(metrics.counts.total, 6);

  const train = await readNpy(path.join(out, 'train', 'features.npy'));
  assert.deepEqual([train.rows, train.cols], [6, 2048]);
  assert.ok(train.data.every(Number.isFinite));
  assert.ok(train.data.every((v) => v >= 0), 'avg_pool follows a ReLU');
  assert.ok(train.data.some((v) => v > 0.1));
  const manifest = JSON.parse(await fsp.readFile(path.join(out, 'train', 'manifest.json'), 'utf8'));
  assert.deepEqual(
    { model: manifest.settings.model, layer: manifest.settings.layer, preprocess: manifest.settings.preprocess, dim: manifest.settings.dim, digest: manifest.settings.weightsDigest },
    { model: 'resnet50', layer: 'avg_pool', preprocess: 'caffe', dim: 2048, digest: weightsDigest },
  );
});

test('resnet50: a batch of 8 equals 8 batches of 1 within 1e-4', async (t) => {
  const data = await tempDir(t);
  await makeShapes(data, 4);
  const files = (await Promise.all(['discs', 'stripes'].map(async (c) => (await fsp.readdir(path.join(data, c))).map((f) => path.join(data, c, f))))).flat();
  const fm = await loadFeatureModel({ model: 'resnet50' });
  t.after(() => fm.extractor.dispose());
  const { pixels } = await decodeFiles(files, decodeOptionsOf(fm.settings));
  assert.equal(pixels.length, 8);
  const batched = await fm.extractor.run(toInput(pixels, fm.settings), 8);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < 8; i++) {
    const single = await fm.extractor.run(toInput([pixels[i]], fm.settings), 1);
    single.forEach((v, j) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - batched[i * 2048 + j]));
      maxAbs = Math.max(maxAbs, Math.abs(v));
    });
  }
  assert.ok(maxDiff / maxAbs <= 1e-4, `max |batch8 - batch1| / max |x| = ${maxDiff / maxAbs}`);
});
