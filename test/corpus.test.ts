// The odd-and-broken-files corpus through `cnnfeat extract`: every decodable image exactly one
// row with its label, every broken file listed with a reason, no hang or duplicate through links.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { makeCorpus } from './corpus.js';
import { fileTempDir, makeColourDataset, makeTinyModel, manifestOf, runCli, tempDir, type CliResult } from './helpers.js';
import { parseCsv } from '../dist/features/csv.js';
import { decodeImage, readFeatureSet } from '../dist/index.js';

let work: string;
let model: string;
before(async () => {
  work = await fileTempDir('cnnfeat-corpus-');
  model = await makeTinyModel(path.join(work, 'tiny'));
});

const tiny = () => ['--model', model, '--preprocess', 'none', '--quiet'];
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

test('corpus of odd and broken files: one row per decodable image, reasons for the rest, labels in step', async (t) => {
  const root = path.join(work, 'corpus');
  const table = await makeCorpus(root);
  const out = path.join(work, 'corpus-feat');

  const r = await runCli(['extract', root, '-o', out, '--json', '--batch-size', '4', ...tiny()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /corpus: class folder\(s\) with no images: empty; they are recorded as classes without rows\n/, 'an empty class folder is a warning');
  const rows = table.filter((e) => e.outcome === 'row').map((e) => e.path).sort(byCodeUnits);
  const skipped = table.filter((e) => e.outcome === 'skipped').map((e) => e.path).sort(byCodeUnits);
  const ignored = table.filter((e) => e.outcome === 'ignored').map((e) => e.path).sort(byCodeUnits);

  const [header, ...lines] = parseCsv(await fsp.readFile(path.join(out, 'samples.csv'), 'utf8'));
  assert.deepEqual(header, ['row', 'path', 'label']);
  assert.deepEqual(lines.map((l) => l[1]), rows, 'exactly one row per decodable image, in scan order');
  assert.deepEqual(lines.map((l) => l[0]), rows.map((_, i) => String(i)));
  assert.deepEqual(lines.map((l) => l[2]), rows.map((p) => p.split('/')[0]), 'label = class folder');
  assert.equal((await fsp.stat(path.join(out, 'features.npy'))).size, 128 + rows.length * 8 * 4);

  const manifest = await manifestOf(out);
  assert.deepEqual(manifest.skipped.map((s) => s.path), skipped);
  for (const s of manifest.skipped) assert.ok(s.reason.length > 3, `${s.path} has a reason`);
  assert.match(manifest.skipped.find((s) => s.path === 'cats/bomb.png')?.reason ?? 'not skipped', /more than 268402689 pixels/);
  assert.deepEqual(manifest.ignored.map((s) => s.path).sort(byCodeUnits), ignored);
  for (const s of manifest.ignored) assert.match(s.reason, /loop/);
  assert.deepEqual(manifest.counts.perClass, { cats: rows.filter((p) => p.startsWith('cats/')).length, dogs: 3, empty: 0 });
  assert.deepEqual(manifest.classes, ['cats', 'dogs', 'empty']);
  assert.deepEqual(manifest.emptyClasses, ['empty'], 'the empty class is recorded');
  const stderrLines = r.stderr.split('\n');
  assert.ok(stderrLines.some((l) => l.includes(`${skipped.length} file(s) that could not be decoded`)), r.stderr);
  for (const p of [...skipped, ...ignored]) assert.ok(stderrLines.some((l) => l.includes(`  ${p}: `)), `${p} summarised on stderr`);

  // Labels never shift: rows equal those of a clean extraction of the same files alone.
  const clean = path.join(work, 'clean');
  for (const p of ['cats/gray.jpg', 'cats/exif-orientation-6.jpg', 'cats/x.jpg/inside.png', 'dogs/dog0.jpg', 'dogs/dog2.jpg']) {
    await fsp.mkdir(path.dirname(path.join(clean, p)), { recursive: true });
    await fsp.copyFile(path.join(root, p), path.join(clean, p));
  }
  assert.equal((await runCli(['extract', clean, '-o', path.join(work, 'clean-feat'), ...tiny()])).code, 0);
  const all = await readFeatureSet(out);
  const few = await readFeatureSet(path.join(work, 'clean-feat'));
  assert.equal(few.rows, 5);
  for (const [i, p] of few.paths.entries()) {
    const j = all.paths.indexOf(p);
    assert.notEqual(j, -1, `${p} has a row`);
    assert.deepEqual(all.X.subarray(j * 8, j * 8 + 8), few.X.subarray(i * 8, i * 8 + 8), `row of ${p}`);
  }

  // EXIF orientation 6 comes out upright: red on top, blue at the bottom.
  const px = await decodeImage(path.join(root, 'cats/exif-orientation-6.jpg'), { width: 32, height: 32, resize: 'squash', kernel: 'linear' });
  const at = (x: number, y: number) => Array.from(px.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3));
  for (const x of [2, 16, 29]) {
    assert.ok(at(x, 3)[0]! > 180 && at(x, 3)[2]! < 80, `top is red at x=${x}: ${at(x, 3)}`);
    assert.ok(at(x, 28)[2]! > 180 && at(x, 28)[0]! < 80, `bottom is blue at x=${x}: ${at(x, 28)}`);
  }

  // --strict refuses the empty class folder, then stops at the first broken file in scan order, naming it.
  const strictEmpty = await runCli(['extract', root, '-o', path.join(work, 'corpus-strict'), '--strict', ...tiny()]);
  assert.equal(strictEmpty.code, 2);
  assert.match(strictEmpty.stderr, /^cnnfeat: .*corpus: class folder\(s\) with no images: empty; add images or remove the folder \(strict mode\)\n$/);
  await fsp.rmdir(path.join(root, 'empty'));
  const strict = await runCli(['extract', root, '-o', path.join(work, 'corpus-strict'), '--strict', '--batch-size', '4', ...tiny()]);
  assert.equal(strict.code, 2);
  assert.equal(strict.stderr.trim().split('\n').length, 1, strict.stderr);
  assert.ok(strict.stderr.includes(`${path.join(root, skipped[0]!)}: `), strict.stderr);
  assert.match(strict.stderr, /leave strict mode \(--strict\) off to skip it/);

  const reasons = new Map([...manifest.skipped, ...manifest.ignored].map((s) => [s.path, s.reason]));
  for (const e of table) {
    const outcome = e.outcome === 'row' ? `row ${lines.findIndex((l) => l[1] === e.path)}` : e.outcome === 'empty' ? 'warning; class without rows in the manifest (exit 2 with --strict)' : e.outcome;
    t.diagnostic(`${e.path} | ${e.what} | ${outcome}${reasons.has(e.path) ? ` (${reasons.get(e.path)})` : ''}`);
  }
});

test('a single class for training, no images at all, or an empty class with --strict: one-line errors with exit code 2', async (t) => {
  const dir = await tempDir(t);
  const oneLine = (r: CliResult, pattern: RegExp) => {
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  };
  const single = path.join(dir, 'single');
  await makeColourDataset(single, { perClass: 3 });
  await fsp.rm(path.join(single, 'blue'), { recursive: true });
  oneLine(await runCli(['run', single, '-o', path.join(dir, 'run'), ...tiny()]), /found 1 class folder\(s\) with images; a classifier needs at least 2/);
  assert.equal((await runCli(['extract', single, '-o', path.join(dir, 'single-feat'), ...tiny()])).code, 0, 'one class is fine for extraction');
  oneLine(await runCli(['train', path.join(dir, 'single-feat'), '-o', path.join(dir, 'm.json'), '--quiet']), /a classifier needs at least 2 classes with images, found 1 \(red\)/);

  const none = path.join(dir, 'none');
  await fsp.mkdir(path.join(none, 'a'), { recursive: true });
  await fsp.writeFile(path.join(none, 'a', 'notes.txt'), 'no images here');
  oneLine(await runCli(['extract', none, '-o', path.join(dir, 'none-feat'), ...tiny()]), /none: no images found; expected <dir>\/<class>\/<image>/);
  await fsp.mkdir(path.join(dir, 'bare'));
  oneLine(await runCli(['extract', path.join(dir, 'bare'), '-o', path.join(dir, 'bare-feat'), ...tiny()]), /bare: no images found/);

  const withEmpty = path.join(dir, 'with-empty');
  await makeColourDataset(withEmpty, { perClass: 2 });
  await fsp.mkdir(path.join(withEmpty, 'green'));
  oneLine(await runCli(['run', withEmpty, '-o', path.join(dir, 'run2'), '--strict', ...tiny()]), /class folder\(s\) with no images: green; add images or remove the folder \(strict mode\)\n$/);
  const withOneEmpty = path.join(dir, 'one-class-and-empty');
  await makeColourDataset(withOneEmpty, { perClass: 2 });
  await fsp.rm(path.join(withOneEmpty, 'blue'), { recursive: true });
  await fsp.mkdir(path.join(withOneEmpty, 'green'));
  oneLine(await runCli(['run', withOneEmpty, '-o', path.join(dir, 'run3'), ...tiny()]), /found 1 class folder\(s\) with images; a classifier needs at least 2/);
});
