// Model selection, class weights, gates and top-k: the library functions and the CLI.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { balancedClassWeights } from '../dist/classifiers/common/class-weights.js';
import { DEFAULT_GRID, gridPoints, parseGrid } from '../dist/classifiers/selection/grid.js';
import { stratifiedFolds } from '../dist/classifiers/selection/splits.js';
import { selectModel } from '../dist/classifiers/selection/svc-search.js';
import { predictSvm, trainSvm } from '../dist/classifiers/svc/svm.js';
import { CnnfeatError } from '../dist/errors.js';
import { blobSets } from './feature-fixtures.js';
import { json, makeColourDataset, makeTinyModel, runCli, rng, type TrainOut } from './helpers.js';

test('parseGrid: readable syntax, defaults for keys not given, clear errors', () => {
  const g = parseGrid('kernel=linear,rbf; C=0.1,1,10 ;scale=none,l2;gamma=scale,0.01');
  assert.deepEqual(g, { kernel: ['linear', 'rbf'], C: [0.1, 1, 10], scale: ['none', 'l2'], gamma: ['scale', 0.01] });
  assert.deepEqual(parseGrid('C=1'), { ...DEFAULT_GRID, C: [1] });
  assert.equal(gridPoints(DEFAULT_GRID).length, 30);
  assert.equal(gridPoints(g).length, 2 * (3 + 3 * 2), 'linear ignores gamma');
  for (const [bad, pattern] of <[string, RegExp][]>[
    ['kernel=poly', /kernel=poly is not a kernel/],
    ['C=0', /C=0 is not a positive number/],
    ['C=abc', /C=abc/],
    ['depth=3', /unknown key "depth"/],
    ['C=1;C=2', /C is given twice/],
    ['scale=', /scale has no values/],
  ]) {
    assert.throws(() => parseGrid(bad), (err) => err instanceof CnnfeatError && err.exitCode === 2 && pattern.test(err.message), bad);
  }
});

test('stratifiedFolds: seeded, every fold gets its share of every class, sizes differ by at most one', () => {
  const labels = [...Array(23).fill(0), ...Array(12).fill(1), ...Array(5).fill(2)];
  const folds = stratifiedFolds(labels, 5, 7);
  assert.deepEqual(stratifiedFolds(labels, 5, 7), folds, 'same seed, same folds');
  assert.notDeepEqual(stratifiedFolds(labels, 5, 8), folds, 'another seed shuffles differently');
  const sizes = [0, 1, 2, 3, 4].map((f) => folds.filter((x) => x === f).length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `fold sizes ${sizes}`);
  for (const c of [0, 1, 2]) {
    const perFold = [0, 1, 2, 3, 4].map((f) => labels.filter((l, i) => l === c && folds[i] === f).length);
    assert.ok(Math.max(...perFold) - Math.min(...perFold) <= 1, `class ${c} per fold ${perFold}`);
  }
  assert.throws(() => stratifiedFolds([0, 1], 3, 0), /between 2 and 2/);
});

/** Two classes in 2-d: a disc (class 0) inside a ring (class 1): no line separates them. */
function ring(n: number, seed: number) {
  const rand = rng(seed);
  const X = new Float32Array(2 * n);
  const y = Array.from({ length: n }, (_, i) => i % 2);
  y.forEach((c, i) => {
    const r = c === 0 ? rand() : 2 + rand();
    const a = 2 * Math.PI * rand();
    X[2 * i] = r * Math.cos(a);
    X[2 * i + 1] = r * Math.sin(a);
  });
  return { X, y, n, d: 2 };
}

test('selectModel: scores the grid on training rows only, picks a setting that fits, deterministic', async () => {
  const { X, y, n, d } = ring(90, 3);
  const grid = parseGrid('kernel=linear,rbf;C=0.001,1;scale=none,standard');
  const a = await selectModel(X, n, d, y, 2, { grid, folds: 3, seed: 1, threads: 2 });
  const b = await selectModel(X, n, d, y, 2, { grid, folds: 3, seed: 1, threads: 1 });
  assert.deepEqual(a.results.map((r) => r.folds), b.results.map((r) => r.folds), 'seeded: same fold scores, in worker threads or not');
  assert.equal(a.results.length, 8);
  assert.equal(a.scoring, 'balanced_accuracy');
  const best = a.results[a.best];
  assert.equal(best.rank, 1);
  assert.ok(a.results.every((r) => r.mean <= best.mean && r.folds.length === 3));
  assert.equal('kernel' in best.params && best.params.kernel, 'rbf', 'no line separates a disc from a ring');
  assert.ok(best.mean > 0.95, `best CV score ${best.mean}`);
  const linear = a.results.filter((r) => 'kernel' in r.params && r.params.kernel === 'linear');
  assert.ok(linear.every((r) => r.mean < 0.8), `linear scores ${linear.map((r) => r.mean)}`);
  for (const r of a.results) {
    const mean = r.folds.reduce((s, v) => s + v, 0) / 3;
    assert.ok(Math.abs(r.mean - mean) < 1e-12);
  }
});

test('class weights: the sklearn formula; balanced weights recover the minority class', async () => {
  assert.deepEqual(balancedClassWeights([0, 0, 0, 1], 3), [4 / (2 * 3), 4 / (2 * 1), 1]);
  // 95 vs 5 overlapping samples: unweighted, the minority class is mostly swallowed.
  const { train, test } = blobSets({ counts: [95, 5], heldOut: 200, d: 2, k: 2, sep: 1, seed: 5 });
  const recall1 = async (classWeight: 'none' | 'balanced') => {
    const model = await trainSvm(train.X, train.n, train.d, train.y, ['a', 'b'], { kernel: 'linear', C: 1, gamma: 'scale', scale: 'none', classWeight });
    assert.equal(model.options.classWeight, classWeight);
    const { labels } = await predictSvm(model, test.X, test.n, test.d);
    return test.y.filter((c, i) => c === 1 && labels[i] === 1).length / test.y.filter((c) => c === 1).length;
  };
  const plain = await recall1('none');
  const balanced = await recall1('balanced');
  assert.ok(balanced > plain + 0.2, `minority recall: none ${plain}, balanced ${balanced}`);
});

let work: string;
let feat: string;
let tinyModel: string;
let imagesDir: string;

before(async () => {
  work = await fsp.mkdtemp(path.join((await import('node:os')).tmpdir(), 'cnnfeat-cv-'));
  process.on('exit', () => import('node:fs').then((fs) => fs.rmSync(work, { recursive: true, force: true })));
  const model = (tinyModel = await makeTinyModel(path.join(work, 'tiny')));
  const images = (imagesDir = await makeColourDataset(path.join(work, 'images'), { perClass: 10 }));
  feat = path.join(work, 'feat');
  json(await runCli(['extract', images, '-o', feat, '--model', model, '--preprocess', 'none', '--json', '--quiet']));
});

test('train: cross-validation by default over svc and the linear classifiers, a single fit with --kernel/--C, the CV table in the classifier file', async () => {
  const cvFile = path.join(work, 'cv.json');
  const cv = json<TrainOut>(await runCli(['train', feat, '-o', cvFile, '--json', '--quiet']));
  assert.equal(cv.selection.folds, 5);
  assert.equal(cv.selection.results.length, 54, '30 svc + 2 linear classifiers × 4 C × 3 scalings');
  assert.deepEqual([...new Set(cv.selection.results.map((r) => r.params.classifier))], ['svc', 'linear-svm', 'logistic']);
  const linearRows = new Set(cv.selection.results.filter((r) => r.params.classifier !== 'svc').map((r) => r.trainRows));
  assert.deepEqual([...linearRows], [16], 'linear fits train on 4 of the 5 folds of 20 rows');
  const stored = JSON.parse(await fsp.readFile(cvFile, 'utf8'));
  assert.deepEqual(stored.selection, cv.selection);
  const best = stored.selection.results[stored.selection.best].params;
  const chosen = stored.model.type === 'linear' ? stored.model.options.classifier : 'svc';
  assert.deepEqual({ classifier: chosen, C: stored.model.options.C, scale: stored.model.options.scale }, { classifier: best.classifier, C: best.C, scale: best.scale });
  assert.equal(stored.formatVersion, 2);

  const single = json<TrainOut>(await runCli(['train', feat, '-o', path.join(work, 'single.json'), '--kernel', 'rbf', '--C', '3', '--json', '--quiet']));
  assert.equal(single.selection, undefined);
  assert.deepEqual([single.classifier, single.options.kernel, single.options.C, single.options.scale], ['svc', 'rbf', 3, 'none']);

  // A classifier file of version 1 (the svc model under "svm") still loads and predicts identically.
  const v2 = JSON.parse(await fsp.readFile(path.join(work, 'single.json'), 'utf8'));
  const { model: svcModel, ...rest } = v2;
  await fsp.writeFile(path.join(work, 'v1.json'), JSON.stringify({ ...rest, formatVersion: 1, svm: svcModel }));
  const [now, before] = await Promise.all(['single.json', 'v1.json'].map(async (f) => json<{ path: string; label: string; score: number }[]>(await runCli(['predict', path.join(work, f), path.join(work, 'images'), '--json', '--quiet']))));
  assert.deepEqual(before, now);

  const grid = json<TrainOut>(await runCli(['train', feat, '-o', path.join(work, 'grid.json'), '--grid', 'kernel=linear;C=0.5,2', '--scale', 'l2', '--cv', '3', '--seed', '4', '--scoring', 'accuracy', '--json', '--quiet']));
  assert.deepEqual(grid.selection.results.map((r) => [r.params.kernel, r.params.C, r.params.scale]), [['linear', 0.5, 'l2'], ['linear', 2, 'l2']], 'a grid naming kernels is an svc grid');
  assert.deepEqual([grid.selection.folds, grid.selection.seed, grid.selection.scoring], [3, 4, 'accuracy']);

  const text = await runCli(['train', feat, '-o', path.join(work, 'text.json'), '--grid', 'kernel=linear;C=1;scale=none', '--quiet']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /5-fold stratified cross-validation \(balanced_accuracy, seed 0\)/);

  const bad = await runCli(['train', feat, '-o', path.join(work, 'x.json'), '--grid', 'kernel=poly']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.trim(), /^cnnfeat: --grid: kernel=poly is not a kernel/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('runPipeline: its seed seeds the split and the folds, as `run --seed` does', async () => {
  const { runPipeline } = await import('../dist/pipeline/run.js');
  const options = { model: tinyModel, preprocess: 'none' as const, report: false, train: { grid: 'kernel=linear;C=1;scale=none' } };
  const library = await runPipeline(imagesDir, path.join(work, 'run-lib'), { ...options, seed: 3 });
  assert.equal(library.selection?.seed, 3);
  const cli = await runCli(['run', imagesDir, '-o', path.join(work, 'run-cli'), '--model', tinyModel, '--preprocess', 'none', '--no-report', '--grid', 'kernel=linear;C=1;scale=none', '--seed', '3', '--quiet']);
  assert.equal(cli.code, 0, cli.stderr);
  const fromCli = JSON.parse(await fsp.readFile(path.join(work, 'run-cli', 'model.json'), 'utf8'));
  assert.deepEqual(fromCli.selection.results.map((r: { folds: number[] }) => r.folds), library.selection!.results.map((r) => r.folds), 'the same folds');
  assert.equal(fromCli.selection.seed, 3);
});

test('predict --top-k with a --probability classifier: ranked Platt probabilities', async () => {
  const clf = path.join(work, 'prob.json');
  json(await runCli(['train', feat, '-o', clf, '--kernel', 'linear', '--probability', '--json', '--quiet']));
  const images = path.join(work, 'images');
  const preds = json<{ label: string; score: number; scoreKind: string; top: { label: string; score: number }[] }[]>(await runCli(['predict', clf, path.join(images, 'red'), '--top-k', '2', '--json', '--quiet']));
  assert.equal(preds.length, 10);
  for (const p of preds) {
    assert.equal(p.scoreKind, 'probability');
    assert.equal(p.top.length, 2);
    assert.equal(p.top[0].label, p.label);
    assert.equal(p.top[0].score, p.score);
    assert.ok(p.top[0].score >= p.top[1].score);
    assert.ok(Math.abs(p.top[0].score + p.top[1].score - 1) < 1e-6, 'two-class probabilities sum to 1');
  }
  const text = await runCli(['predict', clf, path.join(images, 'red', 'img000.jpg'), '--top-k', '2', '--quiet']);
  assert.match(text.stdout, /img000\.jpg\tred 0\.\d{3}\tblue 0\.\d{3}/);
});

test('predict --top-k with an svc without probabilities: ranked decision values, said so in JSON and text', async () => {
  const clf = path.join(work, 'decision.json');
  json(await runCli(['train', feat, '-o', clf, '--kernel', 'linear', '--json', '--quiet']));
  const images = path.join(work, 'images');
  type Scored = { label: string; score: number; scoreKind: string; top: { label: string; score: number }[] };
  const preds = json<Scored[]>(await runCli(['predict', clf, images, '--top-k', '2', '--json', '--quiet']));
  assert.ok(preds.length >= 20);
  for (const p of preds) {
    assert.equal(p.scoreKind, 'decision');
    assert.deepEqual(p.top.map((c) => c.label).sort(), ['blue', 'red']);
    assert.equal(p.top[0].label, p.label, 'the prediction ranks first');
    assert.equal(p.top[0].score, p.score);
    assert.ok(p.score >= 0, 'two classes: the winner has the non-negative side of the decision value');
    assert.equal(p.top[1].score, -p.score, 'two classes: one decision value, the other class its negative');
  }
  assert.ok(new Set(preds.map((p) => p.score)).size > preds.length / 2, 'scores differ from image to image');
  const text = await runCli(['predict', clf, path.join(images, 'red', 'img000.jpg'), '--top-k', '2', '--quiet']);
  assert.match(text.stdout, /^# score: decision value \(/);
  assert.match(text.stdout, /\n\S+img000\.jpg\tred \d+\.\d+\tblue -\d+\.\d+\n$/);
  const probClf = path.join(work, 'prob-header.json');
  json(await runCli(['train', feat, '-o', probClf, '--kernel', 'linear', '--probability', '--json', '--quiet']));
  const prob = await runCli(['predict', probClf, path.join(images, 'red', 'img000.jpg'), '--quiet']);
  assert.match(prob.stdout, /^# score: probability \(libsvm's Platt scaling\)\n/);
});

test('gates: --min-balanced-accuracy and --min-class-recall fail with exit 3 and a one-line reason', async () => {
  const clf = path.join(work, 'gate.json');
  json(await runCli(['train', feat, '-o', clf, '--kernel', 'linear', '--json', '--quiet']));
  const pass = await runCli(['eval', clf, feat, '--min-balanced-accuracy', '0.9', '--min-class-recall', '0.9', '--quiet']);
  assert.equal(pass.code, 0, pass.stderr);
  // The same features with the two classes' labels swapped in samples.csv: every prediction is wrong.
  const swapped = path.join(work, 'swapped');
  await fsp.cp(feat, swapped, { recursive: true });
  const csv = await fsp.readFile(path.join(swapped, 'samples.csv'), 'utf8');
  await fsp.writeFile(path.join(swapped, 'samples.csv'), csv.replace(/,blue$/gm, ',tmp').replace(/,red$/gm, ',blue').replace(/,tmp$/gm, ',red'));
  const ba = await runCli(['eval', clf, swapped, '--min-balanced-accuracy', '0.5']);
  assert.equal(ba.code, 3);
  assert.match(ba.stderr.trim().split('\n').at(-1) ?? '', /^cnnfeat: balanced accuracy 0\.0000 is below --min-balanced-accuracy 0\.5$/);
  const recall = await runCli(['eval', clf, swapped, '--min-class-recall', '0.5', '--quiet']);
  assert.equal(recall.code, 3);
  assert.match(recall.stderr.trim(), /^cnnfeat: recall of 2 class\(es\) is below --min-class-recall 0\.5: blue 0\.0000, red 0\.0000$/);
  const badGate = await runCli(['eval', clf, feat, '--min-class-recall', '2']);
  assert.equal(badGate.code, 2);
});
