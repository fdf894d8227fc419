// Users' ONNX models as feature networks: small graphs written here (NCHW and NHWC, fixed and
// symbolic batch and size, external data, float16 and uint8 inputs), cut at several tensors and
// pooled, against a direct onnxruntime run of the same graph; the listing; every bad input.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { CnnfeatError } from '../dist/errors.js';
import { GraphBuilder } from '../dist/formats/onnx-graph.js';
import { listOnnxTensors } from '../dist/engines/onnx/user-graph.js';
import { loadEngine } from '../dist/engines/select.js';
import type { PoolMode } from '../dist/engines/engine.js';
import { weightsDigest } from '../dist/models/install.js';
import { loadFeatureModel } from '../dist/pipeline/setup/feature-model.js';
import { makeColourDataset, recordingLogger, relativeError, ROOT, runCli, tempDir } from './helpers.js';
import { TINY, writeTinyOnnx, type TinyOnnxOptions } from './onnx-fixtures.js';

const { onnx } = onnxProto;

let work: string;
before(async () => {
  work = await fsp.mkdtemp(path.join((await import('node:os')).tmpdir(), 'cnnfeat-onnx-'));
  process.env.CNNFEAT_CACHE = path.join(work, 'cache');
});

type Size = { height: number; width: number };

/** `n` NHWC images of `size` with values in about [-2, 2]. */
function nhwcBatch(n: number, size: Size, integers = false): Float32Array {
  let s = 12345;
  return Float32Array.from({ length: n * size.height * size.width * 3 }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const v = Math.floor((s / 2 ** 32) * 256);
    return integers ? v : v / 64 - 2;
  });
}

function toNchw(batch: Float32Array, n: number, { height: h, width: w }: Size): Float32Array {
  const out = new Float32Array(batch.length);
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out[((i * 3 + c) * h + y) * w + x] = batch[((i * h + y) * w + x) * 3 + c]!;
  return out;
}

/**
 * Runs the written model itself in onnxruntime (image by image when its batch is fixed) and
 * returns the named tensors (graph outputs) for the whole batch.
 */
async function directRun(file: string, batch: Float32Array, n: number, size: Size, opts: TinyOnnxOptions, names: string[]): Promise<Map<string, { data: Float32Array; dims: number[] }>> {
  const session = await ort.InferenceSession.create(file);
  const input = opts.layout === 'NHWC' ? batch : toNchw(batch, n, size);
  const perImage = size.height * size.width * 3;
  const runs = opts.batch === 1 ? Array.from({ length: n }, (_, i) => i) : [null];
  const parts = new Map<string, { data: number[]; dims: number[] }>();
  for (const i of runs) {
    const count = i === null ? n : 1;
    const data = i === null ? input : input.slice(i * perImage, (i + 1) * perImage);
    const dims = opts.layout === 'NHWC' ? [count, size.height, size.width, 3] : [count, 3, size.height, size.width];
    const out = await session.run({ input: new ort.Tensor('float32', data, dims) });
    for (const name of names) {
      const t = out[name]!;
      const part = parts.get(name) ?? { data: [], dims: [0, ...t.dims.slice(1).map(Number)] };
      part.data.push(...(t.data as Float32Array));
      part.dims[0]! += Number(t.dims[0]);
      parts.set(name, part);
    }
  }
  await session.release();
  return new Map([...parts].map(([name, p]) => [name, { data: Float32Array.from(p.data), dims: p.dims }]));
}

/**
 * What cnnfeat should make of the cut: spatial tensors (NCHW, or NHWC when listed in `nhwc`)
 * pooled per channel (avg, max, or both), rows as they are, concatenated.
 */
function expectedFeatures(tensors: Map<string, { data: Float32Array; dims: number[] }>, layers: string[], pool: PoolMode, n: number, nhwc = new Set<string>()): Float32Array[] {
  return Array.from({ length: n }, (_, i) => {
    const row: number[] = [];
    for (const name of layers) {
      const { data, dims } = tensors.get(name)!;
      const per = data.length / n;
      const image = data.subarray(i * per, (i + 1) * per);
      if (dims.length !== 4) {
        row.push(...image);
        continue;
      }
      const channelsLast = nhwc.has(name);
      const [c, hw] = channelsLast ? [dims[3]!, dims[1]! * dims[2]!] : [dims[1]!, dims[2]! * dims[3]!];
      for (const mode of pool === 'avg+max' ? ['avg', 'max'] : [pool]) {
        for (let k = 0; k < c; k++) {
          const plane = Array.from({ length: hw }, (_, p) => image[channelsLast ? p * c + k : k * hw + p]!);
          row.push(mode === 'avg' ? plane.reduce((a, b) => a + b, 0) / plane.length : Math.max(...plane));
        }
      }
    }
    return Float32Array.from(row);
  });
}

function assertClose(actual: Float32Array, expected: Float32Array[], tolerance: number, what: string): void {
  const error = relativeError(actual, Float32Array.from(expected.flatMap((r) => [...r])));
  assert.ok(error <= tolerance, `${what}: max |diff| / max |value| = ${error}`);
}

async function source(file: string, input?: Size) {
  return { modelFile: file, weightsDigest: await weightsDigest(file), format: 'onnx' as const, ...(input ? { input } : {}) };
}

const ALL = [TINY.conv1, TINY.pool1, TINY.conv2, TINY.gap, TINY.flat];

const CASES: { title: string; model: TinyOnnxOptions; input?: Size; size: Size; cuts: { layers: string[]; pool: PoolMode; dim: number }[]; note?: RegExp }[] = [
  {
    title: 'NCHW input, symbolic batch, 32×32',
    model: {},
    size: { height: 32, width: 32 },
    cuts: [
      { layers: [], pool: 'avg', dim: 16 },
      { layers: [TINY.conv1, TINY.gap], pool: 'avg+max', dim: 48 },
      { layers: [TINY.pool1], pool: 'max', dim: 8 },
    ],
  },
  {
    title: 'NHWC input (transposed inside, as tf2onnx writes it)',
    model: { layout: 'NHWC' },
    size: { height: 32, width: 32 },
    cuts: [
      { layers: [], pool: 'avg', dim: 16 },
      { layers: [TINY.conv2, TINY.flat], pool: 'avg', dim: 32 },
    ],
  },
  {
    title: 'fixed batch of 1: run batched with the batch made symbolic',
    model: { batch: 1 },
    size: { height: 32, width: 32 },
    cuts: [{ layers: [TINY.conv2], pool: 'max', dim: 16 }],
    note: /fixed batch of 1; it runs batched with the batch dimension made symbolic/,
  },
  {
    title: 'fixed batch of 1 with a Reshape to [1, -1]: run image by image',
    model: { batch: 1, batchOneReshape: true },
    size: { height: 32, width: 32 },
    cuts: [{ layers: [], pool: 'avg', dim: 16 }],
    note: /runs only with a batch of 1, so images go through it one at a time/,
  },
  {
    title: 'symbolic height and width, fed at 40×48',
    model: { size: 'symbolic' },
    input: { height: 40, width: 48 },
    size: { height: 40, width: 48 },
    cuts: [
      { layers: [], pool: 'avg', dim: 16 },
      { layers: [TINY.conv1], pool: 'avg+max', dim: 16 },
    ],
  },
  {
    title: 'weights in an external-data file beside the model',
    model: { external: true },
    size: { height: 32, width: 32 },
    cuts: [
      { layers: [], pool: 'avg', dim: 16 },
      { layers: [TINY.pool1, TINY.conv2], pool: 'avg', dim: 24 },
    ],
  },
];

for (const c of CASES) {
  test(`onnx model, ${c.title}: cuts pooled and concatenated equal a direct onnxruntime run`, async (t) => {
    const file = await writeTinyOnnx(path.join(await tempDir(t), 'tiny.onnx'), { ...c.model, outputs: ALL });
    const n = 3;
    const batch = nhwcBatch(n, c.size);
    const reference = await directRun(file, batch, n, c.size, c.model, ALL);
    for (const cut of c.cuts) {
      const { logger, infos } = recordingLogger();
      const extractor = await loadEngine(await source(file, c.input), { layers: cut.layers, pool: cut.pool, engine: 'onnx', threads: 1, logger });
      t.after(() => extractor.dispose());
      const layers = cut.layers.length > 0 ? cut.layers : [TINY.flat];
      assert.deepEqual({ layers: extractor.layers, dim: extractor.dim, input: extractor.input, pooled: extractor.pooled }, { layers, dim: cut.dim, input: c.size, pooled: layers.some((l) => l !== TINY.flat) });
      const features = await extractor.run(batch.slice(), n);
      assertClose(features, expectedFeatures(reference, layers, cut.pool, n), 1e-5, `${layers.join(',')} ${cut.pool}`);
      if (c.note) assert.match(infos.join('\n'), c.note);
    }
    if (c.model.external) {
      const cached = await fsp.readdir(path.join(process.env.CNNFEAT_CACHE!, 'onnx'));
      assert.ok(cached.some((f) => f.endsWith('.data')), 'the cut graph keeps its weights in a .data file beside it');
    }
  });
}

test('onnx model: a cut graph is cached by weights digest and cut; a second load reads no model file', async (t) => {
  const dir = await tempDir(t);
  const file = await writeTinyOnnx(path.join(dir, 'tiny.onnx'), {});
  const src = await source(file);
  const first = recordingLogger();
  await (await loadEngine(src, { layers: [TINY.conv2], logger: first.logger })).dispose();
  assert.match(first.infos.join('\n'), /Cutting .*tiny\.onnx at c2 for onnxruntime, once/);
  await fsp.writeFile(file, 'gone'); // a cache hit must not read it
  const second = recordingLogger();
  const again = await loadEngine(src, { layers: [TINY.conv2], logger: second.logger });
  t.after(() => again.dispose());
  assert.equal(again.dim, 16);
  assert.deepEqual(second.all.filter((m) => !m.startsWith('device: ')), [], 'nothing cut again (only the device said)');
});

test('onnx model: NHWC tensors inside the graph (after a Transpose back; a MatMul by a weight) are pooled over their own spatial axes', async (t) => {
  const dir = await tempDir(t);
  const size = { height: 32, width: 32 };
  const batch = nhwcBatch(2, size);
  for (const headPool of ['reducemean-nhwc', 'linear-nhwc'] as const) {
    const file = await writeTinyOnnx(path.join(dir, `${headPool}.onnx`), { headPool, outputs: ['c2_nhwc', ...(headPool === 'linear-nhwc' ? ['mm'] : [])] });
    const cut = headPool === 'linear-nhwc' ? ['c2_nhwc', 'mm'] : ['c2_nhwc'];
    const reference = await directRun(file, batch, 2, size, {}, cut);
    const extractor = await loadEngine(await source(file), { layers: cut, pool: 'avg+max', threads: 1 });
    t.after(() => extractor.dispose());
    assert.equal(extractor.dim, 32 * cut.length);
    assertClose(await extractor.run(batch.slice(), 2), expectedFeatures(reference, cut, 'avg+max', 2, new Set(cut)), 1e-5, cut.join());
    const listing = await listOnnxTensors(file);
    assert.equal(listing.tensors.find((x) => x.name === TINY.gap)?.feature, 'ReduceMean over H×W');
  }
});

test('onnx model: float16 and uint8 inputs get a Cast in the graph', async (t) => {
  const dir = await tempDir(t);
  const size = { height: 32, width: 32 };
  const float32 = await loadEngine(await source(await writeTinyOnnx(path.join(dir, 'f32.onnx'), {})), { threads: 1 });
  t.after(() => float32.dispose());
  const half = await loadEngine(await source(await writeTinyOnnx(path.join(dir, 'f16.onnx'), { inputType: 'float16' })), { threads: 1 });
  t.after(() => half.dispose());
  const batch = nhwcBatch(2, size);
  const expected = await float32.run(batch.slice(), 2);
  const rows = [expected.subarray(0, 16), expected.subarray(16)];
  assertClose(await half.run(batch.slice(), 2), rows, 1e-2, 'float16 input');

  const pixels = nhwcBatch(2, size, true);
  const bytes = await loadEngine(await source(await writeTinyOnnx(path.join(dir, 'u8.onnx'), { inputType: 'uint8' })), { threads: 1, preprocess: 'none' });
  t.after(() => bytes.dispose());
  const unit = await float32.run(pixels.map((v) => v / 255), 2);
  assertClose(await bytes.run(pixels.slice(), 2), [unit.subarray(0, 16), unit.subarray(16)], 1e-5, 'uint8 input');
  await assert.rejects(loadEngine(await source(path.join(dir, 'u8.onnx')), { preprocess: 'torch' }), /takes uint8 pixels \(0–255\); use no preprocessing \(--preprocess none\)/);
});

test('onnx model: layers lists node outputs with op and shape, marks global pooling and the pre-logits default cut', async (t) => {
  const file = await writeTinyOnnx(path.join(await tempDir(t), 'tiny.onnx'), { size: 'symbolic' });
  const listing = await listOnnxTensors(file, { input: { height: 64, width: 48 } });
  assert.deepEqual(
    listing.tensors.map((x) => [x.name, x.op, x.outputShape, x.feature]),
    [
      ['conv1', 'Conv', [null, 8, 32, 24], null],
      [TINY.conv1, 'Relu', [null, 8, 32, 24], null],
      [TINY.pool1, 'MaxPool', [null, 8, 16, 12], null],
      ['conv2', 'Conv', [null, 16, 16, 12], null],
      [TINY.conv2, 'Relu', [null, 16, 16, 12], null],
      [TINY.gap, 'GlobalAveragePool', [null, 16, 1, 1], 'global pooling'],
      [TINY.flat, 'Flatten', [null, 16], 'pre-logits: input of the last Gemm/MatMul'],
      [TINY.logits, 'Gemm', [null, 5], null],
    ],
  );
  assert.equal(listing.defaultCut, TINY.flat);
  assert.deepEqual({ layout: listing.input.layout, batch: listing.input.batch, size: listing.input.size, opset: listing.opset }, { layout: 'NCHW', batch: null, size: null, opset: 13 });
  const squeezed = await listOnnxTensors(await writeTinyOnnx(path.join(path.dirname(file), 'se.onnx'), { squeeze: true }));
  assert.deepEqual(squeezed.tensors.filter((x) => x.feature).map((x) => x.name), [TINY.gap, TINY.flat], 'a squeeze-and-excitation pooling is no feature');
  const cli = await runCli(['layers', file, '--json', '--quiet']);
  assert.equal(cli.code, 0, cli.stderr);
  const rows = JSON.parse(cli.stdout) as { name: string; outputShape: number[]; default: boolean }[];
  assert.deepEqual(rows.filter((r) => r.default).map((r) => r.name), [TINY.flat]);
  assert.deepEqual(rows.find((r) => r.name === TINY.conv2)?.outputShape, [null, 16, 56, 56], 'shapes for 224×224 by default');
});

/** The tiny model with one node changed. */
async function editedModel(dir: string, edit: (graph: onnxProto.onnx.IGraphProto) => void): Promise<string> {
  const file = await writeTinyOnnx(path.join(dir, 'edited.onnx'), {});
  const proto = onnx.ModelProto.decode(await fsp.readFile(file));
  edit(proto.graph!);
  await fsp.writeFile(file, onnx.ModelProto.encode(proto).finish());
  return file;
}

test('onnx model: every bad input is one line and exit code 2, before anything is written', async (t) => {
  const dir = await tempDir(t);
  const tiny = await writeTinyOnnx(path.join(dir, 'tiny.onnx'), {});
  const text = path.join(dir, 'text.onnx');
  await fsp.writeFile(text, 'this is not a model\n');
  const truncated = path.join(dir, 'truncated.onnx');
  await fsp.writeFile(truncated, (await fsp.readFile(tiny)).subarray(0, 700));
  const external = await writeTinyOnnx(path.join(dir, 'ext', 'tiny.onnx'), { external: true });
  await fsp.rm(`${external}.data`);
  const unknownOp = await editedModel(path.join(dir, 'op'), (g) => {
    g.node!.find((n) => n.output![0] === TINY.conv1)!.opType = 'FooBar';
  });
  const noImage = path.join(dir, 'vector.onnx');
  const g = new GraphBuilder(['x', 'y']);
  g.addInput('x', ['N', 10]);
  g.addNode('Relu', ['x'], 'relu', {}, { output: 'y' });
  g.addOutput('y', ['N', 10]);
  await fsp.writeFile(noImage, g.toBytes('vector', ''));

  const cases: [Record<string, unknown>, RegExp][] = [
    [{ model: text }, /text\.onnx: not an ONNX model \(it does not start with an ONNX IR version\); give a \.onnx file/],
    [{ model: truncated }, /truncated\.onnx: the ONNX file is truncated \(700 bytes; .*\); download or copy it again/],
    [{ model: external }, /its external data file tiny\.onnx\.data \(initializer "w1"\) is missing; copy it next to the model/],
    [{ model: tiny, layer: 'c3' }, /no tensor named "c3"; closest: "c1", "c2", .*\(all of them: `cnnfeat layers .*tiny\.onnx`\)/],
    [{ model: path.join(ROOT, 'test', 'fixtures', 'torch-tiny.onnx'), layer: 'layer1/Relu' }, /no tensor named "layer1\/Relu"; closest: "\/layer1\/Relu_output_0", "\/layer1\/Relu_1_output_0"/],
    [{ model: tiny, layer: 'w1' }, /tensor "w1" does not depend on the image input "input" \(a weight or constant\)/],
    [{ model: unknownOp }, /onnxruntime 1\.\d+\.\d+ cannot run this model: it has no operator FooBar in opset 13/],
    [{ model: noImage }, /vector\.onnx: no 4-D image input with 3 channels .*; its inputs: "x" float32 \[N, 10\]/],
    [{ model: tiny, engine: 'tfjs' }, /an ONNX model runs on onnxruntime only; use the auto or onnx engine \(--engine\)/],
    [{ model: tiny, input: { height: 64, width: 64 } }, /the model's input is fixed at 32x32 \("input" float32 \[batch, 3, 32, 32\] NCHW\); leave out the input size/],
    [{ model: tiny, preprocess: undefined }, /no model card gives its preprocessing; name it \(--preprocess .*; torch for timm\/torchvision exports\)/],
  ];
  for (const [opts, message] of cases) {
    const err = await loadFeatureModel({ preprocess: 'torch', ...opts }).then(
      (fm) => Promise.resolve(fm.extractor.dispose()).then(() => assert.fail(`no error for ${JSON.stringify(opts)}`)),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CnnfeatError, String(err));
    assert.match(err.message, message);
    assert.equal(err.exitCode, 2, err.message);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
  }

  const data = await makeColourDataset(path.join(dir, 'images'), { perClass: 2 });
  for (const args of [['-m', text], ['-m', tiny, '--layer', 'c3'], ['-m', unknownOp]]) {
    const out = path.join(dir, 'out');
    const r = await runCli(['extract', data, '-o', out, '--preprocess', 'torch', ...args], { env: { CNNFEAT_CACHE: process.env.CNNFEAT_CACHE! } });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.deepEqual(await fsp.readdir(out).catch(() => []), [], 'nothing written');
  }
});
