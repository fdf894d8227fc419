// The linear classifiers (issue 10): each solver against its optimality conditions, agreement
// with libsvm's linear C-SVC, determinism, the training policy and its refusals, the oracle that
// cross-validation fold scores equal plain fits on the same rows (issue 12 item 4).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTrainOptions, describeModel, planTraining, predictModel, scoreKindOf, scoreMeaning, trainModel, type TrainOptions } from '../dist/classifiers/classifier.js';
import { DualCdProblem, type SvmLoss } from '../dist/classifiers/linear/linear-svm.js';
import { LogisticProblem } from '../dist/classifiers/linear/logistic.js';
import { predictLinear } from '../dist/classifiers/linear/linear-model.js';
import { trainLinear } from '../dist/classifiers/kinds.js';
import { DEFAULT_GRID } from '../dist/classifiers/selection/grid.js';
import { stratifiedFolds } from '../dist/classifiers/selection/splits.js';
import { isLinearPoint } from '../dist/classifiers/selection/types.js';
import { allRows, fitScaledView } from '../dist/classifiers/linalg/scaled-view.js';
import type { Scaling } from '../dist/classifiers/linalg/scaling.js';
import { predictSvm, trainSvm } from '../dist/classifiers/svc/svm.js';
import { TRAIN_FLAGS } from '../dist/commands/train-options.js';
import { CnnfeatError, nameOptionsByFlag } from '../dist/errors.js';
import { computeMetrics } from '../dist/metrics/metrics.js';
import { blobs, type BlobOptions, type Blobs } from './feature-fixtures.js';

/** Overlapping blobs with an offset, a gain and columns of growing width (so that scalings matter). */
function skewedBlobs(o: BlobOptions = {}): Blobs {
  return blobs({ offset: 3, gain: 2, widen: true, ...o });
}

/** The rows of X under a scaling, explicitly (float64), as the solvers see them implicitly. */
function scaledRows(data: Blobs, scale: Scaling): Float64Array[] {
  const view = fitScaledView(data.X, data.n, data.d, scale, allRows(data.n));
  return Array.from({ length: data.n }, (_, i) =>
    Float64Array.from({ length: data.d }, (_, j) => {
      const x = data.X[i * data.d + j]!;
      if (scale === 'standard') return (x - view.mean![j]!) * view.invStd![j]!;
      if (scale === 'l2') return x * view.rowScale![i]!;
      return x;
    }),
  );
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
};

const SCALINGS: Scaling[] = ['none', 'standard', 'l2'];

for (const loss of ['squared_hinge', 'hinge'] as SvmLoss[]) {
  test(`linear-svm (${loss}): projected gradient within tolerance and a vanishing duality gap, every scaling`, () => {
    const data = skewedBlobs({ sep: 1.2 });
    const C = 0.5;
    for (const scale of SCALINGS) {
      const rows = allRows(data.n);
      const view = fitScaledView(data.X, data.n, data.d, scale, rows);
      const y = Int8Array.from(data.y, (c) => (c === 1 ? 1 : -1));
      const problem = new DualCdProblem(view, rows, y);
      const tol = 1e-6;
      const result = problem.solve({ C, loss, tol, maxIter: 100000, seed: 3 });
      assert.ok(result.converged, `${scale}: converged`);
      const { w, intercept } = problem.weights();
      const Xs = scaledRows(data, scale);
      const hinge = loss === 'hinge';
      const U = hinge ? C : Infinity;
      const diag = hinge ? 0 : 1 / (2 * C);
      // w = Σ α_i y_i x_i (with the bias feature B = 1): the primal-dual link.
      for (let j = 0; j < data.d; j++) {
        const sum = Xs.reduce((s, x, i) => s + problem.alpha[i]! * y[i]! * x[j]!, 0);
        assert.ok(Math.abs(sum - w[j]!) < 1e-8 * (1 + Math.abs(sum)), `${scale}: w[${j}] = Σ α y x`);
      }
      let pgMax = -Infinity;
      let pgMin = Infinity;
      let primalLoss = 0;
      let dualQuad = 0;
      let alphaSum = 0;
      Xs.forEach((x, i) => {
        const a = problem.alpha[i]!;
        assert.ok(a >= 0 && a <= U, `${scale}: 0 ≤ α ≤ U`);
        const margin = y[i]! * (dot(w, x) + intercept);
        const G = margin - 1 + diag * a;
        const pg = a === 0 ? Math.min(G, 0) : a === U ? Math.max(G, 0) : G;
        pgMax = Math.max(pgMax, pg);
        pgMin = Math.min(pgMin, pg);
        const xi = Math.max(0, 1 - margin);
        primalLoss += hinge ? xi : xi * xi;
        dualQuad += diag * a * a;
        alphaSum += a;
      });
      // The solver measures PG during its last pass (as liblinear); recomputed after it, it can be a little larger.
      assert.ok(pgMax - pgMin <= 10 * tol, `${scale}: max PG − min PG ${pgMax - pgMin}`);
      const wNorm = dot(w, w) + intercept * intercept;
      const primal = 0.5 * wNorm + C * primalLoss;
      const dual = -(0.5 * wNorm + 0.5 * dualQuad - alphaSum); // −(½αᵀ(Q+D)α − eᵀα)
      assert.ok(primal - dual >= -1e-9 && primal - dual <= 1e-4 * primal, `${scale}: gap ${primal - dual} of ${primal}`);
    }
  });
}

test('logistic: the gradient of the objective at the solution is within the tolerance, every scaling, with class weights', async () => {
  const data = skewedBlobs({ sep: 1, n: 120 });
  const C = 2;
  for (const scale of SCALINGS) {
    for (const weights of [undefined, [1, 2, 0.5]]) {
      const rows = allRows(data.n);
      const view = fitScaledView(data.X, data.n, data.d, scale, rows);
      const problem = new LogisticProblem(view, rows, data.y, 3, weights);
      const result = await problem.fit({ C, tol: 1e-6, ftol: 0, maxIter: 5000 });
      assert.ok(result.converged, `${scale}: converged (${result.reason})`);
      const { W, intercept } = problem.weights();
      // The gradient recomputed in float64 from the explicit scaled rows.
      const Xs = scaledRows(data, scale);
      const K = 3;
      const gW = new Float64Array(K * data.d);
      const gb = new Float64Array(K);
      Xs.forEach((x, i) => {
        const z = Array.from({ length: K }, (_, k) => dot(W.subarray(k * data.d, (k + 1) * data.d), x) + intercept[k]!);
        const max = Math.max(...z);
        const e = z.map((v) => Math.exp(v - max));
        const sum = e.reduce((a, b) => a + b, 0);
        const omega = (weights ? weights[data.y[i]!]! : 1) / data.n;
        for (let k = 0; k < K; k++) {
          const r = omega * (e[k]! / sum - (k === data.y[i] ? 1 : 0));
          gb[k] += r;
          for (let j = 0; j < data.d; j++) gW[k * data.d + j] += r * x[j]!;
        }
      });
      let gmax = 0;
      for (let t = 0; t < K * data.d; t++) gmax = Math.max(gmax, Math.abs(gW[t]! + W[t]! / (C * data.n)));
      for (const g of gb) gmax = Math.max(gmax, Math.abs(g));
      assert.ok(gmax <= 2e-6, `${scale}${weights ? ' weighted' : ''}: max |gradient| ${gmax}`);
    }
  }
});

test('on separable data, linear-svm and logistic predict exactly as libsvm linear C-SVC', async () => {
  const train = skewedBlobs({ n: 150, d: 12, k: 3, sep: 6, seed: 5, offset: 0, gain: 1 });
  const held = skewedBlobs({ n: 90, d: 12, k: 3, sep: 6, seed: 5, offset: 0, gain: 1 });
  const svc = await trainSvm(train.X, train.n, train.d, train.y, train.classes, { kernel: 'linear', C: 1, gamma: 'scale', scale: 'none' });
  const reference = (await predictSvm(svc, held.X, held.n, held.d)).labels;
  assert.equal(computeMetrics(held.y, reference, held.classes).accuracy, 1, 'separable fixture');
  for (const classifier of ['linear-svm', 'logistic'] as const) {
    for (const loss of classifier === 'linear-svm' ? (['squared_hinge', 'hinge'] as const) : [undefined]) {
      const model = await trainLinear(train.X, train.n, train.d, train.y, train.classes, { classifier, C: 1, scale: 'none', loss });
      const { labels, classScores } = await predictLinear(JSON.parse(JSON.stringify(model)), held.X, held.n, held.d);
      assert.deepEqual(labels, reference, `${classifier} ${loss ?? ''}`);
      if (classifier === 'logistic') for (const p of classScores) assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6, 'probabilities sum to 1');
    }
  }
});

test('deterministic: the same seed gives the same weights, in worker threads or not', async () => {
  const data = skewedBlobs({ n: 300, d: 10, k: 4, sep: 0.8, seed: 9 });
  for (const classifier of ['linear-svm', 'logistic'] as const) {
    const fit = (threads: number) => trainLinear(data.X, data.n, data.d, data.y, data.classes.concat('c3'), { classifier, C: 3, scale: 'standard', seed: 4 }, { threads });
    const [a, b, c] = [await fit(2), await fit(2), await fit(1)];
    assert.equal(a.weights, b.weights, `${classifier}: same run twice`);
    assert.equal(a.weights, c.weights, `${classifier}: 1 thread = 2 threads`);
    assert.deepEqual(a.intercept, c.intercept);
  }
});

test('a fit that hits its iteration cap warns, naming the cap option', async () => {
  const data = skewedBlobs({ n: 200, sep: 0.3 });
  const warnings: string[] = [];
  const model = await trainLinear(data.X, data.n, data.d, data.y, data.classes, { classifier: 'logistic', C: 1000, scale: 'none', maxIter: 2 }, { warn: (m) => warnings.push(m) });
  assert.equal(model.solver.converged, false);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /logistic \(C=1000, scale=none\) did not converge within 2 L-BFGS iterations.*raise the iteration cap \(maxIter\)/);
});

test('policy: auto cross-validates svc and the linear classifiers up to 5,000 rows, halving above; C alone is one fit', () => {
  const small = planTraining({}, 400);
  assert.ok(small.kind === 'select', small.kind);
  assert.deepEqual(small.split, { method: 'stratified-k-fold', folds: 5 });
  assert.ok(small.svcGrid && small.linearGrid);
  assert.deepEqual(small.linearGrid.classifier, ['linear-svm', 'logistic']);
  const large = planTraining({}, 60000);
  assert.ok(large.kind === 'select' && !large.svcGrid && large.halving && large.split.method === 'holdout');
  const val = planTraining({ valSize: 0.1 }, 60000);
  assert.ok(val.kind === 'select' && !val.halving && val.split.method === 'holdout' && val.split.valSize === 0.1, '--val-size: one holdout of the whole grid');
  assert.deepEqual(planTraining({ C: 2 }, 400), { kind: 'fit', spec: { classifier: 'svc', svm: { kernel: 'linear', C: 2, gamma: 'scale', scale: 'none', probability: undefined, classWeight: undefined } } });
  assert.deepEqual(planTraining({ C: 2 }, 9000), { kind: 'fit', spec: { classifier: 'linear-svm', C: 2, scale: 'none' } });
  const few = planTraining({}, 40, 3);
  assert.ok(few.kind === 'select' && few.split.method === 'stratified-k-fold' && few.split.folds === 3, 'the default folds follow the smallest class');
  assert.equal(planTraining({}, 40, 1).kind, 'fit', 'a class of one row: one fit');
  // auto's single fit follows what the options ask for.
  assert.deepEqual(planTraining({ C: 2, loss: 'hinge' }, 400), { kind: 'fit', spec: { classifier: 'linear-svm', C: 2, scale: 'none', loss: 'hinge' } }, 'a loss: linear-svm');
  assert.deepEqual(planTraining({ C: 2, probability: true }, 9000), { kind: 'fit', spec: { classifier: 'logistic', C: 2, scale: 'none' } }, 'probabilities above 5,000 rows: logistic');
});

test('options that none of the planned classifiers uses are refused, not ignored', () => {
  const refused = (o: TrainOptions, n: number, pattern: RegExp) =>
    assert.throws(() => planTraining(o, n), (err: unknown) => err instanceof CnnfeatError && err.exitCode === 2 && pattern.test(err.message), JSON.stringify(o));
  refused({ classifier: 'svc', tol: 1e-3 }, 400, /^tol and maxIter apply to the linear classifiers only; this training fits svc only \(choose one with classifier=linear-svm\|logistic\)$/);
  refused({ C: 1, maxIter: 5 }, 400, /maxIter apply to the linear classifiers only; this training fits svc only/);
  refused({ kernel: 'rbf', loss: 'hinge' }, 400, /^loss applies to the classifier linear-svm only; this training fits svc only/);
  refused({ loss: 'hinge', probability: true }, 9000, /^loss applies to the classifier linear-svm only; this training fits logistic only/);
  assert.equal(planTraining({ tol: 1e-3 }, 400).kind, 'select', 'a selection with linear classifiers uses tol');
});

test('bad input: one clear error naming the library option, exit code 2', async () => {
  const data = skewedBlobs({ n: 60 });
  const isUsage = (pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof CnnfeatError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'));
    return true;
  };
  const train = (o: TrainOptions, X = data.X, y = data.y) => trainModel(X, data.n, data.d, y, data.classes, o, { source: 'feats/features.npy' });
  await assert.rejects(train({ classifier: 'foo' as never }), isUsage(/^classifier must be one of auto, svc, linear-svm, logistic, got "foo"$/));
  await assert.rejects(train({ C: 0 }), isUsage(/^C must be a number > 0, got 0$/));
  await assert.rejects(train({ classifier: 'logistic', C: -1 }), isUsage(/^C must be a number > 0, got -1$/));
  for (const valSize of [0, 1, 1.5, -0.2]) await assert.rejects(train({ valSize }), isUsage(/^valSize must be a number in \(0, 1\), got -?[\d.]+$/));
  await assert.rejects(train({ folds: 25 }), isUsage(/class "c0" has 20 row\(s\); cross-validation needs at least the number of folds \(folds=25\)/));
  await assert.rejects(train({ folds: 1.5 }), isUsage(/^folds must be an integer ≥ 2, got 1.5$/));
  await assert.rejects(train({ seed: -1 }), isUsage(/^seed must be an integer in \[0, 4294967295\], got -1$/));
  await assert.rejects(train({ gamma: 0 }), isUsage(/^gamma must be a number > 0, scale or auto, got 0$/));
  await assert.rejects(train({ threads: 0 }), isUsage(/^threads must be an integer ≥ 1, got 0$/));
  const withNaN = Float32Array.from(data.X);
  withNaN[7 * data.d + 2] = NaN;
  await assert.rejects(train({}, withNaN), isUsage(/feats\/features\.npy: non-finite feature value \(NaN\) in row 7, feature 2/));
  const withInf = Float32Array.from(data.X);
  withInf[3] = Infinity;
  await assert.rejects(train({ classifier: 'linear-svm' }, withInf), isUsage(/non-finite feature value \(Infinity\) in row 0, feature 3/));
  await assert.rejects(train({}, data.X, data.y.map(() => 1)), isUsage(/needs rows of at least 2 classes, got 1/));
  const big = 6001;
  await assert.rejects(
    trainModel(new Float32Array(big * data.d), big, data.d, Array.from({ length: big }, (_, i) => i % 3), data.classes, { classifier: 'svc' }),
    isUsage(/^classifier svc: training sets of 6001 rows exceed the 5000 .*; use classifier=linear-svm \(or logistic, or auto\)$/),
  );
  await assert.rejects(train({ classifier: 'linear-svm', kernel: 'rbf' }), isUsage(/^kernel and gamma apply to the classifier svc only, not linear-svm$/));
  await assert.rejects(train({ classifier: 'linear-svm', probability: true }), isUsage(/not available for linear-svm; use the classifier logistic/));
  // A class too small for the split: the advice fits the split, and grouped rows are counted as images.
  const one = data.y.map((c, i) => (i === 0 ? 3 : c));
  const classes = [...data.classes, 'c3'];
  const single = (o: TrainOptions) => trainModel(data.X, data.n, data.d, one, classes, o, { source: 'feats' });
  await assert.rejects(single({ valSize: 0.2 }), isUsage(/^feats: class "c3" has 1 row\(s\); a held-out split \(valSize\) needs at least 2; add images of it, or give C for a single fit$/));
  await assert.rejects(single({ folds: 3 }), isUsage(/^feats: class "c3" has 1 row\(s\); cross-validation needs at least the number of folds \(folds=3\); give fewer folds, add images of it, or give C for a single fit$/));
  const pairs = data.y.map((_, i) => Math.floor(i / 2));
  const twoImages = data.y.map((c, i) => (i < 4 ? 3 : c));
  const grouped = trainModel(data.X, data.n, data.d, twoImages, classes, { folds: 3, groups: pairs }, { source: 'feats' });
  await assert.rejects(grouped, isUsage(/^feats: class "c3" has 2 image\(s\); cross-validation needs at least the number of folds \(folds=3\)/));
});

test('the grid option is checked with the other options, a string or an object, before any data', async () => {
  const refused = (grid: TrainOptions['grid'], pattern: RegExp) =>
    assert.throws(() => checkTrainOptions({ grid }), (err: unknown) => err instanceof CnnfeatError && err.exitCode === 2 && pattern.test(err.message), JSON.stringify(grid));
  refused('C=0,1', /^grid: C=0 is not a positive number; e\.g\. grid="/);
  refused('kernel=poly', /^grid: kernel=poly is not a kernel \(linear, rbf\)/);
  refused('degree=3', /^grid: unknown key "degree"/);
  refused({ ...DEFAULT_GRID, C: [0.1, -1] }, /^grid: C=-1 is not a positive number/);
  refused({ ...DEFAULT_GRID, C: ['1' as never] }, /^grid: C=1 is not a positive number/);
  refused({ ...DEFAULT_GRID, gamma: [0] }, /^grid: gamma=0 is not a positive number, scale or auto/);
  refused({ ...DEFAULT_GRID, kernel: [] }, /^grid: kernel has no values$/);
  refused({ ...DEFAULT_GRID, scale: ['minmax' as never] }, /^grid: scale=minmax is not a scaling \(none, standard, l2\)/);
  refused({ ...DEFAULT_GRID, C: 1 as never }, /^grid: C must be a list of values, got 1$/);
  refused({ ...DEFAULT_GRID, degree: [3] } as never, /^grid: unknown key "degree"/);
  refused(7 as never, /^grid must be a string \(kernel=…;C=…;gamma=…;scale=…\) or an object of value lists, got 7$/);
  checkTrainOptions({ grid: { ...DEFAULT_GRID, gamma: ['scale', 0.01] } });
  // An object grid's axes left out keep the default grid's, as the string's keys do.
  const plan = planTraining({ grid: { C: [0.5, 2] } as never }, 100);
  assert.ok(plan.kind === 'select' && plan.svcGrid && plan.linearGrid);
  assert.deepEqual(plan.svcGrid, { ...DEFAULT_GRID, C: [0.5, 2] });
  assert.deepEqual([plan.linearGrid.C, plan.linearGrid.relativeC, plan.linearGrid.scale], [[0.5, 2], false, DEFAULT_GRID.scale]);
  // A bad object grid never reaches a solver: trainModel refuses it before the data.
  const data = skewedBlobs({ n: 60 });
  await assert.rejects(trainModel(data.X, data.n, data.d, data.y, data.classes, { grid: { ...DEFAULT_GRID, C: [0] } }), /^CnnfeatError: grid: C=0 is not a positive number/);
});

test('a linear model with a missing or unknown options.classifier: the corrupt-model error (exit 2), not a TypeError', async () => {
  const data = skewedBlobs({ n: 60 });
  const { model } = await trainModel(data.X, data.n, data.d, data.y, data.classes, { classifier: 'logistic', C: 1 });
  const edited = (edit: (m: Record<string, any>) => void) => {
    const copy = JSON.parse(JSON.stringify(model)) as Record<string, any>;
    edit(copy);
    return copy as typeof model;
  };
  const corrupt = (err: unknown) => err instanceof CnnfeatError && err.exitCode === 2 && /^linear model: unknown "options\.classifier" \(corrupt model\?\)$/.test(err.message);
  for (const bad of [edited((m) => delete m.options.classifier), edited((m) => (m.options.classifier = 'toString')), edited((m) => delete m.options)]) {
    await assert.rejects(predictModel(bad, data.X, data.n, data.d), corrupt);
    for (const describe of [describeModel, scoreKindOf, scoreMeaning]) assert.throws(() => describe(bad), corrupt, describe.name);
  }
});

test('svc above its 5,000-row limit: a one-line refusal naming the linear classifiers', () => {
  assert.throws(() => planTraining({ classifier: 'svc' }, 8000), (err: unknown) => err instanceof CnnfeatError && /^classifier svc: .* \d+ rows exceed the 5000 .*classifier=linear-svm/.test(err.message));
  assert.throws(() => planTraining({ kernel: 'rbf', C: 1 }, 8000), /classifier=linear-svm/);
});

test('messages name the library options; once the CLI names its flags, the same errors name the flags', () => {
  const message = (o: TrainOptions, n = 400) => {
    try {
      planTraining(o, n);
    } catch (err) {
      return (err as Error).message;
    }
    return 'no error';
  };
  const cases: [TrainOptions, number, string, string][] = [
    [{ valSize: 1 }, 400, 'valSize must be a number in (0, 1), got 1', '--val-size must be a number in (0, 1), got 1'],
    [{ folds: 2, valSize: 0.2 }, 400, 'give either the number of folds (folds) or a validation share (valSize), not both', 'give either the number of folds (--cv) or a validation share (--val-size), not both'],
    [{ classifier: 'svc', maxIter: 3 }, 400, 'tol and maxIter apply to the linear classifiers only; this training fits svc only (choose one with classifier=linear-svm|logistic)', '--tol and --max-iter apply to the linear classifiers only; this training fits svc only (choose one with --classifier linear-svm|logistic)'],
    [{ grid: 'kernel=poly' }, 400, 'grid: kernel=poly is not a kernel (linear, rbf); e.g. grid="kernel=linear,rbf;C=0.1,1,10;scale=none,l2"', '--grid: kernel=poly is not a kernel (linear, rbf); e.g. --grid "kernel=linear,rbf;C=0.1,1,10;scale=none,l2"'],
  ];
  for (const [o, n, library] of cases) assert.equal(message(o, n), library);
  nameOptionsByFlag(TRAIN_FLAGS);
  try {
    for (const [o, n, , cli] of cases) assert.equal(message(o, n), cli);
  } finally {
    nameOptionsByFlag({});
  }
});

test('oracle: every fold score of the selection equals a plain fit + predict on that fold, every classifier and scaling', async () => {
  const data = skewedBlobs({ n: 96, d: 5, k: 3, sep: 0.9, seed: 21 });
  const folds = 3;
  const seed = 2;
  const options: TrainOptions = {
    folds,
    seed,
    grid: 'C=0.3,3;scale=none,standard,l2',
    // Tight tolerances: the selection warm-starts along C, the plain fits start cold; both reach the same optimum.
    tol: 1e-7,
    maxIter: 100000,
  };
  const { selection } = await trainModel(data.X, data.n, data.d, data.y, data.classes, options);
  assert.ok(selection);
  const kinds = new Set(selection.results.map((r) => `${r.params.classifier}/${r.params.scale}`));
  assert.equal(kinds.size, 9, [...kinds].join(' '));
  const fold = stratifiedFolds(data.y, folds, seed);
  for (const r of selection.results) {
    for (let f = 0; f < folds; f++) {
      const trainRows = data.y.flatMap((_, i) => (fold[i] === f ? [] : [i]));
      const validRows = data.y.flatMap((_, i) => (fold[i] === f ? [i] : []));
      const gather = (rows: number[]) => Float32Array.from(rows.flatMap((i) => Array.from(data.X.subarray(i * data.d, (i + 1) * data.d))));
      const p = r.params;
      const o: TrainOptions = isLinearPoint(p)
        ? { classifier: p.classifier, C: p.C, scale: p.scale, tol: 1e-7, maxIter: 100000, seed }
        : { classifier: 'svc', kernel: p.kernel, C: p.C, gamma: p.gamma, scale: p.scale };
      const { model } = await trainModel(gather(trainRows), trainRows.length, data.d, trainRows.map((i) => data.y[i]!), data.classes, o);
      const { labels } = await predictModel(model, gather(validRows), validRows.length, data.d);
      const truth = validRows.map((i) => data.y[i]!);
      const expected = computeMetrics(truth, labels, data.classes).balancedAccuracy;
      assert.equal(r.folds[f], expected, `${p.classifier} ${isLinearPoint(p) ? '' : p.kernel} C=${p.C} ${p.scale} fold ${f}`);
    }
  }
});
