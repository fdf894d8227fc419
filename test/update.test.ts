// extract --update: only new and changed files are computed, deleted ones dropped, and the result
// equals a fresh extraction of the folder as it is now.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { fileTempDir, json, makeTinyModel, manifestOf, readJson, runCli, startCli, writeImage, type ExtractJson, type Rgb } from './helpers.js';
import { readFeatureSet } from '../dist/index.js';

let work: string;
let model: string;
before(async () => {
  work = await fileTempDir('cnnfeat-update-');
  model = await makeTinyModel(path.join(work, 'tiny'));
});

const tiny = () => ['--model', model, '--preprocess', 'none', '--quiet', '--batch-size', '4'];
const img = (root: string, rel: string, seed: number, rgb: Rgb = [(seed * 9) % 256, 120, 200 - seed]) =>
  writeImage(path.join(root, rel), { width: 24, height: 24, rgb, seed, format: rel.endsWith('.png') ? 'png' : 'jpeg' });

const FIXED_TIME = 1_700_000_000;

/** An uncompressed TIFF of one colour: its size depends only on its dimensions. */
async function writeTiff(file: string, rgb: Rgb): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await sharp({ create: { width: 24, height: 24, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).tiff({ compression: 'none' }).toFile(file);
}

async function assertSameAs(out: string, fresh: string, what: string): Promise<void> {
  for (const name of ['features.npy', 'samples.csv']) {
    assert.ok((await fsp.readFile(path.join(out, name))).equals(await fsp.readFile(path.join(fresh, name))), `${name}: ${what}`);
  }
  const [a, b] = [await manifestOf(out), await manifestOf(fresh)];
  for (const key of ['classes', 'counts', 'skipped', 'ignored', 'planDigest', 'files', 'settings'] as const) assert.deepEqual(a[key], b[key], `manifest ${key}: ${what}`);
}

test('extract --update processes only new and changed files and equals a fresh extraction', async () => {
  const root = path.join(work, 'photos');
  for (let i = 0; i < 10; i++) {
    await img(root, `cats/c${i}.png`, i);
    await img(root, `dogs/d${i}.png`, 50 + i);
  }
  await fsp.writeFile(path.join(root, 'dogs', 'broken.png'), 'not a png');
  const sneaky = path.join(root, 'cats', 'c5.tif');
  await writeTiff(sneaky, [20, 30, 240]);
  await fsp.utimes(sneaky, FIXED_TIME, FIXED_TIME);
  const sneakySize = (await fsp.stat(sneaky)).size;
  const plain = path.join(work, 'plain');
  const hashed = path.join(work, 'hashed');
  json(await runCli(['extract', root, '-o', plain, '--json', ...tiny()]));
  json(await runCli(['extract', root, '-o', hashed, '--hash', '--json', ...tiny()]));
  assert.match((await manifestOf(hashed)).files?.[0]?.sha256 ?? 'no sha256', /^sha256:[0-9a-f]{64}$/);
  const before = await readFeatureSet(plain);
  const beforeBytes = await fsp.readFile(path.join(plain, 'features.npy'));

  // Nothing changed: everything kept, same bytes.
  const same = json<ExtractJson>(await runCli(['extract', root, '-o', plain, '--update', '--json', ...tiny()]));
  assert.deepEqual(same.update, { added: 0, changed: 0, removed: 0, kept: 22 });
  assert.ok((await fsp.readFile(path.join(plain, 'features.npy'))).equals(beforeBytes));

  // The folder grows and changes: 3 new files (one in a new class), 2 deleted, 1 edited, and
  // 1 replaced behind size+mtime's back (same size, old mtime restored), 1 only touched.
  await img(root, 'cats/c10.png', 10);
  await img(root, 'birds/b0.png', 90);
  await img(root, 'birds/b1.png', 91);
  await fsp.rm(path.join(root, 'cats', 'c3.png'));
  await fsp.rm(path.join(root, 'dogs', 'd7.png'));
  await img(root, 'dogs/d2.png', 2, [10, 240, 10]);
  await writeTiff(sneaky, [250, 250, 0]);
  await fsp.utimes(sneaky, FIXED_TIME, FIXED_TIME);
  assert.equal((await fsp.stat(sneaky)).size, sneakySize, 'same size, same mtime, other pixels');
  const touched = path.join(root, 'dogs', 'd4.png');
  await fsp.utimes(touched, new Date(), new Date(Date.now() + 5000));

  const fresh = path.join(work, 'fresh');
  const freshHashed = path.join(work, 'fresh-hashed');
  json(await runCli(['extract', root, '-o', fresh, '--json', ...tiny()]));
  json(await runCli(['extract', root, '-o', freshHashed, '--hash', '--json', ...tiny()]));
  const freshSet = await readFeatureSet(fresh);
  const sneakyRow = freshSet.paths.indexOf('cats/c5.tif');

  // By size + mtime: the edited and the touched file are recomputed, the sneaky one is kept.
  const byStat = json<ExtractJson>(await runCli(['extract', root, '-o', plain, '--update', '--json', ...tiny()]));
  assert.deepEqual(byStat.update, { added: 3, changed: 2, removed: 2, kept: 18 });
  assert.equal(byStat.rows, freshSet.rows);
  const updated = await readFeatureSet(plain);
  assert.deepEqual(updated.paths, freshSet.paths);
  assert.deepEqual(updated.labels, freshSet.labels);
  const oldSneaky = before.X.subarray(before.paths.indexOf('cats/c5.tif') * 8, before.paths.indexOf('cats/c5.tif') * 8 + 8);
  assert.deepEqual(updated.X.subarray(sneakyRow * 8, sneakyRow * 8 + 8), oldSneaky, 'a kept row is copied, not recomputed');
  assert.notDeepEqual(freshSet.X.subarray(sneakyRow * 8, sneakyRow * 8 + 8), oldSneaky, 'the sneaky edit does change the features');
  for (let r = 0; r < freshSet.rows; r++) {
    if (r !== sneakyRow) assert.deepEqual(updated.X.subarray(r * 8, r * 8 + 8), freshSet.X.subarray(r * 8, r * 8 + 8), `row ${r} (${freshSet.paths[r]})`);
  }
  assert.deepEqual((await manifestOf(plain)).update, byStat.update);
  assert.deepEqual((await fsp.readdir(plain)).sort(), ['features.npy', 'manifest.json', 'samples.csv'], 'no working files left');

  // By content: the sneaky edit is found, the touched file is kept; the result is the fresh one.
  const byHash = json<ExtractJson>(await runCli(['extract', root, '-o', hashed, '--update', '--hash', '--json', ...tiny()]));
  assert.deepEqual(byHash.update, { added: 3, changed: 2, removed: 2, kept: 18 });
  await assertSameAs(hashed, freshHashed, '--update --hash vs a fresh extraction');

  const text = await runCli(['extract', root, '-o', hashed, '--update', '--hash', ...tiny()]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^22 rows × 8 features → .*hashed \(0 added, 0 changed, 0 removed, 23 kept; 1 skipped, /);
});

test('an interrupted --update (kill -9 while computing rows) is continued by running it again', async () => {
  const root = path.join(work, 'grow');
  for (let i = 0; i < 6; i++) await img(root, `a/${i}.png`, i);
  for (let i = 0; i < 6; i++) await img(root, `b/${i}.png`, 20 + i);
  const out = path.join(work, 'grow-feat');
  json(await runCli(['extract', root, '-o', out, '--json', ...tiny()]));
  for (let i = 6; i < 150; i++) await img(root, `${i % 2 ? 'a' : 'b'}/${i}.png`, i);
  const fresh = path.join(work, 'grow-fresh');
  json(await runCli(['extract', root, '-o', fresh, '--json', ...tiny()]));

  const child = startCli(['extract', root, '-o', out, '--update', ...tiny().slice(0, -2), '--batch-size', '2']);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const progress = path.join(out, '.cnnfeat-update', 'rows', '.cnnfeat-progress.json');
  for (;;) {
    assert.equal(child.exitCode, null, 'the update ended before it could be killed');
    const p = await readJson<{ rows: number }>(progress).catch(() => null);
    if (p && p.rows >= 10) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill('SIGKILL');
  await exited;
  assert.deepEqual((await readFeatureSet(out)).rows, 12, 'the old features stay usable meanwhile');
  const again = json<ExtractJson>(await runCli(['extract', root, '-o', out, '--update', '--json', ...tiny()]));
  assert.deepEqual(again.update, { added: 144, changed: 0, removed: 0, kept: 12 });
  await assertSameAs(out, fresh, 'after a killed update and a second --update');
});

test('--update refuses what it cannot bring up to date', async () => {
  const root = path.join(work, 'photos');
  const plain = path.join(work, 'plain');
  const fail = async (extra: string[], pattern: RegExp, out = plain) => {
    const r = await runCli(['extract', root, '-o', out, '--update', ...tiny(), ...extra]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  };
  await fail(['--layer', 'conv'], /was made with layer features \(now conv\), pooled false \(now true\); add --layer features to update it, or overwrite it \(--overwrite\)/);
  await fail(['--overwrite'], /an update \(--update\) cannot be combined with overwrite, resume or a shard \(--overwrite, --resume, --shard\)/);
  const shard = path.join(work, 'one-shard');
  json(await runCli(['extract', root, '-o', shard, '--shard', '0/2', '--json', ...tiny()]));
  await fail([], /holds shard 0\/2 only; merge the shards/, shard);
  const partial = path.join(work, 'partial');
  await fsp.mkdir(partial);
  await fsp.writeFile(path.join(partial, '.cnnfeat-plan.json'), '{}');
  await fail([], /holds an unfinished extraction; complete it \(--resume\) before updating it/, partial);
  // An empty output folder gets a plain extraction, counted as all added.
  const empty = json<ExtractJson>(await runCli(['extract', root, '-o', path.join(work, 'new-feat'), '--update', '--json', ...tiny()]));
  assert.equal(empty.update?.added, 23);
  assert.equal(empty.update?.kept, 0);
});
