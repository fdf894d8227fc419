// Where an ONNX model comes from: an http(s) URL (with its external data; pins checked: success,
// wrong hash, truncated), a user card written by `models add` (local or URL), an npm tarball card.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tar from 'tar';
import type { TestContext } from 'node:test';
import type { ModelCard } from '../dist/models/card.js';
import { serveFiles, type Rule } from './http-fixture.js';
import { json, makeColourDataset, manifestOf, readJson, runCli, tempDir, type ExtractJson, type PulledJson } from './helpers.js';
import { writeTinyOnnx } from './onnx-fixtures.js';

/** A cache, a dataset and a served folder holding tiny.onnx (weights in tiny.onnx.data) and whole.onnx. */
async function setup(t: TestContext, rules: Record<string, Rule> = {}) {
  const work = await tempDir(t);
  const served = path.join(work, 'served');
  await writeTinyOnnx(path.join(served, 'tiny.onnx'), { external: true });
  await writeTinyOnnx(path.join(served, 'whole.onnx'), {});
  const server = await serveFiles(t, served, rules);
  const cache = path.join(work, 'cache');
  const data = await makeColourDataset(path.join(work, 'images'), { perClass: 2 });
  return { work, served, server, cache, data, env: { CNNFEAT_CACHE: cache, CNNFEAT_HTTP_RETRIES: '0' } };
}

const sha256 = async (file: string) => createHash('sha256').update(await fsp.readFile(file)).digest('hex');

test('onnx over http: the .onnx and its external data are downloaded, verified, installed and reused offline', async (t) => {
  const { work, served, server, cache, data, env } = await setup(t);
  const url = `${server.base}tiny.onnx`;
  const pulled = json<PulledJson>(await runCli(['models', 'pull', url, '--json'], { env }));
  assert.equal(pulled.modelFile, path.join(pulled.dir, 'tiny.onnx'));
  const record = await readJson<{ files: { name: string; sha256: string }[] }>(path.join(pulled.dir, 'cnnfeat-install.json'));
  assert.deepEqual(
    record.files.map((f) => [f.name, f.sha256]),
    [
      ['tiny.onnx', await sha256(path.join(served, 'tiny.onnx'))],
      ['tiny.onnx.data', await sha256(path.join(served, 'tiny.onnx.data'))],
    ],
  );
  const bytes = Buffer.concat([await fsp.readFile(path.join(served, 'tiny.onnx')), await fsp.readFile(path.join(served, 'tiny.onnx.data'))]);
  assert.equal(pulled.weightsDigest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`, 'digest of the .onnx and its external data');

  await server.close();
  const out = path.join(work, 'out');
  const extracted = json<ExtractJson>(await runCli(['extract', data, '-o', out, '-m', url, '--preprocess', 'torch', '--json', '--quiet'], { env }));
  assert.deepEqual([extracted.rows, extracted.dim], [4, 16]);
  const { settings } = await manifestOf(out);
  assert.deepEqual([settings.model, settings.weightsDigest, settings.layer], [url, pulled.weightsDigest, 'flat']);
  assert.ok((await fsp.readdir(path.join(cache, 'models'))).every((d) => !d.includes('partial')));
});

test('onnx over http: models add pins every file; a wrong hash or a truncated file fails with exit 4 and installs nothing', async (t) => {
  const { work, served, server, cache, data, env } = await setup(t, { 'cut.onnx': 'truncate', 'half.onnx': 'short-chunked' });
  await fsp.copyFile(path.join(served, 'whole.onnx'), path.join(served, 'cut.onnx'));
  await fsp.copyFile(path.join(served, 'whole.onnx'), path.join(served, 'half.onnx'));
  const added = json<ModelCard & { source: { files: Record<string, { sha256: string }> } }>(await runCli(['models', 'add', 'tiny-http', `${server.base}tiny.onnx`, '--preprocess', 'torch', '--layer', 'c2', '--json'], { env }));
  assert.deepEqual(
    { format: added.format, layout: added.layout, input: added.input, layer: added.featureLayer, dim: added.dim, pinned: Object.keys(added.source.files) },
    { format: 'onnx', layout: 'NCHW', input: { height: 32, width: 32, channels: 3 }, layer: 'c2', dim: 16, pinned: ['tiny.onnx', 'tiny.onnx.data'] },
  );
  assert.equal(added.source.files['tiny.onnx.data'].sha256, await sha256(path.join(served, 'tiny.onnx.data')));
  const byId = json<ExtractJson>(await runCli(['extract', data, '-o', path.join(work, 'by-id'), '-m', 'tiny-http', '--json', '--quiet'], { env }));
  assert.equal(byId.dim, 16);

  const card = (id: string, file: string, pin?: object) => ({
    id,
    title: id,
    source: { type: 'http', url: `${server.base}${file}`, ...(pin ? { files: { [file]: pin } } : {}) },
    format: 'onnx',
    modelFile: file,
    input: { height: 32, width: 32, channels: 3 },
    preprocess: 'torch',
    featureLayer: 'flat',
    dim: 16,
    license: 'test',
  });
  await fsp.writeFile(path.join(cache, 'cards', 'wrong-hash.json'), JSON.stringify(card('wrong-hash', 'whole.onnx', { sha256: '0'.repeat(64) })));
  await fsp.writeFile(path.join(cache, 'cards', 'cut.json'), JSON.stringify(card('cut', 'cut.onnx')));
  await fsp.writeFile(path.join(cache, 'cards', 'half.json'), JSON.stringify(card('half', 'half.onnx')));
  const cases: [string, RegExp][] = [
    ['wrong-hash', /whole\.onnx: sha256 [0-9a-f]{64} differs from the pinned 0{64}; .*nothing was installed/],
    ['cut', /cut\.onnx: transfer cut after \d+ of \d+ bytes/],
    ['half', /half\.onnx: the ONNX file is truncated/],
  ];
  for (const [id, message] of cases) {
    const out = path.join(work, `out-${id}`);
    const r = await runCli(['extract', data, '-o', out, '-m', id], { env });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('Downloading')).length, 1, r.stderr);
    assert.deepEqual(await fsp.readdir(path.join(cache, 'models')).then((d) => d.filter((x) => x.includes(id))), [], `nothing installed for ${id}`);
    assert.deepEqual(await fsp.readdir(out).catch(() => []), []);
  }
});

test('onnx from an npm tarball card and from a local models add: the card keeps input size, layout and preprocessing', async (t) => {
  const { work, cache, data, env } = await setup(t);
  const pkg = path.join(work, 'pkg', 'package');
  await writeTinyOnnx(path.join(pkg, 'net', 'tiny.onnx'), { layout: 'NHWC', size: 'symbolic', external: true });
  await fsp.writeFile(path.join(pkg, 'package.json'), JSON.stringify({ name: 'tiny-onnx', version: '1.0.0' }));
  const tgz = path.join(work, 'tiny-onnx-1.0.0.tgz');
  await tar.c({ gzip: true, cwd: path.dirname(pkg), file: tgz }, ['package']);
  const integrity = `sha512-${createHash('sha512').update(await fsp.readFile(tgz)).digest('base64')}`;
  await fsp.mkdir(path.join(cache, 'cards'), { recursive: true });
  const card = {
    id: 'tiny-npm',
    title: 'tiny ONNX model in an npm tarball',
    source: { type: 'npm', spec: `file:${tgz}`, integrity, folder: 'net/' },
    format: 'onnx',
    modelFile: 'tiny.onnx',
    input: { height: 48, width: 40, channels: 3 },
    layout: 'NHWC',
    preprocess: 'torch',
    featureLayer: 'c1,flat',
    dim: 24,
    license: 'test',
  };
  await fsp.writeFile(path.join(cache, 'cards', 'tiny-npm.json'), JSON.stringify(card));
  const out = path.join(work, 'npm-out');
  const extracted = json<ExtractJson>(await runCli(['extract', data, '-o', out, '-m', 'tiny-npm', '--json', '--quiet'], { env }));
  assert.equal(extracted.dim, 24);
  const { settings } = await manifestOf(out);
  assert.deepEqual([settings.input, settings.preprocess, settings.layer], [{ height: 48, width: 40 }, 'torch', 'c1,flat']);
  assert.deepEqual((await fsp.readdir(path.join(cache, 'models', 'tiny-npm'))).sort(), ['cnnfeat-install.json', 'tiny.onnx', 'tiny.onnx.data']);

  const local = await writeTinyOnnx(path.join(work, 'mine', 'model.onnx'), { size: 'symbolic' });
  const added = json<ModelCard & { source: { path: string } }>(await runCli(['models', 'add', 'mine', path.dirname(local), '--preprocess', 'torch', '--input', '64x64', '--json'], { env }));
  assert.deepEqual(
    { source: added.source.type, path: added.source.path, input: added.input, layout: added.layout, preprocess: added.preprocess, layer: added.featureLayer, dim: added.dim },
    { source: 'local', path: local, input: { height: 64, width: 64, channels: 3 }, layout: 'NCHW', preprocess: 'torch', layer: 'flat', dim: 16 },
  );
  json<ExtractJson>(await runCli(['extract', data, '-o', path.join(work, 'mine-out'), '-m', 'mine', '--json', '--quiet'], { env }));
  assert.deepEqual((await manifestOf(path.join(work, 'mine-out'))).settings.input, { height: 64, width: 64 });
  await writeTinyOnnx(local, { size: 'symbolic', seed: 99 });
  const changed = await runCli(['extract', data, '-o', path.join(work, 'changed'), '-m', 'mine'], { env });
  assert.equal(changed.code, 4);
  assert.match(changed.stderr, /the weights of .*model\.onnx changed since `cnnfeat models add`/);
});

test('run and predict with a .onnx file: the classifier remembers the ONNX network, its cut, input size and preprocessing', async (t) => {
  const work = await tempDir(t);
  const env = { CNNFEAT_CACHE: path.join(work, 'cache') };
  const model = await writeTinyOnnx(path.join(work, 'net', 'tiny.onnx'), { size: 'symbolic' });
  const data = await makeColourDataset(path.join(work, 'images'), { perClass: 4 });
  const out = path.join(work, 'out');
  const run = await runCli(['run', data, '-o', out, '-m', model, '--preprocess', 'torch', '--input', '40x40', '--layer', 'c2', '--kernel', 'linear', '--C', '1', '--test-size', '0.5', '--no-report', '--json', '--quiet'], { env });
  assert.equal(run.code, 0, run.stderr);
  const { settings } = await manifestOf(path.join(out, 'test'));
  assert.deepEqual([settings.model, settings.layer, settings.dim, settings.input, settings.preprocess], [model, 'c2', 16, { height: 40, width: 40 }, 'torch']);
  const image = path.join(data, 'red', 'img000.jpg');
  const predicted = json<{ path: string; label: string }[]>(await runCli(['predict', path.join(out, 'model.json'), image, '--json', '--quiet'], { env }));
  assert.deepEqual(predicted.map((p) => [p.path, p.label]), [[image, 'red']]);
});
