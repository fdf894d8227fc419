import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CnnfeatError } from '../dist/errors.js';
import { assertUsableDataset, collectImages, scanDataset, type Dataset, type Sample } from '../dist/dataset/scan.js';
import { findGivenSplit, stratifiedSplit } from '../dist/dataset/split.js';
import { recordingLogger, tempDir, writeImage } from './helpers.js';

async function touch(file: string, content = 'x'): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, content);
}

test('scan: classes are first-level folders; nested, upper-case, hidden, non-image and linked entries handled', async (t) => {
  const root = await tempDir(t);
  await touch(path.join(root, 'cats', 'b.jpg'));
  await touch(path.join(root, 'cats', 'A.JPEG'));
  await touch(path.join(root, 'cats', 'deep', 'er', 'c.PNG'));
  await touch(path.join(root, 'cats', '.hidden.jpg'));
  await touch(path.join(root, 'cats', 'notes.txt'));
  await touch(path.join(root, 'cats', 'Thumbs.db'));
  await touch(path.join(root, 'dogs', 'ä ö space.webp'));
  await touch(path.join(root, 'dogs', 'x.tif'));
  await fsp.mkdir(path.join(root, 'dogs', 'folder.jpg'));
  await touch(path.join(root, '.git', 'hidden.jpg'));
  await touch(path.join(root, 'stray.jpg'));
  await fsp.symlink('..', path.join(root, 'cats', 'loop')); // cats/loop -> root: must not loop or duplicate
  await fsp.symlink(path.join(root, 'cats', 'b.jpg'), path.join(root, 'cats', 'deep', 'alias.jpg')); // same file twice in a class
  await fsp.symlink(path.join(root, 'cats', 'b.jpg'), path.join(root, 'dogs', 'also-a-dog.jpg')); // and in another class

  const ds = await scanDataset(root);
  assert.deepEqual(ds.classes, ['cats', 'dogs']);
  assert.deepEqual(
    ds.samples.map((s) => s.relPath),
    ['cats/A.JPEG', 'cats/b.jpg', 'cats/deep/er/c.PNG', 'dogs/also-a-dog.jpg', 'dogs/x.tif', 'dogs/ä ö space.webp'],
  );
  assert.deepEqual(ds.samples.map((s) => s.label), ['cats', 'cats', 'cats', 'dogs', 'dogs', 'dogs']);
  assert.equal(ds.samples[0].file, path.join(root, 'cats', 'A.JPEG'));
  assert.deepEqual(await scanDataset(root), ds, 'a second scan is identical');
});

test('scan: a linked class folder is followed; an empty class is refused only in strict mode; empty datasets are clear errors', async (t) => {
  const root = await tempDir(t);
  const elsewhere = await tempDir(t);
  await touch(path.join(elsewhere, 'one.jpg'));
  await fsp.mkdir(path.join(root, 'empty'));
  await fsp.symlink(elsewhere, path.join(root, 'linked'));
  const ds = await scanDataset(root);
  assert.deepEqual(ds.classes, ['empty', 'linked']);
  assert.deepEqual(ds.emptyClasses, ['empty']);
  assert.deepEqual(ds.samples.map((s) => s.relPath), ['linked/one.jpg']);
  const { logger, warnings } = recordingLogger();
  assertUsableDataset(ds, { logger });
  assert.deepEqual(warnings, [`${root}: class folder(s) with no images: empty; they are recorded as classes without rows`]);
  const usageError = (pattern: RegExp) => (e: unknown) => e instanceof CnnfeatError && e.exitCode === 2 && pattern.test(e.message);
  assert.throws(() => assertUsableDataset(ds, { strict: true }), usageError(/no images: empty; add images or remove the folder \(strict mode\)/));
  assert.throws(() => assertUsableDataset(ds, { minClasses: 2 }), usageError(/found 1 class folder\(s\) with images/));

  const none = await tempDir(t);
  await assert.rejects(async () => assertUsableDataset(await scanDataset(none)), /no images found/);
  await assert.rejects(scanDataset(path.join(none, 'missing')), /missing: no such folder/);
  const single = await tempDir(t);
  await touch(path.join(single, 'only', 'a.jpg'));
  const singleDs = await scanDataset(single);
  assertUsableDataset(singleDs);
  assert.throws(() => assertUsableDataset(singleDs, { minClasses: 2 }), usageError(/at least 2/));
});

test('scan: links above the root are loops (reported, not followed); root-level images and broken links are reported', async (t) => {
  const root = await tempDir(t);
  await touch(path.join(root, 'ants', 'a.jpg'));
  await touch(path.join(root, 'bees', 'b.jpg'));
  await touch(path.join(root, 'stray.jpg'));
  await fsp.symlink('../..', path.join(root, 'ants', 'up')); // the folder holding the dataset
  await fsp.symlink('nowhere.jpg', path.join(root, 'bees', 'dangling.jpg'));
  await fsp.symlink('bees', path.join(root, 'bees_again')); // a class linked to another class
  const ds = await scanDataset(root);
  assert.deepEqual(ds.classes, ['ants', 'bees', 'bees_again']);
  assert.deepEqual(ds.samples.map((s) => `${s.label}:${s.relPath}`), ['ants:ants/a.jpg', 'bees:bees/b.jpg', 'bees_again:bees_again/b.jpg']);
  assert.deepEqual(ds.ignored.map((i) => i.path).sort(), ['ants/up', 'bees/dangling.jpg', 'bees_again/dangling.jpg', 'stray.jpg']);
  assert.match(ds.ignored.find((i) => i.path === 'ants/up')?.reason ?? 'not ignored', /loop/);
});

test('scan: each class walks its own links, so a shared linked folder labels images in every class that links it', async (t) => {
  const base = await tempDir(t);
  const root = path.join(base, 'ds');
  await touch(path.join(base, 'ext', 'e.jpg'));
  await touch(path.join(base, 'ext', 'sub', 's.jpg'));
  await touch(path.join(root, 'a', 'a.jpg'));
  await touch(path.join(root, 'b', 'b.jpg'));
  await fsp.symlink('../../ext/sub', path.join(root, 'a', 'extsub'));
  await fsp.symlink('../../ext', path.join(root, 'b', 'ext'));
  await fsp.symlink('.', path.join(root, 'self')); // a "class" that is the dataset itself
  const ds = await scanDataset(root);
  assert.deepEqual(ds.classes, ['a', 'b']);
  assert.deepEqual(ds.samples.map((s) => s.relPath), ['a/a.jpg', 'a/extsub/s.jpg', 'b/b.jpg', 'b/ext/e.jpg', 'b/ext/sub/s.jpg']);
  assert.deepEqual(ds.ignored.map((i) => i.path), ['self']);
});

test('collectImages expands folders recursively and keeps files', async (t) => {
  const root = await tempDir(t);
  await touch(path.join(root, 'a', 'x.jpg'));
  await touch(path.join(root, 'b.png'));
  await touch(path.join(root, 'c.txt'));
  const files = await collectImages([root, path.join(root, 'c.txt')]);
  assert.deepEqual(files, [path.join(root, 'a', 'x.jpg'), path.join(root, 'b.png'), path.join(root, 'c.txt')]);
  await assert.rejects(collectImages([path.join(root, 'nope')]), /no such file/);
});

test('stratified split: deterministic for a seed, per-class proportions, both sides non-empty', async () => {
  const samples: Sample[] = [];
  for (const label of ['a', 'b']) for (let i = 0; i < (label === 'a' ? 10 : 3); i++) samples.push({ file: `${label}${i}`, relPath: `${label}/${i}.jpg`, label });
  const ds: Dataset = { root: '/x', classes: ['a', 'b'], samples, emptyClasses: [], ignored: [] };
  const one = stratifiedSplit(ds, 0.2, 0);
  assert.deepEqual(stratifiedSplit(ds, 0.2, 0), one);
  assert.notDeepEqual(stratifiedSplit(ds, 0.2, 1).test, one.test);
  const count = (side: Dataset, label: string) => side.samples.filter((s) => s.label === label).length;
  assert.equal(count(one.test, 'a'), 2);
  assert.equal(count(one.test, 'b'), 1);
  assert.equal(one.train.samples.length + one.test.samples.length, 13);
  const lone: Dataset = { ...ds, classes: ['a', 'b', 'c'], samples: [...samples, { file: 'c0', relPath: 'c/0.jpg', label: 'c' }] };
  for (const testSize of [0.2, 0.5, 0.9]) {
    assert.equal(count(stratifiedSplit(lone, testSize, 0).train, 'c'), 1, 'a single-image class stays in training');
  }
  assert.equal(new Set([...one.train.samples, ...one.test.samples].map((s) => s.relPath)).size, 13);
});

test('findGivenSplit recognises train/ with test/ or val/', async (t) => {
  const root = await tempDir(t);
  assert.equal(await findGivenSplit(root), null);
  await writeImage(path.join(root, 'train', 'a', '1.jpg'));
  await writeImage(path.join(root, 'val', 'a', '1.jpg'));
  assert.deepEqual(await findGivenSplit(root), { train: path.join(root, 'train'), test: path.join(root, 'val') });
});
