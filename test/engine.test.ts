import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadExtractor, listLayers } from '../dist/engines/tfjs.js';
import type { PoolMode } from '../dist/engines/engine.js';
import { makeTinyModel, tempDir } from './helpers.js';

test('extractor: cut before the last Dense by default, pooled spatial layers, no tensor leak, batch-independent rows', async (t) => {
  const model = await makeTinyModel(await tempDir(t));
  const extractor = await loadExtractor(model);
  t.after(() => extractor.dispose());
  assert.deepEqual(extractor.layers, ['features']);
  assert.equal(extractor.dim, 8);
  assert.equal(extractor.pooled, false);
  assert.deepEqual(extractor.input, { height: 32, width: 32 });

  const perImage = 32 * 32 * 3;
  const batch = Float32Array.from({ length: 4 * perImage }, (_, i) => (i * 37) % 255);
  const before = tf.memory().numTensors;
  let all: Float32Array = new Float32Array(0);
  for (let i = 0; i < 5; i++) all = await extractor.run(batch, 4);
  assert.equal(tf.memory().numTensors, before, 'no tensor is left behind by run()');
  assert.equal(all.length, 4 * 8);
  for (let i = 0; i < 4; i++) {
    const one = await extractor.run(batch.subarray(i * perImage, (i + 1) * perImage), 1);
    assert.equal(one.length, 8);
    one.forEach((v, j) => assert.ok(Math.abs(v - all[i * 8 + j]!) <= 1e-5 * Math.max(1, Math.abs(v))));
  }

  const conv = await loadExtractor(model, { layers: ['conv'] });
  t.after(() => conv.dispose());
  assert.equal(conv.pooled, true, 'a spatial layer is averaged to a vector');
  assert.equal(conv.dim, 8);
  await assert.rejects(loadExtractor(model, { layers: ['missing'] }), /no layer named "missing"/);
  const { layers, defaultLayer } = await listLayers(model);
  assert.deepEqual(layers.map((l) => l.className), ['InputLayer', 'Conv2D', 'GlobalAveragePooling2D', 'Dense']);
  assert.equal(defaultLayer, 'features');
});

test('extractor: several layers are concatenated; pools avg, max and avg+max', async (t) => {
  const model = await makeTinyModel(await tempDir(t));
  const perImage = 32 * 32 * 3;
  const batch = Float32Array.from({ length: 2 * perImage }, (_, i) => ((i * 53) % 255) / 255);
  const rowsPooledBy = async (pool: PoolMode) => {
    const extractor = await loadExtractor(model, { layers: ['conv', 'features'], pool });
    t.after(() => extractor.dispose());
    assert.equal(extractor.dim, (pool === 'avg+max' ? 16 : 8) + 8, `${pool}: conv pooled + features`);
    return extractor.run(batch, 2);
  };
  const rows = { avg: await rowsPooledBy('avg'), max: await rowsPooledBy('max'), 'avg+max': await rowsPooledBy('avg+max') };
  const features = await loadExtractor(model, { layers: ['features'] });
  t.after(() => features.dispose());
  const direct = await features.run(batch, 2);
  for (let i = 0; i < 2; i++) {
    const avg = rows.avg.subarray(i * 16, (i + 1) * 16);
    const max = rows.max.subarray(i * 16, (i + 1) * 16);
    const both = rows['avg+max'].subarray(i * 24, (i + 1) * 24);
    assert.deepEqual([...avg.subarray(8)], [...direct.subarray(i * 8, (i + 1) * 8)], 'the second layer follows the first');
    assert.deepEqual([...both.subarray(0, 8)], [...avg.subarray(0, 8)], 'avg+max starts with the average');
    assert.deepEqual([...both.subarray(8, 16)], [...max.subarray(0, 8)], 'then the maximum');
    for (let c = 0; c < 8; c++) assert.ok(max[c]! >= avg[c]! - 1e-6, 'the maximum is at least the mean');
    assert.ok([...max.subarray(0, 8)].some((m, c) => m > avg[c]! + 1e-3), 'max pooling is not the mean over a varied 30×30 map');
  }
});
