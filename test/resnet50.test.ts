// Integration with the real ResNet50, pulled (once, then cached) through `cnnfeat models pull`.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { readNpy } from '../dist/features/npy.js';
import { decodeFiles, decodeOptionsOf, toInput } from '../dist/pipeline/batches/batch.js';
import { loadFeatureModel } from '../dist/pipeline/setup/feature-model.js';
import type { Metrics } from '../dist/metrics/metrics.js';
import { json, manifestOf, relativeError, runCli, tempDir, type PulledJson } from './helpers.js';

/** Real-looking, clearly different classes: red discs on grass-green, and black-and-white stripes. */
async function makeShapes(dir: string, perClass: number): Promise<void> {
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
  const { dir, weightsDigest } = json<PulledJson>(pulled);
  assert.match(weightsDigest ?? 'no digest', /^sha256:[0-9a-f]{64}$/);
  assert.equal((await runCli(['models', 'path', 'resnet50'])).stdout.trim(), dir);
  assert.equal((await fsp.readdir(dir)).filter((f) => f.endsWith('.bin')).length, 25);

  const data = await tempDir(t);
  await makeShapes(data, 6);
  const out = path.join(data, 'out');
  const run = await runCli(['run', data, '-o', out, '--test-size', '0.5', '--batch-size', '4', '--json', '--quiet']);
  const metrics = json<Metrics>(run);
  assert.equal(metrics.accuracy, 1, 'discs and stripes separate perfectly');
  assert.equal(metrics.counts.total, 6);

  const train = await readNpy(path.join(out, 'train', 'features.npy'));
  assert.deepEqual([train.rows, train.cols], [6, 2048]);
  assert.ok(train.data.every(Number.isFinite));
  assert.ok(train.data.every((v) => v >= 0), 'avg_pool follows a ReLU');
  assert.ok(train.data.some((v) => v > 0.1));
  const manifest = await manifestOf(path.join(out, 'train'));
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
  const batched = await fm.extractor.run(toInput(pixels, fm.settings, undefined, fm.extractor.inputType), 8);
  const singles = new Float32Array(8 * 2048);
  for (const [i, image] of pixels.entries()) singles.set(await fm.extractor.run(toInput([image], fm.settings, undefined, fm.extractor.inputType), 1), i * 2048);
  const err = relativeError(batched, singles);
  assert.ok(err <= 1e-4, `max |batch8 - batch1| / max |x| = ${err}`);
});
