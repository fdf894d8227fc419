// `train` / `eval` / `run` with their defaults above 5,000 training rows (issue 10): the default
// never refuses and never crashes at a size svc cannot train; bad options are one line, exit 2;
// a signal during training leaves no classifier file. Small feature dimensions keep it fast.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Metrics } from '../dist/metrics/metrics.js';
import { blobs, blobSets, writeFeatureDir, type Blobs } from './feature-fixtures.js';
import { json, makeTinyModel, runCli, startCli, tempDir, writeImage, type TrainOut } from './helpers.js';

/** `n` rows of `k` overlapping classes in `d` dimensions (few, to keep the tests fast). */
function rows({ n, d = 8, k = 3, sep = 1.5, seed = 1 }: { n: number; d?: number; k?: number; sep?: number; seed?: number }): Blobs {
  return blobs({ n, d, k, sep, seed, offset: 2 });
}

test('train with defaults on 6,000 rows: successive halving over the linear classifiers, then eval and the report', async (t) => {
  const work = await tempDir(t, 'cnnfeat-scale-');
  const train = path.join(work, 'train');
  const held = path.join(work, 'test');
  const sets = blobSets({ n: 6000, heldOut: 600, d: 8, k: 3, sep: 1.5, offset: 2 });
  await writeFeatureDir(train, sets.train);
  await writeFeatureDir(held, sets.test);
  const clf = path.join(work, 'clf.json');
  const trained = json<TrainOut>(await runCli(['train', train, '-o', clf, '--json', '--quiet']));
  assert.ok(['linear-svm', 'logistic'].includes(trained.classifier), trained.classifier);
  assert.equal(trained.selection.method, 'halving');
  const rounds = trained.selection.results.map((r) => r.round);
  assert.equal(rounds.filter((r) => r === 1).length, 24, 'round 1: 2 classifiers × 4 C × 3 scalings');
  assert.equal(rounds.filter((r) => r === 2).length, 3, 'round 2: the best 3 on all rows');
  assert.equal(trained.selection.results[trained.selection.best].round, 2);
  const rowsOf = (round: number) => [...new Set(trained.selection.results.filter((r) => r.round === round).map((r) => r.trainRows!))];
  const [round1Rows, round2Rows] = [rowsOf(1), rowsOf(2)];
  assert.ok(round1Rows.length === 1 && Math.abs(round1Rows[0]! - 4000) <= 3, `round 1: 80 % of a 5,000-row subsample (per-class rounding), got ${round1Rows}`);
  assert.deepEqual(round2Rows, [4800], 'round 2: 80 % of all rows');
  const file = JSON.parse(await fsp.readFile(clf, 'utf8'));
  assert.equal(file.model.type, 'linear');
  assert.equal(Buffer.from(file.model.weights, 'base64').length, 3 * 8 * 4, 'weights: classes × dim float32');
  const m = json<Metrics>(await runCli(['eval', clf, held, '--json', '--report', path.join(work, 'report.html')]));
  assert.ok(m.accuracy > 0.8, `accuracy ${m.accuracy}`);
  const html = await fsp.readFile(path.join(work, 'report.html'), 'utf8');
  assert.match(html, /successive halving/);

  const svc = await runCli(['train', train, '-o', path.join(work, 'svc.json'), '--classifier', 'svc']);
  assert.equal(svc.code, 2);
  assert.match(svc.stderr.trim(), /^cnnfeat: classifier svc: training sets of \d+ rows exceed the 5000 .*--classifier linear-svm/);
  assert.equal(svc.stderr.trim().split('\n').length, 1);

  const logistic = json<TrainOut>(await runCli(['train', train, '-o', path.join(work, 'lr.json'), '--classifier', 'logistic', '--C', '1', '--scale', 'standard', '--json', '--quiet']));
  assert.deepEqual([logistic.classifier, logistic.options.C, logistic.options.scale, logistic.selection], ['logistic', 1, 'standard', undefined]);
  const validated = json<TrainOut>(await runCli(['train', train, '-o', path.join(work, 'v.json'), '--classifier', 'linear-svm', '--val-size', '0.25', '--grid', 'C=0.1,1', '--json', '--quiet']));
  assert.equal(validated.selection.method, 'holdout');
  assert.equal(validated.selection.valSize, 0.25);
  assert.equal(validated.selection.results.length, 6);
});

test('bad training options: one line naming the flag, exit 2', async (t) => {
  const work = await tempDir(t, 'cnnfeat-scale-bad-');
  const feat = path.join(work, 'feat');
  await writeFeatureDir(feat, rows({ n: 30 }));
  const out = path.join(work, 'x.json');
  const cases: [string[], RegExp][] = [
    [['--classifier', 'foo'], /^cnnfeat: --classifier must be one of auto, svc, linear-svm, logistic, got "foo"$/],
    [['--C', '0'], /^cnnfeat: --C must be a number > 0, got 0$/],
    [['--C', '-2', '--classifier', 'logistic'], /--C must be a number > 0, got -2$/],
    [['--C', 'abc'], /^cnnfeat: --C must be a number, got "abc"$/],
    [['--val-size', '1'], /^cnnfeat: --val-size must be a number in \(0, 1\), got 1$/],
    [['--val-size', '0'], /--val-size must be a number in \(0, 1\), got 0$/],
    [['--cv', '1'], /^cnnfeat: --cv must be an integer ≥ 2, got 1$/],
    [['--cv', '20'], /class "c0" has 10 row\(s\); cross-validation needs at least the number of folds \(--cv 20\); give fewer folds, add images of it, or give --C for a single fit$/],
    [['--max-iter', '2.5', '--classifier', 'logistic'], /^cnnfeat: --max-iter must be an integer ≥ 1, got 2.5$/],
    [['--seed', '-1'], /^cnnfeat: --seed must be an integer in \[0, 4294967295\], got -1$/],
    [['--loss', 'hinge', '--classifier', 'logistic'], /^cnnfeat: --loss applies to the classifier linear-svm only, not logistic$/],
    [['--grid', 'C=0'], /^cnnfeat: --grid: C=0 is not a positive number; e.g. --grid "kernel=linear,rbf;C=0.1,1,10;scale=none,l2"$/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(['train', feat, '-o', out, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), pattern, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, args.join(' '));
  }
  // An error raised in a fit pool's worker thread names the flag too.
  const many = path.join(work, 'many');
  await writeFeatureDir(many, rows({ n: 90, d: 4, k: 30 }));
  const weighted = await runCli(['train', many, '-o', out, '--class-weight', 'balanced']);
  assert.equal(weighted.code, 2, weighted.stderr);
  assert.match(weighted.stderr.trim().split('\n').at(-1)!, /^cnnfeat: training: balanced class weights \(--class-weight balanced\): too many classes \(30\)/);
  // NaN in the features; a single class.
  const bad = path.join(work, 'nan');
  await fsp.cp(feat, bad, { recursive: true });
  const npy = await fsp.readFile(path.join(bad, 'features.npy'));
  npy.writeFloatLE(NaN, 128 + 4 * (5 * 8 + 1));
  await fsp.writeFile(path.join(bad, 'features.npy'), npy);
  const nan = await runCli(['train', bad, '-o', out]);
  assert.equal(nan.code, 2);
  assert.match(nan.stderr.trim(), /nan\/features\.npy: non-finite feature value \(NaN\) in row 5, feature 1$/);
  const one = path.join(work, 'one');
  await writeFeatureDir(one, rows({ n: 12, k: 1 }));
  const single = await runCli(['train', one, '-o', out]);
  assert.equal(single.code, 2);
  assert.match(single.stderr.trim(), /a classifier needs at least 2 classes with images, found 1/);
  await assert.rejects(fsp.access(out), 'no classifier file written');
});

test('SIGINT and SIGTERM during training: exit 130 / 143, no classifier file', async (t) => {
  const work = await tempDir(t, 'cnnfeat-scale-sig-');
  const feat = path.join(work, 'feat');
  await writeFeatureDir(feat, rows({ n: 20000, d: 64, sep: 0.2 }));
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const out = path.join(work, `${signal}.json`);
    const child = startCli(['train', feat, '-o', out]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    await new Promise<void>((resolve) => child.stderr.once('data', () => resolve())); // training has started
    await new Promise((r) => setTimeout(r, 1500));
    child.kill(signal);
    const exit = await new Promise<number | null>((resolve) => child.on('close', (c: number | null) => resolve(c)));
    assert.equal(exit, code, stderr);
    assert.match(stderr, new RegExp(`${signal}: stopped; no classifier file was written`));
    assert.deepEqual((await fsp.readdir(work)).filter((f) => f.startsWith(signal)), [], 'nothing half-written');
  }
});

test('run with defaults on 5,400 generated images: extracts, trains a linear classifier, evaluates', async (t) => {
  const work = await tempDir(t, 'cnnfeat-scale-run-');
  const model = await makeTinyModel(path.join(work, 'tiny'));
  const colours: Record<string, [number, number, number]> = { red: [200, 40, 40], green: [40, 190, 50], blue: [40, 60, 210] };
  const perClass = 1800;
  for (const [name, rgb] of Object.entries(colours)) {
    for (let i = 0; i < perClass; i++) {
      await writeImage(path.join(work, 'images', name, `${i}.png`), { width: 4, height: 4, rgb, seed: i, format: 'png' });
    }
  }
  const out = path.join(work, 'out');
  const m = json<Metrics>(await runCli(['run', path.join(work, 'images'), '-o', out, '--model', model, '--preprocess', 'none', '--test-size', '0.05', '--no-report', '--json', '--quiet']));
  assert.ok(m.accuracy > 0.95, `accuracy ${m.accuracy}`);
  const clf = JSON.parse(await fsp.readFile(path.join(out, 'model.json'), 'utf8'));
  assert.equal(clf.model.type, 'linear');
  assert.ok(clf.trainedOn.rows > 5000, String(clf.trainedOn.rows));
  assert.equal(clf.selection.method, 'halving');
});

test('a signal during or after the write of the classifier file exits 130 saying the file is written', async (t) => {
  const dir = await tempDir(t, 'cnnfeat-scale-sigwrite-');
  const options = new URL('../dist/commands/options.js', import.meta.url).href;
  const log = new URL('../dist/util/log.js', import.meta.url).href;
  const scripts = {
    during: `process.kill(process.pid, 'SIGINT'); await new Promise((r) => setTimeout(r, 100)); console.log('write done');`,
    after: `console.log('write done');`,
  };
  for (const [when, body] of Object.entries(scripts)) {
    const file = path.join(dir, `${when}.mjs`);
    await fsp.writeFile(
      file,
      `const { exitOnSignal } = await import(${JSON.stringify(options)});
       const { createLogger } = await import(${JSON.stringify(log)});
       const signals = exitOnSignal(createLogger());
       await signals.finishing(async () => { ${body} }, 'model.json is written');
       process.kill(process.pid, 'SIGINT');
       await new Promise((r) => setTimeout(r, 5000));
       console.log('not stopped');`,
    );
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    assert.equal(r.status, 130, `${when}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'write done', when);
    assert.match(r.stderr, /SIGINT: stopped; model\.json is written/, when);
  }
});
