import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadExtractor, listLayers } from '../dist/engines/tfjs.js';
import { makeTinyModel, tempDir } from './helpers.mjs';

test('extractor: cut before the last Dense by default, pooled spatial layers, no tensor leak, batch-independent rows', async (t) => {
  const model = await makeTinyModel(await tempDir(t));
  const extractor = await loadExtractor(model);
  t.after(() => extractor.dispose());
  assert.equal(extractor.layer, 'features');
  assert.equal(extractor.dim, 8);
  assert.equal(extractor.pooled, false);
  assert.deepEqual(extractor.input, { height: 32, width: 32 });

  const perImage = 32 * 32 * 3;
  const batch = Float32Array.from({ length: 4 * perImage }, (_, i) => (i * 37) % 255);
  const before = tf.memory().numTensors;
  let all;
  for (let i = 0; i < 5; i++) all = await extractor.run(batch, 4);
  assert.equal(tf.memory().numTensors, before, 'no tensor is left behind by run()');
  assert.equal(all.length, 4 * 8);
  for (let i = 0; i < 4; i++) {
    const one = await extractor.run(batch.subarray(i * perImage, (i + 1) * perImage), 1);
    one.forEach((v, j) => assert.ok(Math.abs(v - all[i * 8 + j]) <= 1e-5 * Math.max(1, Math.abs(v))));
  }

  const conv = await loadExtractor(model, { layer: 'conv' });
  t.after(() => conv.dispose());
  assert.equal(conv.pooled, true, 'a spatial layer is averaged to a vector');
  assert.equal(conv.dim, 8);
  await assert.rejects(loadExtractor(model, { layer: 'missing' }), /no layer named "missing"/);
  const { layers, defaultLayer } = await listLayers(model);
  assert.deepEqual(layers.map((l) => l.className), ['InputLayer', 'Conv2D', 'GlobalAveragePooling2D', 'Dense']);
  assert.equal(defaultLayer, 'features');
});
