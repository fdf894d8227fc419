// Models by URL: HTTP download of model.json + shards into the cache, pins, failures, cache reuse.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { bypassesProxy } from '../dist/models/http.js';
import { shardUrl } from '../dist/models/http-model.js';
import { makeTinyGraphModel } from './graph-fixture.js';
import type { GraphNodeInfo } from '../dist/engines/tfjs-graph.js';
import type { ModelCard } from '../dist/models/card.js';
import { serveFiles, type Rule } from './http-fixture.js';
import { json, lastLine, makeColourDataset, makeTinyModel, manifestOf, readJson, runCli, tempDir, type PulledJson } from './helpers.js';

const QUERY = '?tfjs-format=file';
const SHARDS = ['group1-shard1of2.bin', 'group1-shard2of2.bin'] as const;

/** A graph model served by a local server (with `rules`), and a fresh cache. */
async function setup(t: TestContext, rules: Record<string, Rule> = {}) {
  const work = await tempDir(t);
  const modelDir = path.join(work, 'served');
  await makeTinyGraphModel(modelDir);
  const server = await serveFiles(t, modelDir, rules);
  const cache = path.join(work, 'cache');
  const env = { CNNFEAT_CACHE: cache, CNNFEAT_HTTP_RETRIES: '0', CNNFEAT_HTTP_RETRY_DELAY_MS: '10' };
  return { work, modelDir, server, cache, env, url: `${server.base}model.json${QUERY}` };
}

const sha256 = async (file: string) => createHash('sha256').update(await fsp.readFile(file)).digest('hex');

/** The cache's models folder holds exactly `expected` (no staging folder, no lock). */
async function assertModelsDir(cache: string, expected: string[]): Promise<void> {
  const entries = await fsp.readdir(path.join(cache, 'models')).catch((): string[] => []);
  assert.deepEqual(entries.sort(), expected.sort(), 'nothing half-installed is left in the cache');
}

test('shard URLs follow tfjs: relative to model.json, with its query string', () => {
  assert.equal(shardUrl('https://h/a/b/model.json?tfjs-format=file', 'group1-shard1of3'), 'https://h/a/b/group1-shard1of3?tfjs-format=file');
  assert.equal(shardUrl('http://h:8/x/model.json', 'w/g1.bin'), 'http://h:8/x/w/g1.bin');
  assert.equal(bypassesProxy('models.example.com', 'localhost,.example.com'), true);
  assert.equal(bypassesProxy('example.com', 'example.com'), true);
  assert.equal(bypassesProxy('tfhub.dev', 'localhost,127.0.0.1'), false);
  assert.equal(bypassesProxy('anything', '*'), true);
});

test('models pull <url>: model.json and every shard installed with sizes and sha256; later uses need no network', async (t) => {
  const { modelDir, server, cache, env, url } = await setup(t);
  const r = await runCli(['models', 'pull', url, '--json'], { env });
  const { dir, modelFile, weightsDigest } = json<PulledJson>(r);
  assert.equal(path.dirname(dir), path.join(cache, 'models'));
  assert.match(path.basename(dir), /^url-[0-9a-f]{16}$/);
  assert.equal(modelFile, path.join(dir, 'model.json'));
  assert.match(weightsDigest ?? 'no digest', /^sha256:[0-9a-f]{64}$/);
  for (const shard of SHARDS) assert.equal(server.hits.get(`/m/${shard}${QUERY}`), 1, `${shard} fetched once, with the query string`);

  const record = await readJson<{ url: string; files: { name: string; bytes: number; sha256: string }[] }>(path.join(dir, 'cnnfeat-install.json'));
  assert.equal(record.url, url);
  assert.deepEqual(record.files.map((f) => f.name).sort(), ['model.json', ...SHARDS].sort());
  for (const f of record.files) {
    assert.equal(f.bytes, (await fsp.stat(path.join(modelDir, f.name))).size);
    assert.equal(f.sha256, await sha256(path.join(modelDir, f.name)));
  }
  await assertModelsDir(cache, [path.basename(dir)]);

  await server.close();
  const layers = await runCli(['layers', url, '--json'], { env });
  const nodes = json<(GraphNodeInfo & { default: boolean })[]>(layers);
  assert.deepEqual(nodes.filter((n) => n.default).map((n) => n.name), ['pool/AvgPool']);
  assert.doesNotMatch(layers.stderr, /Downloading/);

  // A cached file whose content changed (same size) fails its recorded sha256: not used, pulled again.
  const shard = path.join(dir, SHARDS[0]);
  const bytes = await fsp.readFile(shard);
  bytes[0] ^= 0xff;
  await fsp.writeFile(shard, bytes);
  const damaged = await runCli(['models', 'path', url], { env });
  assert.equal(damaged.code, 4, 'the server is gone, so the damaged copy cannot be replaced');
  assert.match(damaged.stderr, /warning: the cached copy in .* is damaged or does not match its source any more; downloading it again/);
  assert.match(lastLine(damaged.stderr), /^cnnfeat: http:\/\/127\.0\.0\.1:\d+\/m\/model\.json\?tfjs-format=file: connect ECONNREFUSED .*; check the URL and the network, nothing was installed$/);
});

test('a LayersModel by URL: extract --model <url> runs on the downloaded copy', async (t) => {
  const work = await tempDir(t);
  await makeTinyModel(path.join(work, 'served'));
  const server = await serveFiles(t, path.join(work, 'served'));
  const env = { CNNFEAT_CACHE: path.join(work, 'cache') };
  const images = path.join(work, 'images');
  await makeColourDataset(images, { perClass: 2 });
  const url = `${server.base}model.json`;
  const r = await runCli(['extract', images, '-o', path.join(work, 'feats'), '--model', url, '--preprocess', 'none', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const manifest = await manifestOf(path.join(work, 'feats'));
  assert.equal(manifest.settings.model, url);
  assert.equal(manifest.settings.dim, 8);
  assert.equal(server.hits.get('/m/weights.bin'), 1);
});

test('a 404 on a shard is exit 4 naming the shard URL, and nothing is installed', async (t) => {
  const { cache, env, url, server } = await setup(t, { [SHARDS[1]]: '404' });
  const r = await runCli(['models', 'pull', url], { env });
  assert.equal(r.code, 4, r.stderr);
  assert.match(lastLine(r.stderr), new RegExp(`^cnnfeat: ${server.base.replace(/[.?]/g, '\\$&')}group1-shard2of2\\.bin\\?tfjs-format=file: HTTP 404 Not Found; check the URL`));
  await assertModelsDir(cache, []);
});

test('a 404 on model.json is exit 4 too', async (t) => {
  const { cache, env, server } = await setup(t);
  const r = await runCli(['models', 'pull', `${server.base}nothing/model.json`], { env });
  assert.equal(r.code, 4, r.stderr);
  assert.match(lastLine(r.stderr), /nothing\/model\.json: HTTP 404 Not Found/);
  await assertModelsDir(cache, []);
});

test('a shard cut short of its Content-Length is exit 4 after the retries, and nothing is installed', async (t) => {
  const { cache, env, url, server } = await setup(t, { [SHARDS[0]]: 'truncate' });
  const r = await runCli(['models', 'pull', url], { env: { ...env, CNNFEAT_HTTP_RETRIES: '1' } });
  assert.equal(r.code, 4, r.stderr);
  assert.match(lastLine(r.stderr), /group1-shard1of2\.bin\?tfjs-format=file: (transfer cut after \d+ of \d+ bytes|truncated download: got \d+ of \d+ bytes).* \(after 2 attempts\)/);
  assert.equal(server.hits.get(`/m/${SHARDS[0]}${QUERY}`), 2, 'a cut transfer is retried');
  await assertModelsDir(cache, []);
});

test('shards shorter than the weights model.json declares (no Content-Length) are exit 4', async (t) => {
  const { cache, env, url } = await setup(t, { [SHARDS[1]]: 'short-chunked' });
  const r = await runCli(['models', 'pull', url], { env });
  assert.equal(r.code, 4, r.stderr);
  assert.match(lastLine(r.stderr), /the weight files hold \d+ bytes but model\.json declares \d+; a shard is truncated/);
  await assertModelsDir(cache, []);
});

test('a server that stops sending is a timeout (CNNFEAT_HTTP_TIMEOUT_MS), exit 4, nothing installed', async (t) => {
  const { cache, env, url } = await setup(t, { [SHARDS[0]]: 'stall' });
  const r = await runCli(['models', 'pull', url], { env: { ...env, CNNFEAT_HTTP_TIMEOUT_MS: '300' } });
  assert.equal(r.code, 4, r.stderr);
  assert.match(lastLine(r.stderr), /group1-shard1of2\.bin\?tfjs-format=file: no data for 0\.3 s \(timeout; raise CNNFEAT_HTTP_TIMEOUT_MS/);
  await assertModelsDir(cache, []);
});

test('a 503 is retried and the download then succeeds', async (t) => {
  const { cache, env, url, server } = await setup(t, { [SHARDS[1]]: 'flaky' });
  const r = await runCli(['models', 'pull', url, '--json'], { env: { ...env, CNNFEAT_HTTP_RETRIES: '2' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(server.hits.get(`/m/${SHARDS[1]}${QUERY}`), 2);
  await assertModelsDir(cache, [path.basename(json<PulledJson>(r).dir)]);
});

test('card pins: a wrong sha256 or size is exit 4, and the verified copy already installed stays', async (t) => {
  const { modelDir, cache, env, url } = await setup(t);
  const pins = Object.fromEntries(
    await Promise.all(['model.json', ...SHARDS].map(async (f) => [f, { bytes: (await fsp.stat(path.join(modelDir, f))).size, sha256: await sha256(path.join(modelDir, f)) }])),
  );
  const card: ModelCard = {
    id: 'pinned',
    title: 'pinned test model',
    source: { type: 'http', url, files: pins },
    format: 'graph',
    modelFile: 'model.json',
    input: { height: 16, width: 16, channels: 3 },
    preprocess: 'unit',
    featureLayer: 'pool/AvgPool',
    dim: 4,
    license: 'test',
  };
  const cardFile = path.join(cache, 'cards', 'pinned.json');
  await fsp.mkdir(path.dirname(cardFile), { recursive: true });
  await fsp.writeFile(cardFile, JSON.stringify(card));
  const good = await runCli(['models', 'pull', 'pinned'], { env });
  assert.equal(good.code, 0, good.stderr);
  const installedShard = await fsp.readFile(path.join(cache, 'models', 'pinned', SHARDS[1]));

  const source = { type: 'http' as const, url };
  await fsp.writeFile(cardFile, JSON.stringify({ ...card, source: { ...source, files: { ...pins, [SHARDS[1]]: { sha256: 'ab'.repeat(32) } } } }));
  const wrongHash = await runCli(['models', 'pull', 'pinned'], { env });
  assert.equal(wrongHash.code, 4, wrongHash.stderr);
  assert.match(lastLine(wrongHash.stderr), /group1-shard2of2\.bin\?tfjs-format=file: sha256 [0-9a-f]{64} differs from the pinned (ab){32}; the file changed upstream or the model card is wrong, nothing was installed$/);

  await fsp.writeFile(cardFile, JSON.stringify({ ...card, source: { ...source, files: { [SHARDS[0]]: { bytes: pins[SHARDS[0]]!.bytes + 1 } } } }));
  const wrongSize = await runCli(['models', 'pull', 'pinned', '--force'], { env });
  assert.equal(wrongSize.code, 4, wrongSize.stderr);
  assert.match(lastLine(wrongSize.stderr), /group1-shard1of2\.bin\?tfjs-format=file: got \d+ bytes but the model card pins \d+/);

  await assertModelsDir(cache, ['pinned']);
  assert.deepEqual(await fsp.readFile(path.join(cache, 'models', 'pinned', SHARDS[1])), installedShard, 'the earlier verified copy is intact');
});

test('concurrent pulls of the same URL download each file once and both succeed', async (t) => {
  const { cache, env, url, server } = await setup(t, { [SHARDS[0]]: 'slow', [SHARDS[1]]: 'slow' });
  const [a, b] = await Promise.all([runCli(['models', 'pull', url, '--json'], { env }), runCli(['models', 'pull', url, '--json'], { env })]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(json<PulledJson>(a).dir, json<PulledJson>(b).dir);
  for (const shard of SHARDS) assert.equal(server.hits.get(`/m/${shard}${QUERY}`), 1, `${shard} downloaded once`);
  await assertModelsDir(cache, [path.basename(json<PulledJson>(a).dir)]);
});
