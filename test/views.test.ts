// Mirrors (issue 18): flip test-time augmentation, mirrored training rows kept with their image in
// every fold, and the feature signature that refuses to mix fitting modes or TTA with old rows.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../dist/image/decode.js';
import { mirrorPixels } from '../dist/image/flip.js';
import { npyHeader } from '../dist/features/npy.js';
import { readFeatureIndex, readFeatureSet, type FeatureSet } from '../dist/features/reader.js';
import { settingsFromDisk, type ExtractSettings } from '../dist/features/schema.js';
import { extractFeatures } from '../dist/pipeline/extract.js';
import { trainClassifier } from '../dist/pipeline/train.js';
import { predictImages } from '../dist/pipeline/predict.js';
import { predictModel } from '../dist/classifiers/classifier.js';
import { stratifiedFolds, stratifiedHoldout, subsampleHoldout } from '../dist/classifiers/selection/splits.js';
import type { Metrics } from '../dist/metrics/metrics.js';
import { fileTempDir, json, makeTinyModel, manifestOf, relativeError, rng, runCli, type CliResult, type ExtractJson } from './helpers.js';

let work: string;
let model: string;
/** Two classes of 32×32 noise images (the tiny model's input size: decoding resizes nothing). */
let images: string;
/** The same files mirrored left to right, under the same names. */
let mirrored: string;
let files: string[];

before(async () => {
  work = await fileTempDir('cnnfeat-views-');
  model = await makeTinyModel(path.join(work, 'tiny'));
  images = path.join(work, 'images');
  mirrored = path.join(work, 'mirrored');
  const rand = rng(5);
  for (const [c, cls] of ['left', 'right'].entries()) {
    for (let i = 0; i < 4; i++) {
      // A bright band on one side, noise elsewhere: asymmetric, so an image and its mirror differ.
      const px = Buffer.from(Array.from({ length: 32 * 32 * 3 }, (_, k) => (Math.floor(k / 3) % 32 < 10 === (c === 0) ? 200 : 40) + Math.floor(rand() * 50)));
      const rel = path.join(cls, `img${i}.png`);
      await fsp.mkdir(path.join(images, cls), { recursive: true });
      await fsp.mkdir(path.join(mirrored, cls), { recursive: true });
      await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(path.join(images, rel));
      await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).flop().png().toFile(path.join(mirrored, rel));
    }
  }
  files = ['left', 'right'].flatMap((cls) => [0, 1, 2, 3].map((i) => path.join(images, cls, `img${i}.png`)));
});

const lib = (extra: object = {}) => ({ model, preprocess: 'none' as const, batchSize: 3, ...extra });
const tiny = () => ['--model', model, '--preprocess', 'none', '--quiet'];
const rowOf = (set: FeatureSet, i: number) => set.X.subarray(i * set.dim, (i + 1) * set.dim);

function assertFails(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

test('mirrorPixels reverses each row of RGB pixels; a mirrored file decodes to the mirror of the original', async () => {
  const px = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]); // 3 × 2 pixels
  assert.deepEqual([...mirrorPixels(px, 3)], [7, 8, 9, 4, 5, 6, 1, 2, 3, 16, 17, 18, 13, 14, 15, 10, 11, 12]);
  assert.throws(() => mirrorPixels(px, 4), /not rows of 4 RGB pixels/);
  const geometry = { width: 32, height: 32, resize: 'center-crop' as const, kernel: 'linear' as const };
  const original = await decodeImage(files[0]!, geometry);
  const flopped = await decodeImage(path.join(mirrored, 'left', 'img0.png'), geometry);
  assert.ok(mirrorPixels(original, 32).equals(flopped));
  assert.ok(!original.equals(flopped), 'the test images are not symmetric');
});

test('--tta flip: each row is the mean of the rows of the image and of a mirrored copy of its file', async () => {
  const tta = await extractFeatures(images, path.join(work, 'tta'), lib({ tta: 'flip' }));
  await extractFeatures(images, path.join(work, 'plain'), lib());
  await extractFeatures(mirrored, path.join(work, 'mirror'), lib());
  assert.equal(tta.manifest.settings.tta, 'flip');
  assert.equal(tta.rows, 8);
  const [t, a, b] = await Promise.all(['tta', 'plain', 'mirror'].map((d) => readFeatureSet(path.join(work, d))));
  assert.deepEqual(t!.paths, a!.paths);
  const mean = Float32Array.from(a!.X, (v, k) => (v + b!.X[k]!) / 2);
  assert.ok(relativeError(t!.X, mean) < 1e-5, `TTA rows vs the mean of the two passes: ${relativeError(t!.X, mean)}`);
  assert.ok(relativeError(t!.X, a!.X) > 1e-3, 'the mirror changes the features (else the test proves nothing)');
});

test('--augment flip: each image gives its row and its mirror\'s, marked in samples.csv; eval refuses such rows', async () => {
  const out = path.join(work, 'augmented');
  const r = await extractFeatures(images, out, lib({ augment: 'flip' }));
  assert.equal(r.rows, 16);
  assert.equal(r.manifest.counts.rows, 16);
  assert.deepEqual(r.manifest.counts.perClass, { left: 4, right: 4 }, 'perClass counts images');
  const { imagesPerSecond, seconds } = r.manifest.timings;
  assert.ok(Math.abs(imagesPerSecond * seconds - 8) < 1, `imagesPerSecond counts images: ${imagesPerSecond}/s over ${seconds} s`);
  const lines = (await fsp.readFile(path.join(out, 'samples.csv'), 'utf8')).trim().split('\n');
  assert.equal(lines[0], 'row,path,label,view');
  assert.deepEqual(lines.slice(1, 3), ['0,left/img0.png,left,original', '1,left/img0.png,left,flip']);
  const [aug, plain, mirror] = await Promise.all([out, path.join(work, 'plain'), path.join(work, 'mirror')].map((d) => readFeatureSet(d)));
  assert.deepEqual(aug!.views?.slice(0, 4), ['original', 'flip', 'original', 'flip']);
  for (let i = 0; i < 8; i++) {
    assert.ok(relativeError(rowOf(aug!, 2 * i), rowOf(plain!, i)) < 1e-5, `row ${2 * i}: the image`);
    assert.ok(relativeError(rowOf(aug!, 2 * i + 1), rowOf(mirror!, i)) < 1e-5, `row ${2 * i + 1}: its mirror`);
  }
  // A plain directory keeps the three columns older readers expect.
  assert.equal((await fsp.readFile(path.join(work, 'plain', 'samples.csv'), 'utf8')).split('\n')[0], 'row,path,label');
  const clf = path.join(work, 'aug-clf.json');
  assert.equal((await runCli(['train', out, '-o', clf, '--classifier', 'logistic', '--C', '1', '--quiet'])).code, 0);
  assertFails(await runCli(['eval', clf, out, '--quiet']), /augmented: holds mirrored rows \(extracted with --augment flip\), which would count each image twice/);
  assert.equal((await runCli(['eval', clf, path.join(work, 'plain'), '--quiet'])).code, 0);
});

test('predict uses the TTA its classifier was trained with (or --tta), and never augments', async () => {
  const ttaSet = await readFeatureSet(path.join(work, 'tta'));
  const plainSet = await readFeatureSet(path.join(work, 'plain'));
  const classifier = await trainClassifier(ttaSet, { classifier: 'logistic', C: 1 });
  assert.equal(classifier.features.tta, 'flip');
  const scores = (ps: Awaited<ReturnType<typeof predictImages>>) => ps.map((p) => ('score' in p ? p.score : NaN));
  const expected = async (set: FeatureSet) => Array.from((await predictModel(classifier.model, set.X, set.rows, set.dim)).scores);
  const order = (set: FeatureSet) => set.paths.map((p) => files.indexOf(path.join(images, p)));
  const byFile = (set: FeatureSet, values: number[]) => order(set).reduce<number[]>((acc, f, i) => ((acc[f] = values[i]!), acc), []);
  const withTta = scores(await predictImages(classifier, files, { batchSize: 3 }));
  const viaTta = byFile(ttaSet, await expected(ttaSet));
  const viaPlain = byFile(plainSet, await expected(plainSet));
  withTta.forEach((s, i) => assert.ok(Math.abs(s - viaTta[i]!) < 1e-5, `image ${i}: ${s} vs the TTA rows' ${viaTta[i]}`));
  assert.ok(withTta.some((s, i) => Math.abs(s - viaPlain[i]!) > 1e-4), 'the scores of plain rows differ (else the test proves nothing)');
  const without = scores(await predictImages(classifier, files, { tta: 'none' }));
  without.forEach((s, i) => assert.ok(Math.abs(s - viaPlain[i]!) < 1e-5, `--tta none, image ${i}`));
  // A classifier trained on mirrored rows predicts one row per image.
  const augmented = await trainClassifier(await readFeatureSet(path.join(work, 'augmented')), { classifier: 'logistic', C: 1 });
  assert.equal((await predictImages(augmented, files)).length, files.length);
});

test('stratified folds, holdouts and subsamples assign whole groups; groups of one change nothing', () => {
  const images = 41;
  const imageLabels = Array.from({ length: images }, (_, i) => i % 3);
  // Rows as `extract --augment flip` writes them: each image, then its mirror.
  const labels = imageLabels.flatMap((l) => [l, l]);
  const groups = imageLabels.flatMap((_, i) => [i, i]);
  const together = (fold: number[]) => groups.every((g, i) => fold[i] === fold[groups.indexOf(g)]);
  for (const seed of [0, 1, 7]) {
    const folds = stratifiedFolds(labels, 5, seed, groups);
    assert.ok(together(folds), `seed ${seed}: a group straddles folds`);
    for (let c = 0; c < 3; c++) {
      const perFold = [0, 1, 2, 3, 4].map((f) => folds.filter((x, i) => x === f && labels[i] === c).length);
      assert.ok(Math.max(...perFold) - Math.min(...perFold) <= 2, `stratified by images: ${perFold}`);
    }
    assert.ok(together(stratifiedHoldout(labels, 0.2, seed, groups)));
    const sub = subsampleHoldout(labels, 40, 0.2, seed, groups);
    assert.ok(together(sub));
    assert.equal(sub.filter((x) => x >= 0).length, 40, 'the subsample counts rows');
    const singles = Array.from({ length: labels.length }, (_, i) => i);
    assert.deepEqual(stratifiedFolds(labels, 5, seed, singles), stratifiedFolds(labels, 5, seed));
    assert.deepEqual(stratifiedHoldout(labels, 0.3, seed, singles), stratifiedHoldout(labels, 0.3, seed));
  }
  assert.throws(() => stratifiedFolds([0, 1], 2, 0, [0, 0]), /are one group .* but have different classes/);
});

/**
 * A finished feature directory of `images` images with random labels and random features, each
 * image followed by an exact copy of its row (a mirror with the same features): with `augment`,
 * the copy is the image's `flip` row; without, a separate file.
 */
async function writeTwinRows(dir: string, images: number, d: number, augment: boolean): Promise<void> {
  const rand = rng(11);
  const labels = Array.from({ length: images }, () => (rand() < 0.5 ? 'a' : 'b'));
  const X = new Float32Array(2 * images * d);
  for (let i = 0; i < images; i++) {
    for (let j = 0; j < d; j++) X[2 * i * d + j] = X[(2 * i + 1) * d + j] = rand() * 2 - 1;
  }
  const lines = labels.flatMap((l, i) => (augment ? [`${2 * i},${l}/${i}.jpg,${l},original`, `${2 * i + 1},${l}/${i}.jpg,${l},flip`] : [`${2 * i},${l}/${i}.jpg,${l}`, `${2 * i + 1},${l}/${i}m.jpg,${l}`]));
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'features.npy'), Buffer.concat([npyHeader(2 * images, d), Buffer.from(X.buffer)]));
  await fsp.writeFile(path.join(dir, 'samples.csv'), `row,path,label${augment ? ',view' : ''}\n${lines.join('\n')}\n`);
  const perClass = { a: labels.filter((l) => l === 'a').length * (augment ? 1 : 2), b: labels.filter((l) => l === 'b').length * (augment ? 1 : 2) };
  const settings = { model: 'generated', weightsDigest: 'sha256:generated', layer: 'features', pooled: false, pool: 'avg', preprocess: 'none', dim: d, input: { height: 8, width: 8 }, resize: 'center-crop', cropFraction: 1, resizeKernel: 'linear', tta: 'none', augment: augment ? 'flip' : 'none' };
  const manifest = {
    format: 'cnnfeat-features', formatVersion: 1, tool: { name: 'cnnfeat', version: 'test' }, createdAt: new Date(0).toISOString(), imageRoot: dir, settings,
    engine: { engine: 'onnx', version: 'test', threads: 1 }, classes: ['a', 'b'], counts: { rows: 2 * images, planned: images, skipped: 0, perClass },
    planDigest: 'sha256:generated', skipped: [], ignored: [], timings: { seconds: 0, imagesPerSecond: 0, resumed: false },
  };
  await fsp.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
}

test('mirrored rows never straddle folds: on labels that are noise, cross-validation stays at chance', async () => {
  // Rows that are copies of each other on both sides of a fold let a weakly regularised model
  // score its own training rows: the issue measured 0.93–0.95 CV against 0.79 on the test set.
  const grouped = path.join(work, 'twins-augmented');
  const loose = path.join(work, 'twins-separate');
  await writeTwinRows(grouped, 60, 200, true);
  await writeTwinRows(loose, 60, 200, false);
  const cv = async (dir: string) => {
    const clf = await trainClassifier(await readFeatureSet(dir, { shared: true }), { classifier: 'logistic', C: 1000, folds: 5, scale: 'none', threads: 1 });
    return clf.selection!.results[0]!.mean;
  };
  const separate = await cv(loose);
  const together = await cv(grouped);
  assert.ok(separate > 0.9, `rows split from their copies score ${separate} (the inflation this guards against)`);
  assert.ok(together < 0.75, `images kept with their mirrors score ${together}, about chance`);
});

test('the signature refuses to mix fitting modes, crop fractions and TTA, and says how to keep the old setting', async () => {
  const squash = path.join(work, 'squash');
  json<ExtractJson>(await runCli(['extract', images, '-o', squash, '--resize', 'squash', '--json', ...tiny()]));
  assertFails(await runCli(['extract', images, '-o', squash, '--resume', ...tiny()]), /squash is finished but was made with resize squash \(now center-crop\); add --resize squash to reuse it, or overwrite it \(--overwrite\)/);
  assertFails(await runCli(['extract', images, '-o', squash, '--update', ...tiny()]), /squash was made with resize squash \(now center-crop\); add --resize squash to update it, or overwrite it/);
  assertFails(await runCli(['extract', images, '-o', squash, '--resume', '--resize', 'squash', '--tta', 'flip', ...tiny()]), /made with tta none \(now flip\); add --tta none to reuse it/);
  assert.equal(json<ExtractJson>(await runCli(['extract', images, '-o', squash, '--resume', '--resize', 'squash', '--json', ...tiny()])).rows, 8);

  const cropped = path.join(work, 'crop-0.875');
  json<ExtractJson>(await runCli(['extract', images, '-o', cropped, '--crop-fraction', '0.875', '--json', ...tiny()]));
  assertFails(await runCli(['extract', images, '-o', cropped, '--resume', ...tiny()]), /made with cropFraction 0.875 \(now 1\); add --crop-fraction 0.875 to reuse it/);

  // An unfinished extraction started with other settings.
  const partial = path.join(work, 'partial');
  await fsp.mkdir(partial);
  const plan = { imageRoot: images, classes: ['left', 'right'], settings: (await manifestOf(squash)).settings, files: [], ignored: [] };
  await fsp.writeFile(path.join(partial, '.cnnfeat-plan.json'), JSON.stringify(plan));
  assertFails(await runCli(['extract', images, '-o', partial, '--resume', ...tiny()]), /cannot resume, it was started with resize squash \(now center-crop\); add --resize squash to continue it/);

  // Shards with and without TTA are not merged.
  const [s0, s1] = ['shard-0', 'shard-1'].map((d) => path.join(work, d));
  json<ExtractJson>(await runCli(['extract', images, '-o', s0, '--shard', '0/2', '--json', ...tiny()]));
  json<ExtractJson>(await runCli(['extract', images, '-o', s1, '--shard', '1/2', '--tta', 'flip', '--json', ...tiny()]));
  assertFails(await runCli(['merge', s0, s1, '-o', path.join(work, 'merged'), '--quiet']), /made with different settings than .*shard-0 \(tta none vs flip\)/);

  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--resize', 'squash', '--crop-fraction', '0.9', ...tiny()]), /--crop-fraction 0.9 applies to --resize center-crop only, not squash/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--crop-fraction', '0', ...tiny()]), /--crop-fraction must be a number in \(0, 1\]/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--tta', 'flip', '--augment', 'flip', ...tiny()]), /--augment flip adds nothing to --tta flip/);
  // The library names its own options; 1 crops nothing, whatever the mode.
  await assert.rejects(extractFeatures(images, path.join(work, 'x'), lib({ resize: 'squash', cropFraction: 0.9 })), /^CnnfeatError: cropFraction=0\.9 applies to resize=center-crop only, not squash; leave it out or add resize=center-crop$/);
  await assert.rejects(extractFeatures(images, path.join(work, 'x'), lib({ cropFraction: 0 })), /^CnnfeatError: cropFraction must be a number in \(0, 1\] .*, got 0$/);
  assert.equal((await extractFeatures(images, path.join(work, 'squash-1'), lib({ resize: 'squash', cropFraction: 1 }))).manifest.settings.cropFraction, 1);
});

test('directories written before crop fractions and TTA read as squash or cover crops without mirrors', async () => {
  const old = path.join(work, 'old');
  await fsp.cp(path.join(work, 'squash'), old, { recursive: true });
  const manifestFile = path.join(old, 'manifest.json');
  const manifest = JSON.parse(await fsp.readFile(manifestFile, 'utf8')) as { settings: Partial<ExtractSettings> & { kernel?: string } };
  const { cropFraction: _c, tta: _t, augment: _a, resizeKernel, ...rest } = manifest.settings;
  manifest.settings = { ...rest, kernel: resizeKernel };
  await fsp.writeFile(manifestFile, JSON.stringify(manifest));
  const index = await readFeatureIndex(old);
  assert.deepEqual([index.manifest.settings.resize, index.manifest.settings.cropFraction, index.manifest.settings.tta, index.manifest.settings.augment], ['squash', 1, 'none', 'none']);
  assert.equal(index.views, undefined);
  assert.deepEqual(settingsFromDisk({ ...rest, resize: 'center-crop' } as ExtractSettings).cropFraction, 1, 'an old center-crop covered the input: fraction 1');
  assertFails(await runCli(['extract', images, '-o', old, '--resume', ...tiny()]), /made with resize squash \(now center-crop\); add --resize squash to reuse it/);
  assert.equal(json<ExtractJson>(await runCli(['extract', images, '-o', old, '--resume', '--resize', 'squash', '--json', ...tiny()])).rows, 8);
});

test('run names the fitting and TTA in force; its test rows are never augmented', async () => {
  const data = path.join(work, 'split');
  for (const side of ['train', 'test']) await fsp.cp(images, path.join(data, side), { recursive: true });
  const out = path.join(work, 'run-out');
  const text = await runCli(['run', data, '-o', out, '--augment', 'flip', '--classifier', 'logistic', '--C', '1', '--no-report', ...tiny()]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^given split: 16 train \/ 8 test rows, 8-d features; fitting center-crop \(crop fraction 1, linear kernel\), tta none, augment flip$/m);
  assert.equal((await manifestOf(path.join(out, 'test'))).settings.augment, 'none');
  const tta = await runCli(['run', data, '-o', path.join(work, 'run-tta'), '--tta', 'flip', '--resize', 'squash', '--classifier', 'logistic', '--C', '1', '--no-report', ...tiny()]);
  assert.match(tta.stdout, /; fitting squash \(linear kernel\), tta flip$/m);
  const metrics = json<Metrics>(await runCli(['run', data, '-o', path.join(work, 'run-tta'), '--resume', '--tta', 'flip', '--resize', 'squash', '--classifier', 'logistic', '--C', '1', '--no-report', '--json', ...tiny()]));
  assert.equal(metrics.counts.total, 8);
});

test('a model card names its own fitting (models add --resize, --crop-fraction); options override it', async () => {
  const env = { CNNFEAT_CACHE: path.join(work, 'cache') };
  const add = (...args: string[]) => runCli(['models', 'add', ...args, '--preprocess', 'none', '--quiet'], { env });
  assert.equal((await add('tiny-crop', model, '--crop-fraction', '0.875')).code, 0);
  assert.equal((await add('tiny-squash', model, '--resize', 'squash')).code, 0);
  assertFails(await add('tiny-bad', model, '--resize', 'letterbox', '--crop-fraction', '0.9'), /--crop-fraction 0\.9 applies to --resize center-crop only, not letterbox; leave it out or add --resize center-crop/);
  assertFails(await add('tiny-bad', model, '--crop-fraction', '1.5'), /--crop-fraction must be a number in \(0, 1\] \(0\.875: torchvision's Resize\(256\) \+ CenterCrop\(224\); timm's crop_pct\), got 1\.5/);
  const settings = async (id: string, ...extra: string[]) => {
    const out = path.join(work, `card-${id}-${extra.join('')}`);
    const r = await runCli(['extract', images, '-o', out, '--model', id, '--quiet', ...extra], { env });
    assert.equal(r.code, 0, r.stderr);
    const s = (await manifestOf(out)).settings;
    return `${s.resize} ${s.cropFraction}`;
  };
  assert.equal(await settings('tiny-crop'), 'center-crop 0.875');
  assert.equal(await settings('tiny-crop', '--crop-fraction', '1'), 'center-crop 1');
  assert.equal(await settings('tiny-crop', '--resize', 'letterbox'), 'letterbox 1');
  assert.equal(await settings('tiny-squash'), 'squash 1');
  assert.equal(await settings('tiny-squash', '--resize', 'center-crop'), 'center-crop 1');
});

test('mirrored rows through shards + merge, --update and an interrupted --resume equal one plain run', async () => {
  const whole = path.join(work, 'aug-whole');
  await extractFeatures(images, whole, lib({ augment: 'flip' }));
  const same = async (dir: string, what: string) => {
    for (const name of ['features.npy', 'samples.csv']) {
      assert.ok((await fsp.readFile(path.join(dir, name))).equals(await fsp.readFile(path.join(whole, name))), `${what}: ${name}`);
    }
  };
  // Shards and merge.
  const shards = [0, 1].map((i) => path.join(work, `aug-shard-${i}`));
  for (const [i, dir] of shards.entries()) await extractFeatures(images, dir, lib({ augment: 'flip', shard: { index: i, count: 2 } }));
  assert.equal(json<{ rows: number }>(await runCli(['merge', ...shards, '-o', path.join(work, 'aug-merged'), '--json', '--quiet'])).rows, 16);
  await same(path.join(work, 'aug-merged'), 'merge');
  // An interrupted extraction (stopped after its first batch), resumed.
  const resumed = path.join(work, 'aug-resumed');
  const controller = new AbortController();
  const stopAfterFirst = { info() {}, warn() {}, progress: () => ({ update: () => controller.abort(130), stop() {} }) };
  await assert.rejects(extractFeatures(images, resumed, lib({ augment: 'flip', signal: controller.signal, logger: stopAfterFirst })), /interrupted; 6 rows are saved/);
  await extractFeatures(images, resumed, lib({ augment: 'flip', resume: true }));
  await same(resumed, 'resume');
  // --update: one image more, one less.
  const grown = path.join(work, 'grown');
  await fsp.cp(images, grown, { recursive: true });
  const updated = path.join(work, 'aug-updated');
  await extractFeatures(grown, updated, lib({ augment: 'flip' }));
  await fsp.rm(path.join(grown, 'left', 'img3.png'));
  await fsp.copyFile(path.join(mirrored, 'right', 'img0.png'), path.join(grown, 'right', 'img9.png'));
  const r = json<ExtractJson>(await runCli(['extract', grown, '-o', updated, '--update', '--augment', 'flip', '--batch-size', '3', '--json', ...tiny()]));
  assert.deepEqual(r.update, { added: 1, changed: 0, removed: 1, kept: 7 });
  const { timings } = await manifestOf(updated);
  assert.ok(Math.abs(timings.imagesPerSecond * timings.seconds - 1) < 0.5, `imagesPerSecond counts the one image decoded: ${timings.imagesPerSecond}/s over ${timings.seconds} s`);
  const fresh = path.join(work, 'aug-fresh');
  await extractFeatures(grown, fresh, lib({ augment: 'flip' }));
  for (const name of ['features.npy', 'samples.csv']) {
    assert.ok((await fsp.readFile(path.join(updated, name))).equals(await fsp.readFile(path.join(fresh, name))), `update: ${name}`);
  }
});
