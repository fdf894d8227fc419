// Model selection's parts on their own (issue 20): the holdout splits, and successive halving's
// choice of the settings for round 2 and its ranking.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bestOfRound } from '../dist/classifiers/selection/halving.js';
import { halvingRanks, ranks } from '../dist/classifiers/selection/ranking.js';
import { stratifiedHoldout, subsampleHoldout } from '../dist/classifiers/selection/splits.js';
import { seededRandom, shuffleInPlace } from '../dist/util/random.js';

const labels = [...Array<number>(23).fill(0), ...Array<number>(12).fill(1), ...Array<number>(5).fill(2), ...Array<number>(2).fill(3)];
const count = (fold: number[], c: number, f: number) => labels.filter((l, i) => l === c && fold[i] === f).length;

test('stratifiedHoldout: round(share · rows) of each class held out, at least 1 and at most all but 1; seeded', () => {
  const fold = stratifiedHoldout(labels, 0.2, 7);
  assert.ok(fold.every((f) => f === 0 || f === 1));
  assert.deepEqual([0, 1, 2, 3].map((c) => count(fold, c, 1)), [5, 2, 1, 1], 'round(0.2 · 23, 12, 5) and at least 1 of 2');
  assert.deepEqual(stratifiedHoldout(labels, 0.2, 7), fold, 'same seed, same split');
  assert.notDeepEqual(stratifiedHoldout(labels, 0.2, 8), fold, 'another seed, another split');
  assert.deepEqual([0, 1, 2, 3].map((c) => count(stratifiedHoldout(labels, 0.99, 1), c, 0)), [1, 1, 1, 1], 'a training row of every class is kept');
});

test('subsampleHoldout: a stratified subsample of about `rows` rows split as a holdout, the rest left out (−1)', () => {
  const many = Array.from({ length: 1000 }, (_, i) => (i < 600 ? 0 : i < 900 ? 1 : 2));
  const fold = subsampleHoldout(many, 200, 0.25, 3);
  const kept = fold.filter((f) => f >= 0).length;
  assert.equal(kept, 200);
  for (const [c, rows] of [[0, 600], [1, 300], [2, 100]] as const) {
    const inClass = fold.filter((f, i) => many[i] === c && f >= 0);
    assert.equal(inClass.length, (200 * rows) / 1000, `class ${c}: its share of the subsample`);
    assert.equal(inClass.filter((f) => f === 1).length, Math.round(0.25 * inClass.length), `class ${c}: 25 % of its kept rows held out`);
  }
  assert.deepEqual(subsampleHoldout(many, 200, 0.25, 3), fold, 'seeded');
});

test('successive halving: the best `keep` of round 1 go on (ties: the earlier first)', () => {
  const round1 = [0.5, 0.9, 0.7, 0.9, 0.2].map((mean, i) => ({ mean, i }));
  assert.deepEqual(bestOfRound(round1, 3).map((r) => r.i), [1, 3, 2]);
  assert.deepEqual(bestOfRound(round1, 9).map((r) => r.i), [1, 3, 2, 0, 4], 'fewer than keep: all, best first');
});

test("successive halving's ranking: round 2 ranks first, round 1 after it, ties share the lower rank", () => {
  assert.deepEqual(ranks([0.5, 0.9, 0.5, 0.7]), [3, 1, 3, 2]);
  const results = [
    { round: 1 as const, mean: 0.95 },
    { round: 1 as const, mean: 0.8 },
    { round: 1 as const, mean: 0.9 },
    { round: 2 as const, mean: 0.85 },
    { round: 2 as const, mean: 0.88 },
  ];
  // Round 1's best (0.95, on a subsample) ranks below every round-2 result (on all rows).
  assert.deepEqual(halvingRanks(results), [3, 5, 4, 2, 1]);
  assert.deepEqual(halvingRanks([{ round: 2, mean: 0.8 }, { round: 2, mean: 0.8 }, { round: 1, mean: 0.9 }]), [1, 1, 3]);
});

test('shuffleInPlace, the one shuffle of splits, folds and solvers: a seeded permutation of the first `count` items', () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  shuffleInPlace(items, seededRandom(4), 6);
  assert.deepEqual(items.slice(6), [6, 7, 8, 9], 'items past count stay');
  assert.deepEqual([...items.slice(0, 6)].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], 'a permutation');
  assert.notDeepEqual(items.slice(0, 6), [0, 1, 2, 3, 4, 5]);
  const again = Int32Array.from({ length: 10 }, (_, i) => i);
  shuffleInPlace(again, seededRandom(4), 6);
  assert.deepEqual(Array.from(again), items, 'the same seed shuffles arrays and typed arrays alike');
  // Every position reachable: over many seeds each of 4 items lands in each of 4 places.
  const seen = new Set<string>();
  for (let seed = 0; seed < 200; seed++) {
    const a = [0, 1, 2, 3];
    shuffleInPlace(a, seededRandom(seed));
    a.forEach((v, at) => seen.add(`${v}@${at}`));
  }
  assert.equal(seen.size, 16);
});
