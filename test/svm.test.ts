// Tests of the libsvm-js based SVM classifier (svc), compiled with the other tests by tsc.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { predictSvm, resolveGamma, trainSvm, type SvmModel, type SvmOptions } from '../dist/classifiers/svc/svm.js';
import { CnnfeatError } from '../dist/errors.js';
import { blobSets, type BlobOptions } from './feature-fixtures.js';
import { rng, ROOT } from './helpers.js';

const CLASSES = ['cat', 'dog', 'bird'];

/**
 * `k` blobs in `d` dimensions: a training and a held-out set from the same centres; samples are
 * in class order round-robin starting at `firstClass` so that the first sample is not always class 0.
 */
function blobs({ n = 60, nTest = 30, ...o }: BlobOptions & { nTest?: number } = {}) {
  const { train, test } = blobSets({ n, heldOut: nTest, d: 16, sep: 4, firstClass: 2, ...o });
  return { d: train.d, k: train.classes.length, train, test };
}

const accuracy = (pred: number[], truth: number[]) => pred.filter((l, i) => l === truth[i]).length / truth.length;
const BASE: SvmOptions = { kernel: 'linear', C: 1, gamma: 'scale', scale: 'none' };

for (const kernel of ['linear', 'rbf'] as const) {
  test(`${kernel} SVM separates 3 Gaussian blobs in 16-d (train and held-out accuracy 1.0)`, async () => {
    const { d, train, test: held } = blobs();
    const model = await trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, kernel });
    const onTrain = await predictSvm(model, train.X, 60, d);
    const onTest = await predictSvm(model, held.X, 30, d);
    assert.equal(accuracy(onTrain.labels, train.y), 1);
    assert.equal(accuracy(onTest.labels, held.y), 1);
    // Without probability, a score is votes + a margin term in (-1/3, 1/3): separable => the
    // winner won both of its duels, and the margins differ from sample to sample.
    for (const s of onTest.scores) assert.ok(s > 2 - 1 / 3 && s < 2 + 1 / 3, `score ${s}`);
    assert.ok(new Set(onTest.scores).size > 1);
  });
}

test('model is a plain JSON object with resolved options; classes keep ascending libsvm order', async () => {
  const { d, train } = blobs({ firstClass: 2 });
  assert.equal(train.y[0], 2, 'fixture starts with the last class');
  const model = await trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, kernel: 'rbf', gamma: 'auto', scale: 'standard' });
  assert.equal(model.type, 'svm');
  assert.deepEqual(model.classes, CLASSES);
  assert.deepEqual(model.options, { kernel: 'rbf', C: 1, gamma: 1 / 16, scale: 'standard', probability: false, classWeight: 'none' });
  assert.equal(model.trainedOn, 60);
  assert.equal(model.dim, 16);
  assert.equal(model.scaling.kind, 'standard');
  assert.equal(model.scaling.mean?.length, 16);
  assert.equal(model.scaling.std?.length, 16);
  assert.match(model.libsvm, /^svm_type c_svc\nkernel_type precomputed\nnr_class 3\n/);
  assert.equal(Buffer.from(model.supportVectors ?? '', 'base64').length, 4 * 16 * Number(/total_sv (\d+)/.exec(model.libsvm)?.[1]));
  assert.match(model.libsvm, /\nlabel 0 1 2\n/);
  assert.deepEqual(JSON.parse(JSON.stringify(model)), model);
});

test('JSON round-trip gives identical predictions (labels and scores)', async () => {
  const { d, train, test: held } = blobs({ seed: 3, sep: 1.2 });
  for (const probability of [false, true]) {
    const model = await trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, kernel: 'rbf', probability });
    const restored = JSON.parse(JSON.stringify(model));
    const before = await predictSvm(model, held.X, 30, d);
    const after = await predictSvm(restored, held.X, 30, d);
    assert.deepEqual(after, before);
  }
});

test('gamma: "scale" = 1/(D * var) of the scaled matrix, "auto" = 1/D, numbers kept; 6 significant digits', async () => {
  assert.equal(resolveGamma('auto', [], 16), 0.0625);
  assert.equal(resolveGamma('scale', [1, 3, 1, 3], 2), 0.5); // var = 1
  assert.equal(resolveGamma('scale', [2, 2, 2, 2], 2), 1); // var 0 => 1, as scikit-learn
  assert.equal(resolveGamma(0.1234567891, [], 2), 0.123457);
  const { d, train } = blobs();
  // After standard scaling every (non-constant) column has variance 1 => gamma = 1/D.
  const std = await trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, kernel: 'rbf', scale: 'standard' });
  assert.equal(std.options.gamma, 0.0625);
  let sum = 0;
  let sumSq = 0;
  for (const v of train.X) {
    sum += v;
    sumSq += v * v;
  }
  const variance = sumSq / train.X.length - (sum / train.X.length) ** 2;
  const raw = await trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, kernel: 'rbf' });
  assert.ok(Math.abs(raw.options.gamma - 1 / (d * variance)) < 1e-5 * raw.options.gamma);
});

test('standard scaling is fitted on training data and applied at predict time', async () => {
  // Large offset and gain: without standardisation the RBF kernel sees every point as far away.
  const { d, train, test: held } = blobs({ seed: 5, offset: 500, gain: 40 });
  const model = await trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, kernel: 'rbf', scale: 'standard' });
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < 60; i++) mean += train.X[i * d + j]! / 60;
    assert.ok(Math.abs(model.scaling.mean![j]! - mean) < 1e-3, `mean of feature ${j}`);
    assert.ok(model.scaling.std![j]! > 10, `std of feature ${j}`);
  }
  const scaled = await predictSvm(model, held.X, 30, d);
  assert.equal(accuracy(scaled.labels, held.y), 1);
  const unscaled = await predictSvm({ ...model, scaling: { kind: 'none' } }, held.X, 30, d);
  assert.ok(accuracy(unscaled.labels, held.y) < 0.7, 'dropping the scaling must hurt: it is really applied');
});

test('l2 scaling normalises rows at predict time (predictions invariant to row magnitude)', async () => {
  const { d, train, test: held } = blobs({ seed: 9, offset: 3 });
  const model = await trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, kernel: 'rbf', gamma: 2, scale: 'l2' });
  assert.deepEqual(model.scaling, { kind: 'l2' });
  const base = await predictSvm(model, held.X, 30, d);
  const stretched = held.X.map((v, idx) => v * (1 + 50 * (Math.floor(idx / d) % 3)));
  const again = await predictSvm(model, stretched, 30, d);
  assert.deepEqual(again.labels, base.labels);
  const raw = await predictSvm({ ...model, scaling: { kind: 'none' } }, stretched, 30, d);
  assert.notDeepEqual(raw.labels, base.labels, 'without l2 the stretched rows are classified differently');
});

test('probability mode: scores are Platt probabilities in [0, 1], at least 1/k for the predicted class', async () => {
  const { d, train, test: held } = blobs({ seed: 11, sep: 1 });
  const model = await trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, kernel: 'rbf', probability: true });
  assert.equal(model.options.probability, true);
  assert.match(model.libsvm, /\nprobA /);
  const { labels, scores } = await predictSvm(model, held.X, 30, d);
  assert.equal(labels.length, 30);
  for (const s of scores) assert.ok(s >= 1 / 3 - 1e-9 && s <= 1, `score ${s}`);
  assert.ok(new Set(scores).size > 1, 'probabilities vary from sample to sample');
  assert.ok(accuracy(labels, held.y) >= 0.8);
});

test('decision scores on overlapping classes: votes + a margin term, the winner has the most votes', async () => {
  // Heavily overlapping 5-class data (deterministic: some predicted classes lose one duel).
  const { d, train, test: held } = blobs({ n: 300, nTest: 200, d: 10, k: 5, sep: 0.3, seed: 13 });
  const classes = ['a', 'b', 'c', 'd', 'e'];
  for (const kernel of ['linear', 'rbf'] as const) {
    const model = await trainSvm(train.X, 300, d, train.y, classes, { ...BASE, kernel });
    const { labels, scores, classScores, scoreKind } = await predictSvm(model, held.X, 200, d);
    assert.equal(scoreKind, 'decision');
    assert.ok(accuracy(labels, held.y) < 0.8, 'fixture really overlaps');
    const votes = (s: number) => Math.round(s);
    classScores.forEach((row, i) => {
      // A round-robin winner wins at least half of its 4 duels; no class has more votes.
      assert.ok(votes(scores[i]!) >= 2 && votes(scores[i]!) <= 4, `winner's votes ${scores[i]}`);
      for (const s of row) assert.ok(votes(s) <= votes(scores[i]!) && Math.abs(s - votes(s)) <= 1 / 3 + 1e-12, `score ${s}`);
    });
    assert.ok(scores.some((s) => votes(s) < 4), `${kernel}: some predicted classes lose a duel`);
  }
});

test('classes without samples are kept in the model but never predicted', async () => {
  const { d, train } = blobs();
  const classes = ['cat', 'dog', 'bird', 'unused'];
  const model = await trainSvm(train.X, 60, d, train.y, classes, BASE);
  assert.deepEqual(model.classes, classes);
  const { labels } = await predictSvm(model, train.X, 60, d);
  assert.ok(!labels.includes(3));
});

/**
 * The same model as an ordinary linear/RBF libsvm text with inline support vectors, as
 * classifier files written before precomputed-kernel training hold it.
 */
function asNativeModel(model: SvmModel): SvmModel {
  const d = model.dim!;
  const sv = new Float32Array(new Uint8Array(Buffer.from(model.supportVectors!, 'base64')).buffer);
  const [header, body] = model.libsvm.split('\nSV\n');
  const kernelLines = model.options.kernel === 'rbf' ? `kernel_type rbf\ngamma ${model.options.gamma}` : 'kernel_type linear';
  const lines = body!.trim().split('\n').map((line, s) => {
    const coefs = line.trim().split(' ').slice(0, -1).join(' ');
    const values = Array.from(sv.subarray(s * d, (s + 1) * d), (v, j) => `${j + 1}:${v}`).join(' ');
    return `${coefs} ${values}`;
  });
  const { supportVectors: _vectors, ...rest } = model;
  return { ...rest, libsvm: `${header.replace('kernel_type precomputed', kernelLines)}\nSV\n${lines.join('\n')}\n` };
}

test('classifier files with an ordinary libsvm model (inline support vectors) predict the same', async () => {
  const { d, train, test: held } = blobs();
  for (const kernel of ['linear', 'rbf'] as const) {
    const model = await trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, kernel, scale: 'standard' });
    const native = asNativeModel(model);
    assert.match(native.libsvm, new RegExp(`kernel_type ${kernel}\n`));
    const a = await predictSvm(model, held.X, held.y.length, d);
    const b = await predictSvm(native, held.X, held.y.length, d);
    assert.deepEqual(b.labels, a.labels);
    b.scores.forEach((s, i) => assert.ok(Math.abs(s - a.scores[i]!) < 1e-9));
  }
});

test('models longer than SVM.load can take through the wasm stack still load and predict', async () => {
  // Random high-dimensional data: every sample is a support vector => ~1 MB of (ordinary) model text.
  const n = 150;
  const d = 600;
  const rand = rng(21);
  const X = Float32Array.from({ length: n * d }, () => rand());
  const y = Array.from({ length: n }, (_, i) => i % 3);
  const model = asNativeModel(await trainSvm(X, n, d, y, CLASSES, BASE));
  assert.ok(model.libsvm.length > 256 * 1024, `model text is ${model.libsvm.length} chars`);
  const restored = JSON.parse(JSON.stringify(model));
  const { labels } = await predictSvm(restored, X, n, d);
  assert.deepEqual(labels, y, 'n < d: the training set is linearly separable');
});

test('errors: a single class, shape mismatches, bad options and wrong dimensions are CnnfeatErrors (exit 2)', async () => {
  const { d, train } = blobs();
  const isUsage = (pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof CnnfeatError, `${err}`);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  };
  const oneClass = train.y.map(() => 1);
  await assert.rejects(trainSvm(train.X, 60, d, oneClass, CLASSES, BASE), isUsage(/at least 2 classes/));
  await assert.rejects(trainSvm(train.X, 59, d, train.y.slice(0, 59), CLASSES, BASE), isUsage(/expected 59 rows/));
  await assert.rejects(trainSvm(train.X, 60, d, train.y.slice(1), CLASSES, BASE), isUsage(/59 labels for 60 rows/));
  await assert.rejects(trainSvm(train.X, 60, d, train.y.map(() => 7), CLASSES, BASE), isUsage(/label 7/));
  await assert.rejects(trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, C: 0 }), isUsage(/C must be/));
  await assert.rejects(trainSvm(train.X, 60, d, train.y, CLASSES, { ...BASE, gamma: -1 }), isUsage(/gamma/));
  const withNaN = Float32Array.from(train.X);
  withNaN[5 * d + 2] = NaN;
  await assert.rejects(trainSvm(withNaN, 60, d, train.y, CLASSES, BASE), isUsage(/row 5, feature 2/));

  const model = await trainSvm(train.X, 60, d, train.y, CLASSES, BASE);
  await assert.rejects(predictSvm(model, train.X.subarray(0, 60 * 8), 60, 8), isUsage(/8 dimensions.*trained on 16/));
  await assert.rejects(predictSvm({ ...model, type: 'knn' } as unknown as SvmModel, train.X, 60, d), isUsage(/not an SVM model/));
  await assert.rejects(predictSvm({ ...model, libsvm: 'svm_type c_svc\ngarbage\nSV\n' }, train.X, 60, d), isUsage(/not a precomputed-kernel model/));
  const { supportVectors, ...withoutVectors } = model;
  await assert.rejects(predictSvm({ ...withoutVectors, libsvm: 'svm_type c_svc\ngarbage\nSV\n' }, train.X, 60, d), isUsage(/lacks "nr_class"/));
  await assert.rejects(predictSvm({ ...model, supportVectors: supportVectors!.slice(8) }, train.X, 60, d), isUsage(/corrupt model/));
  assert.deepEqual(await predictSvm(model, new Float32Array(0), 0, d), { labels: [], scores: [], classScores: [], scoreKind: 'decision' });
});

test('loading libsvm prints nothing and leaves no global side effects', () => {
  const script = `
    const before = process.listeners('unhandledRejection').length;
    const { trainSvm, predictSvm } = await import(${JSON.stringify(path.join(ROOT, 'dist/classifiers/svc/svm.js'))});
    const X = Float32Array.from([0, 0, 0, 1, 5, 5, 5, 6, 0, 9, 1, 9]);
    const model = await trainSvm(X, 6, 2, [0, 0, 1, 1, 2, 2], ['a', 'b', 'c'], { kernel: 'rbf', C: 1, gamma: 'scale', scale: 'standard', probability: true });
    const { labels } = await predictSvm(JSON.parse(JSON.stringify(model)), X, 6, 2);
    if (process.listeners('unhandledRejection').length !== before) throw new Error('listener left behind');
    if (typeof fetch !== 'function') throw new Error('fetch not restored');
    process.stdout.write(labels.join(','));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.stderr, '');
  assert.equal(child.status, 0);
  assert.equal(child.stdout, '0,0,1,1,2,2');
});

test('above 5,000 rows svc refuses in one line naming the linear classifiers (its n×n kernel matrix would not fit)', async () => {
  const d = 3;
  const y = Array.from({ length: 5001 }, (_, i) => i % 2);
  const X = new Float32Array(5001 * d).map((_, k) => (k % d === 0 ? 3 * y[Math.floor(k / d)]! : 0));
  await assert.rejects(trainSvm(X, 5001, d, y, ['a', 'b'], BASE), (err: unknown) => {
    assert.ok(err instanceof CnnfeatError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^classifier svc: training sets of 5001 rows exceed the 5000 .*classifier=linear-svm/);
    return true;
  });
});

test('low-dimensional sets (n > 64·d) train with the kernel of libsvm itself (an ordinary model) and predict in chunks', async () => {
  const rand = rng(3);
  const d = 3;
  const n = 1500;
  const y = Array.from({ length: n }, (_, i) => i % 2);
  const X = Float32Array.from({ length: n * d }, (_, k) => rand() - 0.5 + (k % d === 0 ? 3 * y[Math.floor(k / d)]! : 0));
  const model = await trainSvm(X, n, d, y, ['a', 'b'], BASE);
  assert.equal(model.supportVectors, undefined);
  assert.match(model.libsvm, /\nkernel_type linear\n/);
  const { labels, classScores } = await predictSvm(model, X, n, d);
  assert.equal(classScores.length, n);
  assert.equal(accuracy(labels, y), 1);
});

test('class weights of too many classes for libsvm-js options are refused on both training paths, not truncated', async () => {
  const classes = Array.from({ length: 30 }, (_, c) => `c${c}`);
  const labels = Array.from({ length: 90 }, (_, i) => i % 30);
  const features = (d: number) => Float32Array.from({ length: 90 * d }, (_, i) => Math.sin(i * 0.37) + (labels[Math.floor(i / d)] ?? 0) * 0.1);
  const opts: SvmOptions = { kernel: 'linear', C: 1, gamma: 'scale', scale: 'none', probability: false, classWeight: 'balanced' };
  await assert.rejects(trainSvm(features(16), 90, 16, labels, classes, opts), /balanced class weights \(classWeight=balanced\): too many classes \(30\)/, 'kernel-matrix path');
  await assert.rejects(trainSvm(features(1), 90, 1, labels, classes, opts), /balanced class weights \(classWeight=balanced\): too many classes \(30\)/, 'libsvm kernel path (n > 64·d)');
  const fewer = await trainSvm(features(16), 90, 16, labels.map((l) => l % 10), classes.slice(0, 10), opts);
  assert.equal(fewer.classes.length, 10, 'ten classes fit');
});
