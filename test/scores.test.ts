// Prediction scores that rank (issue 14 item 5): every classifier's scores against an oracle
// computed independently — libsvm's own decision values (recovered from its Platt
// probabilities), wᵀx + b and softmax from the stored weights — the predicted class on top,
// libsvm's vote ties included, and scikit-learn's one-vs-rest aggregate on hand-computed values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { predictModel, scoreKindOf, scoreMeaning, type ClassifierModel } from '../dist/classifiers/classifier.js';
import { trainLinear } from '../dist/classifiers/kinds.js';
import type { LinearModel } from '../dist/classifiers/linear/linear-model.js';
import { binaryScores, ovrScores, pairwiseVotes, voteWinner } from '../dist/classifiers/svc/ovo-scores.js';
import { formatScore } from '../dist/classifiers/common/scores.js';
import { predictSvm, svcDecisionValues, trainSvm, type SvmModel, type SvmOptions } from '../dist/classifiers/svc/svm.js';
import { topClasses } from '../dist/pipeline/predict.js';
import { blobs, type BlobOptions, type Blobs } from './feature-fixtures.js';

/** `n` rows of `k` overlapping blobs in `d` dimensions, classes round-robin. */
function overlapping(o: BlobOptions = {}): Blobs {
  return blobs({ sep: 1.5, ...o });
}

const classesOf = (k: number) => Array.from({ length: k }, (_, c) => `c${c}`);
const SVC: SvmOptions = { kernel: 'linear', C: 1, gamma: 'scale', scale: 'none' };
const argmax = (row: number[]) => row.reduce((best, s, c) => (s > row[best]! ? c : best), 0);
const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

/** Scores rank: the predicted class scores highest and ranks first, and scores differ between rows. */
function assertRanks(p: { labels: number[]; scores: number[]; classScores: number[][] }, classes: string[], what: string): void {
  p.classScores.forEach((row, i) => {
    assert.equal(p.scores[i], row[p.labels[i]!], `${what}: row ${i}'s score is its predicted class's`);
    assert.ok(row.every((s) => s <= p.scores[i]!), `${what}: row ${i}: no class scores above the prediction`);
    assert.equal(topClasses(row, classes, 1, p.labels[i]!)[0]!.label, classes[p.labels[i]!], `${what}: row ${i} ranks the prediction first`);
  });
  assert.ok(new Set(p.scores).size > p.scores.length / 2, `${what}: scores differ from row to row`);
}

test("ovrScores: scikit-learn's _ovr_decision_function on hand-computed values; libsvm's vote-tie winner is lifted to the top", () => {
  // Pairs (0,1), (0,2), (1,2). dec > 0 votes the first of the pair.
  // [1, 2, 3]: votes 2, 1, 0; margins 3, 2, -5 → 2 + 3/12, 1 + 2/9, -5/18 (scikit-learn 1.2.1:
  // [2.25, 1.22222222, -0.27777778]).
  const plain = ovrScores([1, 2, 3], 3, 0);
  [2.25, 1 + 2 / 9, -5 / 18].forEach((v, c) => assert.ok(close(plain[c]!, v, 1e-12), `class ${c}: ${plain[c]} ≠ ${v}`));
  // [0.5, -2, 1]: a cycle, one vote each; margins -1.5, 0.5, 1. scikit-learn: [0.8, 1.11111111,
  // 1.16666667], whose argmax (class 2) is not what libsvm (and SVC.predict) predicts: class 0.
  const dec = [0.5, -2, 1];
  assert.deepEqual(pairwiseVotes(dec, 3), [1, 1, 1]);
  assert.equal(voteWinner(pairwiseVotes(dec, 3)), 0);
  const tie = ovrScores(dec, 3, 0);
  assert.ok(close(tie[1]!, 1 + 1 / 9, 1e-12) && close(tie[2]!, 1 + 1 / 6, 1e-12), 'the other classes keep scikit-learn values');
  assert.equal(tie[0], 1 + 1 / 3, 'the winner is lifted to votes + 1/3');
  assert.equal(argmax(tie), 0);
  // A decision value of exactly 0 votes the second class of the pair, as libsvm does.
  assert.deepEqual(pairwiseVotes([0], 2), [0, 1]);
  assert.deepEqual(binaryScores(-0.75), [-0.75, 0.75]);
});

test('topClasses: equal scores rank the predicted class first, then class order', () => {
  assert.deepEqual(topClasses([0, 0, 0], ['a', 'b', 'c'], 3, 2).map((c) => c.label), ['c', 'a', 'b']);
  assert.deepEqual(topClasses([0.1, 2, -1], ['a', 'b', 'c'], 2, 1), [
    { label: 'b', score: 2 },
    { label: 'a', score: 0.1 },
  ]);
});

/** libsvm's probA and probB of a binary model (its Platt sigmoid 1 / (1 + exp(A·dec + B))). */
function plattOf(model: SvmModel): { A: number; B: number } {
  const value = (key: string) => Number(new RegExp(`\\n${key} (\\S+)\\n`).exec(model.libsvm)?.[1]);
  return { A: value('probA'), B: value('probB') };
}

/**
 * libsvm's own decision values of a binary probability model, recovered from the Platt
 * probabilities libsvm-js returns (which it computes from them; it exposes no decision values).
 */
async function libsvmDecisions(model: SvmModel, data: Blobs): Promise<number[]> {
  const { A, B } = plattOf(model);
  const { classScores } = await predictSvm(model, data.X, data.n, data.d);
  return classScores.map(([p0]) => (Math.log(1 / p0! - 1) - B) / A);
}

for (const kernel of ['linear', 'rbf'] as const) {
  test(`svc (${kernel}), 2 classes: the score is libsvm's own decision value, its sign the prediction`, async () => {
    const train = overlapping({ n: 80, k: 2, sep: 0.8, seed: 3 });
    const held = overlapping({ n: 60, k: 2, sep: 0.8, seed: 4 });
    const withPlatt = await trainSvm(train.X, train.n, train.d, train.y, classesOf(2), { ...SVC, kernel, probability: true });
    const model = { ...withPlatt, options: { ...withPlatt.options, probability: false } };
    const p = await predictSvm(model, held.X, held.n, held.d);
    assert.equal(p.scoreKind, 'decision');
    const oracle = await libsvmDecisions(withPlatt, held);
    p.classScores.forEach(([s0, s1], i) => {
      assert.ok(close(s0!, oracle[i]!, 1e-6), `row ${i}: ${s0} ≠ libsvm's ${oracle[i]}`);
      assert.equal(s1, -s0!);
      assert.equal(p.labels[i], s0! > 0 ? 0 : 1, `row ${i}: the sign of the decision value is the prediction`);
    });
    assert.ok(p.labels.includes(0) && p.labels.includes(1));
    assertRanks(p, classesOf(2), `svc ${kernel}`);
  });
}

test("svc, 3 classes: each pairwise decision value is libsvm's for that pair; scores rank with the prediction on top", async () => {
  const k = 3;
  const train = overlapping({ n: 90, k, sep: 0.8, seed: 5 });
  const held = overlapping({ n: 60, k, sep: 0.8, seed: 6 });
  const model = await trainSvm(train.X, train.n, train.d, train.y, classesOf(k), SVC);
  const dec = await svcDecisionValues(model, held.X, held.n, held.d);
  // libsvm's one-vs-one pair (i, j) is a binary C-SVC on the rows of classes i and j alone.
  let p = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++, p++) {
      const rows = train.y.flatMap((c, r) => (c === i || c === j ? [r] : []));
      const X = new Float32Array(rows.length * train.d);
      rows.forEach((r, t) => X.set(train.X.subarray(r * train.d, (r + 1) * train.d), t * train.d));
      const pair = await trainSvm(X, rows.length, train.d, rows.map((r) => (train.y[r] === i ? 0 : 1)), ['i', 'j'], { ...SVC, probability: true });
      const oracle = await libsvmDecisions(pair, held);
      dec.forEach((values, s) => assert.ok(close(values[p]!, oracle[s]!, 1e-4), `pair (${i}, ${j}), row ${s}: ${values[p]} ≠ ${oracle[s]}`));
    }
  }
  const predicted = await predictSvm(model, held.X, held.n, held.d);
  dec.forEach((values, s) => assert.equal(voteWinner(pairwiseVotes(values, k)), predicted.labels[s], `row ${s}: libsvm's votes are these decision values'`));
  predicted.classScores.forEach((row, s) => assert.deepEqual(row, ovrScores(dec[s]!, k, predicted.labels[s]!)));
  assertRanks(predicted, classesOf(k), 'svc 3 classes');
});

test('svc: on vote ties the predicted class (libsvm: the first tied class) still ranks first', async () => {
  const k = 5;
  const train = overlapping({ n: 300, d: 10, k, sep: 0.3, seed: 13 });
  const held = overlapping({ n: 400, d: 10, k, sep: 0.3, seed: 14 });
  const model = await trainSvm(train.X, train.n, train.d, train.y, classesOf(k), SVC);
  const p = await predictSvm(model, held.X, held.n, held.d);
  const dec = await svcDecisionValues(model, held.X, held.n, held.d);
  const ties = dec.flatMap((values, s) => {
    const votes = pairwiseVotes(values, k);
    const top = Math.max(...votes);
    return votes.filter((v) => v === top).length > 1 ? [{ s, votes }] : [];
  });
  assert.ok(ties.length >= 5, `the fixture has vote ties (${ties.length})`);
  for (const { s, votes } of ties) {
    assert.equal(p.labels[s], votes.indexOf(Math.max(...votes)), `row ${s}: libsvm picks the first tied class`);
    assert.equal(argmax(p.classScores[s]!), p.labels[s], `row ${s}: and it scores highest`);
  }
  assertRanks(p, classesOf(k), 'svc 5 classes');
});

/** The weights and intercepts of a linear model, decoded independently of the library. */
function weightsOf(model: LinearModel): { W: Float32Array; b: number[] } {
  return { W: new Float32Array(new Uint8Array(Buffer.from(model.weights, 'base64')).buffer), b: model.intercept };
}

/** wᵀx + b per row and class, in float64. */
function affine(model: LinearModel, data: Blobs): number[][] {
  const { W, b } = weightsOf(model);
  const K = b.length;
  return Array.from({ length: data.n }, (_, i) =>
    Array.from({ length: K }, (_, c) => {
      let z = b[c]!;
      for (let j = 0; j < data.d; j++) z += W[c * data.d + j]! * data.X[i * data.d + j]!;
      return z;
    }),
  );
}

for (const k of [2, 3]) {
  test(`linear-svm, ${k} classes: scores are wᵀx + b of the stored weights${k === 2 ? ', their sign the prediction' : ''}`, async () => {
    const train = overlapping({ n: 90, k, seed: 7 });
    const held = overlapping({ n: 60, k, seed: 8 });
    const model = await trainLinear(train.X, train.n, train.d, train.y, classesOf(k), { classifier: 'linear-svm', C: 1, scale: 'none' });
    const p = await predictModel(model, held.X, held.n, held.d);
    assert.equal(p.scoreKind, 'decision');
    assert.equal(scoreKindOf(model), 'decision');
    const oracle = affine(model, held);
    p.classScores.forEach((row, i) => {
      row.forEach((s, c) => assert.ok(close(s, oracle[i]![c]!, 1e-4), `row ${i}, class ${c}: ${s} ≠ ${oracle[i]![c]}`));
      if (k === 2) {
        assert.ok(close(row[0]!, -row[1]!, 1e-6), 'one classifier: ±f');
        assert.equal(p.labels[i], row[1]! > 0 ? 1 : 0, `row ${i}: the sign of f is the prediction`);
      }
    });
    assertRanks(p, classesOf(k), `linear-svm ${k}`);
  });
}

test('logistic: scores are the softmax of wᵀx + b of the stored weights', async () => {
  const train = overlapping({ n: 90, k: 3, seed: 9 });
  const held = overlapping({ n: 60, k: 3, seed: 10 });
  const model = await trainLinear(train.X, train.n, train.d, train.y, classesOf(3), { classifier: 'logistic', C: 1, scale: 'none' });
  const p = await predictModel(model, held.X, held.n, held.d);
  assert.equal(p.scoreKind, 'probability');
  affine(model, held).forEach((z, i) => {
    const e = z.map((v) => Math.exp(v - Math.max(...z)));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => assert.ok(Math.abs(p.classScores[i]![c]! - v / sum) < 1e-5, `row ${i}, class ${c}`));
  });
  assertRanks(p, classesOf(3), 'logistic');
});

test('every classifier kind says what its scores are', async () => {
  const data = overlapping({ n: 60, k: 2, seed: 11 });
  const kinds: [string, ClassifierModel, string, RegExp][] = [
    ['svc', await trainSvm(data.X, data.n, data.d, data.y, classesOf(2), SVC), 'decision', /^decision value \(/],
    ['svc --probability', await trainSvm(data.X, data.n, data.d, data.y, classesOf(2), { ...SVC, probability: true }), 'probability', /^probability \(libsvm's Platt/],
    ['linear-svm', await trainLinear(data.X, data.n, data.d, data.y, classesOf(2), { classifier: 'linear-svm', C: 1, scale: 'none' }), 'decision', /^decision value \(wᵀx \+ b/],
    ['logistic', await trainLinear(data.X, data.n, data.d, data.y, classesOf(2), { classifier: 'logistic', C: 1, scale: 'none' }), 'probability', /^probability \(softmax\)/],
  ];
  for (const [name, model, kind, meaning] of kinds) {
    assert.equal(scoreKindOf(model), kind, name);
    assert.equal((await predictModel(model, data.X, data.n, data.d)).scoreKind, kind, name);
    assert.match(scoreMeaning(model), meaning, name);
  }
});

test('formatScore: probabilities with 3 decimals, small decision values with 3 significant digits', () => {
  assert.equal(formatScore(0.5, 'probability'), '0.500');
  assert.equal(formatScore(0.00004, 'probability'), '0.000');
  assert.equal(formatScore(1.39812, 'decision'), '1.398');
  assert.equal(formatScore(-0.0456123, 'decision'), '-0.0456');
  assert.equal(formatScore(0, 'decision'), '0.000');
});
