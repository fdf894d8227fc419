// extract --shard / --shards and cnnfeat merge: n shard processes + merge equal one single run.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { fileTempDir, json, makeTinyModel, manifestOf, runCli, writeImage, type CliResult, type ExtractJson, type MergeJson } from './helpers.js';
import { parseShard, selectShard } from '../dist/index.js';

let work: string;
let model: string;
let images: string;
before(async () => {
  work = await fileTempDir('cnnfeat-shard-');
  model = await makeTinyModel(path.join(work, 'tiny'));
  images = path.join(work, 'images');
  for (let i = 0; i < 23; i++) {
    const cls = ['ants', 'bees', 'wasps'][i % 3];
    await writeImage(path.join(images, cls, `${String(i).padStart(2, '0')}.jpg`), { width: 28, height: 20, rgb: [i * 10, 80, 200 - i * 5], seed: i });
  }
  await fsp.writeFile(path.join(images, 'bees', 'broken.jpg'), 'not a jpeg');
});

const tiny = () => ['--model', model, '--preprocess', 'none', '--quiet', '--batch-size', '4'];
function assertFails(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

test('shards: round robin over the sorted list, 0-based, index from --shard or the scheduler variables', () => {
  assert.deepEqual(parseShard('2/5', undefined), { index: 2, count: 5 });
  assert.deepEqual(parseShard(undefined, '4', { JOB_COMPLETION_INDEX: '3' }), { index: 3, count: 4 });
  assert.deepEqual(parseShard(undefined, '4', { SLURM_ARRAY_TASK_ID: '0' }), { index: 0, count: 4 });
  assert.equal(parseShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '1' }), undefined);
  assert.throws(() => parseShard('5/5', undefined), /--shard: the index must be a whole number from 0 to count−1/);
  assert.throws(() => parseShard('1of2', undefined), /--shard must be <index>\/<count>/);
  assert.throws(() => parseShard(undefined, '4', {}), /no worker index in JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID/);
  assert.throws(() => parseShard(undefined, '4', { SLURM_ARRAY_TASK_ID: '4' }), /SLURM_ARRAY_TASK_ID=4 with --shards 4: .*--array=0-3/);
  assert.throws(() => parseShard('0/2', '2'), /give one of them, not both/);
  const items = Array.from({ length: 11 }, (_, i) => i);
  const parts = [0, 1, 2].map((index) => selectShard(items, { index, count: 3 }));
  assert.deepEqual(parts, [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]);
});

test('n shard processes + merge equal a single run (byte for byte); merge checks what it joins', async () => {
  const single = path.join(work, 'single');
  json<ExtractJson>(await runCli(['extract', images, '-o', single, '--json', ...tiny()]));
  const n = 3;
  const shardDirs = Array.from({ length: n }, (_, i) => path.join(work, `shard-${i}`));
  const [shard0, shard1, shard2] = shardDirs;
  const results = await Promise.all(
    shardDirs.map((dir, i) => {
      // Shard 1 takes its index from the Kubernetes variable, the others from --shard.
      const how = i === 1 ? ['--shards', String(n)] : ['--shard', `${i}/${n}`];
      return runCli(['extract', images, '-o', dir, '--json', ...how, ...tiny()], { env: i === 1 ? { JOB_COMPLETION_INDEX: '1' } : {} });
    }),
  );
  const parts = results.map((r) => json<ExtractJson>(r));
  assert.deepEqual(parts.map((p) => p.shard?.index), [0, 1, 2]);
  assert.deepEqual(parts.map((p) => p.rows + p.skipped.length), [8, 8, 8], 'balanced: 24 files in 3 shards');
  const m0 = await manifestOf(shard0);
  assert.match(m0.shard?.of ?? 'no shard', /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(m0.shard, { index: 0, count: 3, total: 24, of: m0.shard?.of });
  const classesPerShard = await Promise.all(shardDirs.map(async (d) => Object.values((await manifestOf(d)).counts.perClass).filter((c) => c > 0).length));
  assert.deepEqual(classesPerShard, [3, 3, 3], 'every shard holds every class');

  const merged = path.join(work, 'merged');
  const r = json<MergeJson>(await runCli(['merge', shard2, shard0, shard1, '-o', merged, '--json', '--quiet']));
  assert.equal(r.rows, 23);
  assert.equal(r.shards, 3);
  for (const name of ['features.npy', 'samples.csv']) {
    assert.ok((await fsp.readFile(path.join(merged, name))).equals(await fsp.readFile(path.join(single, name))), `${name}: merge == single run`);
  }
  const [a, b] = [await manifestOf(merged), await manifestOf(single)];
  for (const key of ['classes', 'counts', 'skipped', 'ignored', 'settings', 'files', 'planDigest', 'imageRoot'] as const) assert.deepEqual(a[key], b[key], `manifest ${key}`);
  assert.equal(a.mergedFrom?.length, 3);
  assert.equal(a.shard, undefined);
  // The merged folder is an ordinary feature directory: train reads it, --update works on it.
  assert.equal((await runCli(['train', merged, '-o', path.join(work, 'm.json'), '--quiet'])).code, 0);
  assert.deepEqual(json<ExtractJson>(await runCli(['extract', images, '-o', merged, '--update', '--json', ...tiny()])).update, { added: 0, changed: 0, removed: 0, kept: 24 });

  const text = await runCli(['merge', ...shardDirs, '-o', merged, '--overwrite']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^23 rows × 8 features from 3 shards → .*merged \(1 skipped\)\n$/);

  assertFails(await runCli(['merge', ...shardDirs, '-o', merged]), /already holds features .*; overwrite them \(--overwrite\)/);
  assertFails(await runCli(['merge', shard0, shard2, '-o', path.join(work, 'm2')]), /shard\(s\) 1\/3 missing; give all 3 shard directories/);
  assertFails(await runCli(['merge', shard0, shard1, shard1, shard2, '-o', path.join(work, 'm3')]), /shard 1\/3 given twice/);
  assertFails(await runCli(['merge', single, shard0, '-o', path.join(work, 'm4')]), /single: not a shard \(extracted without a shard, --shard\)/);
  assertFails(await runCli(['merge', ...shardDirs, '-o', shard0]), /is one of the shards being merged/);
  const otherLayer = path.join(work, 'shard-1-conv');
  json<ExtractJson>(await runCli(['extract', images, '-o', otherLayer, '--shard', '1/3', '--layer', 'conv', '--json', ...tiny()]));
  assertFails(await runCli(['merge', shard0, otherLayer, shard2, '-o', path.join(work, 'm5')]), /shard-1-conv: made with different settings than .*shard-0 \(layer features vs conv/);
  const two = path.join(work, 'two-0');
  json<ExtractJson>(await runCli(['extract', images, '-o', two, '--shard', '0/2', '--json', ...tiny()]));
  assertFails(await runCli(['merge', two, shard1, shard2, '-o', path.join(work, 'm6')]), /shard of a different file list or shard count/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--shard', '0/30', ...tiny()]), /--shard 0\/30: .* has only 24 images; use at most 24 shards/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--shards', '3', ...tiny()], { env: { JOB_COMPLETION_INDEX: '', SLURM_ARRAY_TASK_ID: '' } }), /--shards 3: no worker index/);
});
