// Extraction must not leak: tf.memory().numTensors stays flat across many forward passes and
// across whole extractions (tfjs #1120: one leaked tensor per call, a crash after ~4,000 images).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { makeColourDataset, makeTinyModel, tempDir } from './helpers.js';
import { extractFeatures, loadExtractor, loadFeatureModel } from '../dist/index.js';

test('tfjs extractor: numTensors and numBytes do not grow over 300 forward passes', async (t) => {
  const dir = await tempDir(t);
  const extractor = await loadExtractor(await makeTinyModel(path.join(dir, 'tiny')));
  try {
    const batch = new Float32Array(8 * 32 * 32 * 3).map((_, i) => (i % 251) / 2.5);
    await extractor.run(batch, 8);
    const { numTensors, numBytes } = tf.memory();
    for (let i = 0; i < 300; i++) {
      const n = 1 + (i % 8);
      const rows = await extractor.run(batch, n);
      assert.equal(rows.length, n * extractor.dim);
      if (i % 50 === 49) assert.deepEqual([tf.memory().numTensors, tf.memory().numBytes], [numTensors, numBytes], `after ${i + 1} calls`);
    }
  } finally {
    extractor.dispose();
  }
});

test('whole extractions on tfjs leave no tensor behind', async (t) => {
  const dir = await tempDir(t);
  const images = await makeColourDataset(path.join(dir, 'images'), { perClass: 15 });
  // On tfjs: auto would run the tiny model on onnxruntime, where no tfjs tensor is ever made.
  const fm = await loadFeatureModel({ model: await makeTinyModel(path.join(dir, 'tiny')), preprocess: 'none', engine: 'tfjs' });
  try {
    assert.match(fm.extractor.describe().engine, /^tfjs-/);
    await extractFeatures(images, path.join(dir, 'warm'), { featureModel: fm, batchSize: 4 });
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const r = await extractFeatures(images, path.join(dir, `run${i}`), { featureModel: fm, batchSize: 4 });
      assert.equal(r.rows, 30);
      assert.equal(tf.memory().numTensors, baseline, `after extraction ${i + 1}`);
    }
  } finally {
    fm.extractor.dispose();
  }
});
