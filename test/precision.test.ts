// Precision and input of the onnx engine (issue 19): the float16 graph conversion against float32
// (run here on the CPU provider, where onnxruntime computes float16 operators between casts: this
// checks the conversion — every weight and activation rounded to float16 — not GPU arithmetic),
// graphs cached per precision, rows of different precisions refused in one feature folder, and
// raw uint8 pixels normalised inside the graph giving the features of the JavaScript path.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, test, type TestContext } from 'node:test';
import * as ort from 'onnxruntime-node';
import { convertToFloat16, fromFloat16Bits, toFloat16Bits } from '../dist/formats/onnx-fp16.js';
import { GraphBuilder } from '../dist/formats/onnx-graph.js';
import { onnx } from '../dist/formats/onnx-proto.js';
import { PREPROCESS_MODES, preprocessInto } from '../dist/image/preprocess.js';
import { loadEngine, type EngineRequest, type EngineSource } from '../dist/engines/select.js';
import { extractFeatures } from '../dist/pipeline/extract.js';
import { weightsDigest } from '../dist/models/download.js';
import { cosineRows, photoBatch } from './device-helpers.js';
import { writeTinyOnnx } from './onnx-fixtures.js';
import { fileTempDir, makeColourDataset, makeTinyModel, manifestOf, recordingLogger, relativeError, runCli, sharedData, tempDir } from './helpers.js';

const FLOAT = 1;
const FLOAT16 = 10;

let work: string;
let images: string;
let model: string;
before(async () => {
  work = await fileTempDir('cnnfeat-precision-');
  images = await makeColourDataset(path.join(work, 'images'), { perClass: 4 });
  model = await makeTinyModel(path.join(work, 'tiny'));
});

/** Runs each test's model loads against its own cache folder. */
async function ownCache(t: TestContext): Promise<string> {
  const cache = path.join(await tempDir(t), 'cache');
  const previous = process.env.CNNFEAT_CACHE;
  process.env.CNNFEAT_CACHE = cache;
  t.after(() => (previous === undefined ? delete process.env.CNNFEAT_CACHE : (process.env.CNNFEAT_CACHE = previous)));
  return cache;
}

const source = async (file: string): Promise<EngineSource> => ({ modelFile: file, weightsDigest: await weightsDigest(file) });

/** Features of `n` photo-like images in fp32 and fp16 on the CPU provider, and the fp16 load's messages. */
async function bothPrecisions(src: EngineSource, req: EngineRequest, size: { height: number; width: number }, n = 3) {
  const batch = photoBatch(n, size.height, size.width);
  const run = async (precision: 'fp32' | 'fp16') => {
    const log = recordingLogger();
    const engine = await loadEngine(src, { engine: 'onnx', ...req, precision, device: { kind: 'cpu' }, pixels: true, logger: log.logger });
    try {
      assert.equal(engine.describe().precision, precision);
      return { features: await engine.run(batch.slice(), n), dim: engine.dim, log };
    } finally {
      await engine.dispose();
    }
  };
  const fp32 = await run('fp32');
  const fp16 = await run('fp16');
  return { fp32: fp32.features, fp16: fp16.features, dim: fp32.dim, log: fp16.log };
}

test('float16 bits: IEEE binary16 rounding (ties to even), subnormals, saturation, inf and NaN', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff], [70000, 0x7bff], [-1e9, 0xfbff],
    [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
    [Infinity, 0x7c00], [-Infinity, 0xfc00],
  ];
  for (const [value, bits] of cases) assert.equal(toFloat16Bits(value), bits, `${value} → 0x${toFloat16Bits(value).toString(16)}`);
  assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))));
  for (const v of [0.1, -3.75, 1234.5, 6.1e-5, 1e-6]) assert.ok(Math.abs(fromFloat16Bits(toFloat16Bits(v)) - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `${v}`);
});

test('float16 conversion: float compute in float16, float32 in and out, Resize scales and integer tensors untouched', async () => {
  // input [1,2,4,4] → Conv → Cast(to float) → Mul by a Constant → Resize ×2 (scales from a Constant) → ReduceSum → Shape/Reshape
  const g = new GraphBuilder(['input', 'out']);
  g.addInput('input', [1, 2, 4, 4]);
  const conv = g.addNode('Conv', ['input', g.addFloats('w', Array.from({ length: 3 * 2 * 3 * 3 }, (_, i) => Math.sin(i) / 3), [3, 2, 3, 3]), g.addFloats('b', [0.1, -0.2, 0.3], [3])], 'conv', { pads: [1, 1, 1, 1] });
  const cast = g.addNode('Cast', [conv], 'cast', { to: FLOAT });
  const scaled = g.addNode('Mul', [cast, g.addFloats('k', [1.5], [])], 'mul');
  const scales = g.addFloats('scales', [1, 1, 2, 2], [4]);
  const resized = g.addNode('Resize', [scaled, '', scales], 'resize', { mode: 'linear' });
  const summed = g.addNode('ReduceSum', [resized, g.addInt64s('axes', [1])], 'sum', { keepdims: 0 });
  g.addNode('Reshape', [summed, g.addInt64s('shape', [1, -1])], 'out', {}, { output: 'out' });
  g.addOutput('out', [1, 64]);
  const proto = onnx.ModelProto.decode(g.toBytes('t', 't'));
  const types = new Map<string, number>([...['input', 'w', 'b', 'k', 'scales', conv, cast, scaled, resized, summed, 'out'].map((n) => [n, FLOAT] as [string, number]), ['axes', 7], ['shape', 7]]);
  const converted = convertToFloat16(proto, types, 'test graph');
  const graph = converted.graph!;
  const init = new Map(graph.initializer!.map((t) => [t.name, t.dataType]));
  assert.deepEqual([init.get('w'), init.get('b'), init.get('k'), init.get('scales'), init.get('axes')], [FLOAT16, FLOAT16, FLOAT16, FLOAT, 7]);
  assert.equal(graph.node!.find((n) => n.opType === 'Cast' && n.input![0] === conv)!.attribute![0]!.i, FLOAT16, 'Cast(to=FLOAT) computes in float16');
  const resize = graph.node!.find((n) => n.opType === 'Resize')!;
  assert.equal(resize.input![2], 'scales', 'Resize reads its float32 scales as they are');
  const reduce = graph.node!.find((n) => n.opType === 'ReduceSum')!;
  const castBack = graph.node!.find((n) => n.output![0] === reduce.input![0])!;
  assert.deepEqual([castBack.opType, castBack.attribute![0]!.i], ['Cast', FLOAT], 'ReduceSum runs in float32');
  assert.deepEqual([graph.input![0]!.type!.tensorType!.elemType, graph.output![0]!.type!.tensorType!.elemType], [FLOAT, FLOAT]);
  const x = Float32Array.from({ length: 32 }, (_, i) => Math.cos(i / 3));
  const run = async (m: typeof proto) => {
    const s = await ort.InferenceSession.create(onnx.ModelProto.encode(m).finish());
    const out = (await s.run({ input: new ort.Tensor('float32', x, [1, 2, 4, 4]) })).out!;
    assert.equal(out.type, 'float32');
    return out.data as Float32Array;
  };
  const [a, b] = [await run(proto), await run(converted)];
  assert.ok(cosineRows(b, a, 64) >= 0.999, `cosine ${cosineRows(b, a, 64)}`);
  assert.ok(relativeError(b, a) > 0, 'float16 really rounded something');
  const loop = onnx.ModelProto.decode(g.toBytes('t', 't'));
  loop.graph!.node!.push(onnx.NodeProto.create({ opType: 'If', input: ['c'], output: ['y'], attribute: [onnx.AttributeProto.create({ name: 'then_branch', type: 5, g: onnx.GraphProto.create({}) })] }));
  assert.throws(() => convertToFloat16(loop, types, 'loop.onnx'), /loop\.onnx: float16 \(--precision fp16\) cannot convert a graph with control flow \(If\); use --precision fp32/);
});

test('float16 conversion: operators whose output type an attribute fixes (ConstantOfShape without a value) stay float32, so the graph loads', async () => {
  // input [1,3] + ConstantOfShape(Shape(input)): zeros whose type is float32 whatever the input's
  const g = new GraphBuilder(['input', 'out']);
  g.addInput('input', [1, 3]);
  const shape = g.addNode('Shape', ['input'], 'shape');
  const zeros = g.addNode('ConstantOfShape', [shape], 'zeros');
  const scaled = g.addNode('Mul', ['input', g.addFloats('k', [0.5], [])], 'mul');
  g.addNode('Add', [scaled, zeros], 'out', {}, { output: 'out' });
  g.addOutput('out', [1, 3]);
  const proto = onnx.ModelProto.decode(g.toBytes('t', 't'));
  const types = new Map<string, number>([['input', FLOAT], ['k', FLOAT], [shape, 7], [zeros, FLOAT], [scaled, FLOAT], ['out', FLOAT]]);
  const converted = convertToFloat16(proto, types, 'zeros.onnx');
  const s = await ort.InferenceSession.create(onnx.ModelProto.encode(converted).finish());
  const out = (await s.run({ input: new ort.Tensor('float32', Float32Array.from([2, -4, 6]), [1, 3]) })).out!;
  assert.deepEqual([...(out.data as Float32Array)], [1, -2, 3]);
});

test('fp16 on the CPU provider: a Keras export and a torch-style ONNX model within cosine 0.999 of fp32; weights stored as float16; cached per precision', async (t) => {
  const cache = await ownCache(t);
  const keras = await bothPrecisions(await source(model), { layers: ['features'], preprocess: 'none' }, { height: 32, width: 32 });
  assert.ok(cosineRows(keras.fp16, keras.fp32, keras.dim) >= 0.999, `Keras: ${cosineRows(keras.fp16, keras.fp32, keras.dim)}`);
  assert.ok(keras.fp16.some((v, i) => v !== keras.fp32[i]), 'the fp16 graph really is another graph');
  assert.ok(keras.log.infos.some((m) => /^Converting .*\.onnx to float16, once: .*\.fp16-pixels-[0-9a-f]+\.onnx$/.test(m)), keras.log.infos.join('\n'));
  assert.ok(keras.log.warnings.some((m) => /float16 on the CPU provider: .*slower than fp32/.test(m)), 'fp16 on the CPU is warned about');
  const files = (await fsp.readdir(path.join(cache, 'onnx'))).filter((f) => f.endsWith('.onnx'));
  const fp16File = files.find((f) => f.includes('.fp16-'));
  assert.ok(fp16File && files.some((f) => f.includes('.fp32-pixels-')), files.join(', '));
  const fp16 = onnx.ModelProto.decode(await fsp.readFile(path.join(cache, 'onnx', fp16File)));
  const weights = fp16.graph!.initializer!.filter((w) => w.dims!.length === 4);
  assert.ok(weights.length > 0 && weights.every((w) => w.dataType === FLOAT16), 'convolution weights are float16');
  assert.equal(fp16.graph!.input![0]!.type!.tensorType!.elemType, 2, 'uint8 pixels in');
  assert.equal(fp16.graph!.output![0]!.type!.tensorType!.elemType, FLOAT, 'float32 features out');

  const again = recordingLogger();
  const cached = await loadEngine(await source(model), { engine: 'onnx', layers: ['features'], preprocess: 'none', pixels: true, precision: 'fp16', device: { kind: 'cpu' }, logger: again.logger });
  await cached.dispose();
  assert.ok(!again.infos.some((m) => m.startsWith('Converting')), 'the float16 graph comes from the cache');

  const torchFile = await writeTinyOnnx(path.join(await tempDir(t), 'tiny.onnx'), { size: 'symbolic' });
  const torch = await bothPrecisions({ ...(await source(torchFile)), format: 'onnx', input: { height: 64, width: 64 } }, { preprocess: 'torch' }, { height: 64, width: 64 });
  assert.ok(cosineRows(torch.fp16, torch.fp32, torch.dim) >= 0.999, `torch-style: ${cosineRows(torch.fp16, torch.fp32, torch.dim)}`);
});

test('fp16 on the CPU provider: the real MobileNet within cosine 0.999 of fp32', { skip: sharedData('models/mobilenet_v1_0.75_224/model.json').skip }, async (t) => {
  await ownCache(t);
  const file = sharedData('models/mobilenet_v1_0.75_224/model.json').path;
  const r = await bothPrecisions(await source(file), { layers: ['global_average_pooling2d_1'], preprocess: 'tf' }, { height: 224, width: 224 }, 2);
  assert.ok(cosineRows(r.fp16, r.fp32, r.dim) >= 0.999, `MobileNet: ${cosineRows(r.fp16, r.fp32, r.dim)}`);
});

test('uint8 pixels normalised inside the graph give the features of the JavaScript normalisation, for every mode', async (t) => {
  await ownCache(t);
  const src = await source(model);
  const n = 3;
  const perImage = 32 * 32 * 3;
  const pixels = photoBatch(n, 32, 32);
  for (const preprocess of PREPROCESS_MODES) {
    const floats = new Float32Array(n * perImage);
    for (let i = 0; i < n; i++) preprocessInto(pixels.subarray(i * perImage, (i + 1) * perImage), preprocess, floats, i * perImage);
    const req: EngineRequest = { engine: 'onnx', layers: ['conv', 'features'], preprocess, device: { kind: 'cpu' } };
    const floatEngine = await loadEngine(src, req);
    const pixelEngine = await loadEngine(src, { ...req, pixels: true });
    try {
      assert.deepEqual([floatEngine.inputType, pixelEngine.inputType], ['float32', 'uint8']);
      const err = relativeError(await pixelEngine.run(pixels.slice(), n), await floatEngine.run(floats, n));
      assert.ok(err <= 1e-5, `${preprocess}: max relative difference ${err}`);
      await assert.rejects(pixelEngine.run(floats, n), /takes the uint8 pixels/);
    } finally {
      await Promise.all([floatEngine.dispose(), pixelEngine.dispose()]);
    }
  }
});

test('rows of different precisions never share a feature folder: resume, reuse, update and merge refuse, one line each', async (t) => {
  const dir = await tempDir(t);
  const tiny = ['--model', model, '--preprocess', 'none', '--quiet', '--device', 'cpu'];
  const fails = async (args: string[], pattern: RegExp) => {
    const r = await runCli(args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.trim().split('\n').at(-1)!, pattern);
  };
  const fp32 = path.join(dir, 'fp32');
  assert.equal((await runCli(['extract', images, '-o', fp32, ...tiny])).code, 0);
  assert.equal((await manifestOf(fp32)).settings.precision, 'fp32');
  await fails(['extract', images, '-o', fp32, ...tiny, '--resume', '--precision', 'fp16'], /is finished but was made with precision fp32 \(now fp16\); add --precision fp32 to reuse it, or overwrite it/);
  await fails(['extract', images, '-o', fp32, ...tiny, '--update', '--precision', 'fp16'], /was made with precision fp32 \(now fp16\); add --precision fp32 to update it, or overwrite it/);

  // An unfinished fp16 extraction (stopped before its first batch) is not continued in fp32.
  const partial = path.join(dir, 'partial');
  const stop = new AbortController();
  stop.abort();
  await assert.rejects(extractFeatures(images, partial, { model, preprocess: 'none', precision: 'fp16', device: 'cpu', signal: stop.signal }), /interrupted; 0 rows are saved/);
  await fails(['extract', images, '-o', partial, ...tiny, '--resume'], /cannot resume, it was started with precision fp16 \(now fp32\); add --precision fp16 to continue it, or overwrite it/);
  assert.equal((await runCli(['extract', images, '-o', partial, ...tiny, '--resume', '--precision', 'fp16'])).code, 0, 'the same precision resumes');

  const shards = [0, 1].map((i) => path.join(dir, `shard${i}`));
  assert.equal((await runCli(['extract', images, '-o', shards[0]!, ...tiny, '--shard', '0/2'])).code, 0);
  assert.equal((await runCli(['extract', images, '-o', shards[1]!, ...tiny, '--shard', '1/2', '--precision', 'fp16'])).code, 0);
  await fails(['merge', ...shards, '-o', path.join(dir, 'merged')], /made with different settings than .*\(precision fp32 vs fp16\); re-run the shards with the same options/);
});
