import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { POOLS, type CutSpec } from '../dist/engines/engine.js';
import { loadEngine, type EngineSource } from '../dist/engines/select.js';
import { weightsDigest } from '../dist/models/download.js';
import { applyLayer, makeTinyModel, readJson, recordingLogger, relativeError, saveLayersModel, tempDir } from './helpers.js';

const PER_IMAGE = 32 * 32 * 3;
const imagesBatch = (n: number) => Float32Array.from({ length: n * PER_IMAGE }, (_, i) => ((i * 53) % 251) / 251);
const source = async (modelJson: string): Promise<EngineSource> => ({ modelFile: modelJson, weightsDigest: await weightsDigest(modelJson) });

test('onnx engine: same features as tfjs for several layers and pools, in a worker that leaves when disposed', async (t) => {
  const model = await source(await makeTinyModel(await tempDir(t)));
  const batch = imagesBatch(3);
  for (const pool of POOLS) {
    const cut: CutSpec = { layers: ['conv', 'features'], pool };
    const onnx = await loadEngine(model, { ...cut, engine: 'onnx', threads: 1 });
    const tfjs = await loadEngine(model, { ...cut, engine: 'tfjs' });
    assert.equal(onnx.describe().engine, 'onnx');
    assert.equal(onnx.describe().threads, 1);
    assert.match(tfjs.describe().engine, /^tfjs-/);
    assert.equal(onnx.dim, tfjs.dim);
    assert.deepEqual(onnx.layers, cut.layers);
    const [a, b] = [await onnx.run(batch, 3), await tfjs.run(batch, 3)];
    assert.equal(a.length, 3 * tfjs.dim);
    assert.ok(relativeError(a, b) <= 1e-5, `${pool}: onnx and tfjs agree (${relativeError(a, b)})`);
    await onnx.dispose();
    await tfjs.dispose();
  }
});

test('onnx engine: a batch handed over with transfer is detached, without it kept; rows do not depend on the batch', async (t) => {
  const model = await source(await makeTinyModel(await tempDir(t)));
  const onnx = await loadEngine(model, { engine: 'onnx' });
  t.after(() => onnx.dispose());
  const batch = imagesBatch(4);
  const all = await onnx.run(batch, 4);
  assert.equal(batch.length, 4 * PER_IMAGE, 'kept without transfer');
  const one = await onnx.run(batch.slice(PER_IMAGE, 2 * PER_IMAGE), 1, { transfer: true });
  assert.ok(relativeError(one, all.subarray(onnx.dim, 2 * onnx.dim)) <= 1e-6);
  const handed = batch.slice();
  await onnx.run(handed, 4, { transfer: true });
  assert.equal(handed.length, 0, 'transferred to the worker');
});

test('auto: a model the exporter cannot translate runs on tfjs, saying why; --engine onnx refuses it', async (t) => {
  const input = tf.input({ shape: [16, 16, 3] });
  const up = applyLayer(tf.layers.upSampling2d({ size: [2, 2], name: 'up' }), input);
  const conv = applyLayer(tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv' }), up);
  const pooled = applyLayer(tf.layers.globalAveragePooling2d({ name: 'features' }), conv);
  const modelJson = await saveLayersModel(tf.model({ inputs: input, outputs: pooled }), path.join(await tempDir(t), 'up'));
  const model = await source(modelJson);
  const { logger, all: messages } = recordingLogger();
  const auto = await loadEngine(model, { layers: ['features'], logger });
  t.after(() => auto.dispose());
  assert.match(auto.describe().engine, /^tfjs-/);
  assert.match(messages.join('\n'), /up.*UpSampling2D.*running on tfjs instead/);
  await assert.rejects(loadEngine(model, { layers: ['features'], engine: 'onnx' }), /UpSampling2D/);
});

test('a damaged cached export is exported again; a model changed in place gets a new export', async (t) => {
  const dir = await tempDir(t);
  const modelJson = await makeTinyModel(path.join(dir, 'model'));
  const cache = path.join(dir, 'cache');
  const previous = process.env.CNNFEAT_CACHE;
  process.env.CNNFEAT_CACHE = cache;
  t.after(() => (previous === undefined ? delete process.env.CNNFEAT_CACHE : (process.env.CNNFEAT_CACHE = previous)));
  const batch = imagesBatch(2);
  const first = await loadEngine(await source(modelJson), { engine: 'onnx' });
  const expected = await first.run(batch, 2);
  await first.dispose();
  const [onnxFile] = (await fsp.readdir(path.join(cache, 'onnx'))).filter((f) => f.endsWith('.onnx'));
  await fsp.writeFile(path.join(cache, 'onnx', onnxFile), 'not a model');
  const { logger, warnings } = recordingLogger();
  const again = await loadEngine(await source(modelJson), { engine: 'onnx', logger });
  assert.deepEqual([...(await again.run(batch, 2))], [...expected]);
  await again.dispose();
  assert.match(warnings.join('\n'), /onnxruntime could not run the exported model: .*; exporting the model again/);

  // Same weights, another activation: the topology is part of the cache key.
  const json = await readJson<{ modelTopology: { config: { layers: { name: string; config: { activation?: string } }[] } } }>(modelJson);
  const conv = json.modelTopology.config.layers.find((l) => l.name === 'conv');
  assert.ok(conv, 'the tiny model has a layer "conv"');
  assert.equal(conv.config.activation, 'relu');
  conv.config.activation = 'linear';
  await fsp.writeFile(modelJson, JSON.stringify(json));
  const linear = await loadEngine(await source(modelJson), { engine: 'onnx' });
  const tfjs = await loadEngine(await source(modelJson), { engine: 'tfjs' });
  t.after(() => Promise.all([linear.dispose(), tfjs.dispose()]));
  assert.ok(relativeError(await linear.run(batch, 2), await tfjs.run(batch, 2)) <= 1e-5, 'the new topology is exported, not the cached one');
});
