/** Seeded stratified splits of training rows for model selection: k folds, holdouts, subsamples. */
import { CnnfeatError, optionName } from '../../errors.js';
import { seededRandom, shuffleInPlace } from '../../util/random.js';

/**
 * The rows of each class (classes in ascending order), each class's rows shuffled in turn by
 * one seeded generator (Fisher–Yates): the common first step of the stratified splits below.
 */
function shuffledClasses(labels: number[], seed: number): number[][] {
  const random = seededRandom(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, i) => {
    const members = byClass.get(label);
    if (members) members.push(i);
    else byClass.set(label, [i]);
  });
  return [...byClass.keys()]
    .sort((a, b) => a - b)
    .map((label) => {
      const members = byClass.get(label)!;
      shuffleInPlace(members, random);
      return members;
    });
}

/**
 * Fails unless `k` folds can split `n` rows: 2 ≤ k ≤ n.
 * @throws CnnfeatError (exit 2) naming the option
 */
export function checkFolds(k: number, n: number): void {
  if (!Number.isInteger(k) || k < 2 || k > n) {
    throw new CnnfeatError(`the number of folds (${optionName('folds')}) must be between 2 and ${n} (the number of training rows), got ${k}`);
  }
}

/**
 * Seeded stratified k-fold assignment: each class's samples are shuffled and dealt to the
 * folds in turn, continuing where the previous class stopped, so every fold gets about 1/k
 * of every class and the folds differ in size by at most one.
 * @param labels class index per sample
 * @param k number of folds, 2..n
 * @param seed PRNG seed
 * @returns the fold (0..k-1) of every sample
 */
export function stratifiedFolds(labels: number[], k: number, seed: number): number[] {
  checkFolds(k, labels.length);
  const fold = new Array<number>(labels.length).fill(0);
  let next = 0;
  for (const members of shuffledClasses(labels, seed)) for (const i of members) fold[i] = next++ % k;
  return fold;
}

/**
 * Seeded stratified holdout: each class's rows are shuffled and round(share · count) of them
 * (at least 1, at most count − 1) are held out.
 * @returns 0 (train) or 1 (validation) per row
 */
export function stratifiedHoldout(labels: number[], valSize: number, seed: number): number[] {
  const fold = new Array<number>(labels.length).fill(0);
  for (const members of shuffledClasses(labels, seed)) {
    const held = Math.min(members.length - 1, Math.max(1, Math.round(valSize * members.length)));
    for (const i of members.slice(0, held)) fold[i] = 1;
  }
  return fold;
}

/**
 * A stratified subsample of about `rows` rows split into training (0) and held-out (1) rows;
 * the other rows are left out (−1).
 */
export function subsampleHoldout(labels: number[], rows: number, valSize: number, seed: number): number[] {
  const keep = stratifiedHoldout(labels, Math.min(1, rows / labels.length), seed + 1);
  const members = keep.flatMap((k, i) => (k === 1 ? [i] : []));
  const inner = stratifiedHoldout(members.map((i) => labels[i]!), valSize, seed);
  const fold = new Array<number>(labels.length).fill(-1);
  members.forEach((i, t) => (fold[i] = inner[t]!));
  return fold;
}

/** Rows a fit trains on when each of the `evaluate` folds is held out in turn (their mean, rounded; −1 rows are left out). */
export function trainRowsPerFold(fold: number[], evaluate: number[]): number {
  const used = fold.filter((g) => g >= 0).length;
  const trained = evaluate.map((f) => used - fold.filter((g) => g === f).length);
  return Math.round(trained.reduce((a, b) => a + b, 0) / trained.length);
}
