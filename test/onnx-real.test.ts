// Real exports as feature networks: the built-in ResNet50's own ONNX export (the cached Keras→ONNX
// export the default path runs) fed back in as a .onnx file gives the built-in features; a tiny
// model exported by torch.onnx.export (test/fixtures/torch-tiny.py) gives PyTorch's own features.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { cacheDir } from '../dist/util/cache.js';
import { decodeFiles, decodeOptionsOf, toInput } from '../dist/pipeline/batches/batch.js';
import { loadFeatureModel } from '../dist/pipeline/setup/feature-model.js';
import { readJson, relativeError, ROOT, tempDir } from './helpers.js';

/** The cached export of `weightsDigest` cut at `layer` with average pooling, as the onnx engine wrote it. */
async function cachedExport(weightsDigest: string, layer: string): Promise<string> {
  const dir = path.join(cacheDir(), 'onnx');
  for (const name of await fsp.readdir(dir)) {
    if (!name.endsWith('.json')) continue;
    const record = await readJson<{ exporterVersion?: number; weightsDigest: string; layers: string[]; pool: string }>(path.join(dir, name));
    if (record.exporterVersion && record.weightsDigest === weightsDigest && record.layers.join() === layer && record.pool === 'avg') return path.join(dir, name.replace(/\.json$/, '.onnx'));
  }
  throw new Error(`no cached export of ${weightsDigest} at ${layer} in ${dir}`);
}

test('resnet50: its own ONNX export, given as a .onnx file, gives the built-in features', async (t) => {
  const builtIn = await loadFeatureModel({ model: 'resnet50' });
  t.after(() => builtIn.extractor.dispose());
  const dir = await tempDir(t);
  const files: string[] = [];
  for (let i = 0; i < 3; i++) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="220"><rect width="300" height="220" fill="rgb(${40 + 60 * i},120,${200 - 50 * i})"/><circle cx="${100 + 40 * i}" cy="110" r="${30 + 15 * i}" fill="rgb(230,${30 * i},40)"/></svg>`;
    files.push(path.join(dir, `${i}.jpg`));
    await sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toFile(files.at(-1)!);
  }
  const { pixels } = await decodeFiles(files, decodeOptionsOf(builtIn.settings));
  const expected = await builtIn.extractor.run(toInput(pixels, builtIn.settings, undefined, builtIn.extractor.inputType), 3);

  const file = await cachedExport(builtIn.resolved.weightsDigest, 'avg_pool');
  const cache = process.env.CNNFEAT_CACHE;
  process.env.CNNFEAT_CACHE = path.join(dir, 'cache'); // the graph is cut anew on every run, not taken from the shared cache
  t.after(() => (cache === undefined ? delete process.env.CNNFEAT_CACHE : (process.env.CNNFEAT_CACHE = cache)));
  const fromFile = await loadFeatureModel({ model: file, preprocess: 'caffe' });
  t.after(() => fromFile.extractor.dispose());
  assert.deepEqual(
    { format: fromFile.resolved.format, layer: fromFile.settings.layer, dim: fromFile.settings.dim, input: fromFile.settings.input },
    { format: 'onnx', layer: 'features', dim: 2048, input: { height: 224, width: 224 } },
  );
  assert.notEqual(fromFile.settings.weightsDigest, builtIn.settings.weightsDigest, 'the digest of the .onnx file, not of the shards');
  const features = await fromFile.extractor.run(toInput(pixels, fromFile.settings, undefined, fromFile.extractor.inputType), 3);
  const error = relativeError(features, expected);
  assert.ok(error <= 1e-5, `max |diff| / max |value| = ${error}`);
});

/** The NCHW image formula of test/fixtures/torch-tiny.py, laid out NHWC as cnnfeat feeds it. */
function torchImages(n: number, h: number, w: number): Float32Array {
  const out = new Float32Array(n * h * w * 3);
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out[((i * h + y) * w + x) * 3 + c] = ((i * 7 + c * 3 + y * 5 + x * 11) % 17) / 8 - 1;
  return out;
}

test('torch.onnx.export output (dynamic batch, height and width): the default cut gives PyTorch\'s pre-logits features', async (t) => {
  const model = path.join(ROOT, 'test', 'fixtures', 'torch-tiny.onnx');
  const reference = await readJson<{ features: Record<string, number[][]> }>(path.join(ROOT, 'test', 'fixtures', 'torch-tiny.json'));
  const cache = process.env.CNNFEAT_CACHE;
  process.env.CNNFEAT_CACHE = path.join(await tempDir(t), 'cache');
  t.after(() => (cache === undefined ? delete process.env.CNNFEAT_CACHE : (process.env.CNNFEAT_CACHE = cache)));
  for (const [size, rows] of Object.entries(reference.features)) {
    const [h, w] = size.split('x').map(Number) as [number, number];
    const fm = await loadFeatureModel({ model, preprocess: 'torch', input: { height: h, width: w }, pixelInput: false });
    t.after(() => fm.extractor.dispose());
    assert.deepEqual([fm.settings.layer, fm.settings.dim, fm.settings.input], ['/Flatten_output_0', 8, { height: h, width: w }]);
    const features = await fm.extractor.run(torchImages(2, h, w), 2);
    const error = relativeError(features, rows.flat());
    assert.ok(error <= 1e-5, `${size}: max |diff| / max |value| = ${error}`);
  }
});
