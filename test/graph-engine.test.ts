// GraphModel extractor on tfjs: cut at nodes with execute(), pooling modes, concatenation, listing.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../dist/engines/backend.js';
import { listGraphNodes, loadGraphExtractor } from '../dist/engines/tfjs-graph.js';
import { makeTinyGraphModel } from './graph-fixture.js';
import { readJson, tempDir } from './helpers.js';
import { POOLS, type PoolMode } from '../dist/engines/engine.js';

const SIZE = 16;
const PER_IMAGE = SIZE * SIZE * 3;

/** What the reference gives for one image: the conv output pooled by mean and max, and the AvgPool node. */
interface ReferenceRow {
  avg: number[];
  max: number[];
  pooled: number[];
}

interface WeightsManifest {
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  modelTopology: object;
}

/** The reference: the same files loaded by tfjs from memory, nodes run with execute(), pooled in plain JS. */
async function reference(modelJson: string, batch: Float32Array, n: number): Promise<ReferenceRow[]> {
  const json = await readJson<WeightsManifest>(modelJson);
  const [group] = json.weightsManifest;
  assert.ok(group, 'one weights group');
  const shards = await Promise.all(group.paths.map((p) => fsp.readFile(path.join(path.dirname(modelJson), p))));
  const weights = Buffer.concat(shards);
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: group.weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
  const x = tf.tensor4d(batch, [n, SIZE, SIZE, 3]);
  const outputs = model.execute(x, ['conv/Relu', 'pool/AvgPool']);
  assert.ok(Array.isArray(outputs) && outputs.length === 2);
  const [conv, pooled] = outputs.map((o) => o.dataSync());
  tf.dispose([x, ...outputs]);
  model.dispose();
  const channels = 4;
  const pixels = SIZE * SIZE;
  return Array.from({ length: n }, (_, i) => {
    const avg = [0, 0, 0, 0];
    const max = [-Infinity, -Infinity, -Infinity, -Infinity];
    for (let px = 0; px < pixels; px++) {
      for (let c = 0; c < channels; c++) {
        const v = conv[(i * pixels + px) * channels + c]!;
        avg[c] += v / pixels;
        max[c] = Math.max(max[c]!, v);
      }
    }
    return { avg, max, pooled: Array.from(pooled.subarray(i * channels, (i + 1) * channels)) };
  });
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) <= 1e-5 * Math.max(1, Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`));
}

test('graph extractor: features of execute(x, nodes) pooled avg, max and avg+max, concatenated in order', async (t) => {
  const modelJson = await makeTinyGraphModel(await tempDir(t));
  const n = 3;
  const batch = Float32Array.from({ length: n * PER_IMAGE }, (_, i) => ((i * 37) % 255) / 255);
  await initBackend();
  const ref = await reference(modelJson, batch, n);

  const expected: Record<PoolMode, (r: ReferenceRow) => number[]> = {
    avg: (r) => [...r.avg, ...r.pooled],
    max: (r) => [...r.max, ...r.pooled],
    'avg+max': (r) => [...r.avg, ...r.max, ...r.pooled, ...r.pooled],
  };
  for (const pool of POOLS) {
    const extractor = await loadGraphExtractor(modelJson, { layers: ['conv/Relu', 'pool/AvgPool'], pool });
    t.after(() => extractor.dispose());
    assert.deepEqual(extractor.layers, ['conv/Relu', 'pool/AvgPool']);
    assert.equal(extractor.pool, pool);
    assert.equal(extractor.pooled, true, 'the 16×16 conv output is pooled');
    assert.equal(extractor.dim, pool === 'avg+max' ? 16 : 8, 'every rank-4 output is pooled, 1×1 too, as on the other engines');
    assert.deepEqual(extractor.input, { height: SIZE, width: SIZE });
    assert.match(extractor.describe().engine, /^tfjs-(node|wasm|cpu)$/);
    const rows = await extractor.run(batch, n);
    for (let i = 0; i < n; i++) assertClose(Array.from(rows.subarray(i * extractor.dim, (i + 1) * extractor.dim)), expected[pool](ref[i]!), `${pool} image ${i}`);
  }
});

test('graph extractor: default cut at the last global pooling node, rows independent of the batch, no tensor leak', async (t) => {
  const modelJson = await makeTinyGraphModel(await tempDir(t), { shards: 1 });
  const extractor = await loadGraphExtractor(modelJson);
  t.after(() => extractor.dispose());
  assert.deepEqual(extractor.layers, ['pool/AvgPool']);
  assert.equal(extractor.dim, 4);
  assert.equal(extractor.pooled, true, 'a 1×1 rank-4 output is pooled like any spatial one');

  const batch = Float32Array.from({ length: 4 * PER_IMAGE }, (_, i) => ((i * 11) % 97) / 97 - 0.5);
  const before = tf.memory().numTensors;
  let all: Float32Array = new Float32Array(0);
  for (let i = 0; i < 4; i++) all = await extractor.run(batch, 4);
  assert.equal(tf.memory().numTensors, before, 'no tensor is left behind by run()');
  for (let i = 0; i < 4; i++) {
    const one = await extractor.run(batch.subarray(i * PER_IMAGE, (i + 1) * PER_IMAGE), 1);
    assertClose(Array.from(one), Array.from(all.subarray(i * 4, (i + 1) * 4)), `image ${i} alone`);
  }

  const head = await loadGraphExtractor(modelJson, { layers: ['head/Softmax'] });
  t.after(() => head.dispose());
  assert.equal(head.dim, 2);
  const probs = await head.run(batch, 4);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(probs[2 * i]! + probs[2 * i + 1]! - 1) < 1e-5, 'softmax rows sum to 1');

  await assert.rejects(loadGraphExtractor(modelJson, { layers: ['nope'] }), /has no node named "nope"; closest: .*\(all of them: `cnnfeat layers .*model\.json`\)/);
});

test('listGraphNodes: nodes without weights, shapes, global pooling marked, default node', async (t) => {
  const modelJson = await makeTinyGraphModel(await tempDir(t));
  const { nodes, defaultNode, input } = await listGraphNodes(modelJson);
  assert.deepEqual(input, { height: SIZE, width: SIZE });
  assert.equal(defaultNode, 'pool/AvgPool');
  assert.deepEqual(
    nodes.map((n) => [n.name, n.op, n.outputShape, n.feature]),
    [
      ['input', 'Placeholder', [null, 16, 16, 3], false],
      ['conv/Conv2D', 'Conv2D', [null, 16, 16, 4], false],
      ['conv/BiasAdd', 'BiasAdd', [null, 16, 16, 4], false],
      ['conv/Relu', 'Relu', [null, 16, 16, 4], false],
      ['pool/AvgPool', 'AvgPool', [null, 1, 1, 4], true],
      ['pool/Squeeze', 'Squeeze', [null, 4], false],
      ['head/MatMul', 'MatMul', [null, 2], false],
      ['head/Softmax', 'Softmax', [null, 2], false],
    ],
  );
});
