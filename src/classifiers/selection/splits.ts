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
 * Fails unless there is one group id per row.
 * @param source names the data in the message
 * @throws CnnfeatError (exit 2)
 */
export function checkGroups(groups: readonly number[] | undefined, n: number, source = 'training'): void {
  if (groups !== undefined && groups.length !== n) throw new CnnfeatError(`${source}: ${groups.length} groups for ${n} rows; give one group per row`);
}

/**
 * Runs a split of rows on groups of rows instead, so that the rows of a group (an image and its
 * mirror) always land on the same side: each group is one unit, labelled by its rows' class, in
 * order of first appearance; each row gets its unit's assignment. Without `groups` the split runs
 * on the rows (rows that are all groups of one give the same assignment).
 * @param groups group id of each row
 * @throws CnnfeatError when a group's rows have different classes
 */
function splitGroups(labels: number[], groups: readonly number[] | undefined, split: (unitLabels: number[]) => number[]): number[] {
  if (!groups) return split(labels);
  checkGroups(groups, labels.length);
  const unitOf = new Map<number, number>();
  const unitLabels: number[] = [];
  const rowUnits = groups.map((g, i) => {
    let unit = unitOf.get(g);
    if (unit === undefined) unitOf.set(g, (unit = unitLabels.push(labels[i]!) - 1));
    else if (unitLabels[unit] !== labels[i]) throw new CnnfeatError(`rows ${groups.indexOf(g)} and ${i} are one group (an image and its mirror) but have different classes`);
    return unit;
  });
  const unitFolds = split(unitLabels);
  return rowUnits.map((u) => unitFolds[u]!);
}

/**
 * Fails unless `k` folds can split `n` rows (or groups of rows): 2 ≤ k ≤ n.
 * @throws CnnfeatError (exit 2) naming the option
 */
export function checkFolds(k: number, n: number, units = 'rows'): void {
  if (!Number.isInteger(k) || k < 2 || k > n) {
    throw new CnnfeatError(`the number of folds (${optionName('folds')}) must be between 2 and ${n} (the number of training ${units}), got ${k}`);
  }
}

/**
 * Seeded stratified k-fold assignment: each class's samples are shuffled and dealt to the
 * folds in turn, continuing where the previous class stopped, so every fold gets about 1/k
 * of every class and the folds differ in size by at most one. With `groups`, whole groups are
 * dealt (a group's rows share a fold).
 * @param labels class index per sample
 * @param k number of folds, 2..n
 * @param seed PRNG seed
 * @param groups group id per sample (default: each its own)
 * @returns the fold (0..k-1) of every sample
 */
export function stratifiedFolds(labels: number[], k: number, seed: number, groups?: readonly number[]): number[] {
  return splitGroups(labels, groups, (units) => {
    checkFolds(k, units.length, groups ? 'images' : 'rows');
    const fold = new Array<number>(units.length).fill(0);
    let next = 0;
    for (const members of shuffledClasses(units, seed)) for (const i of members) fold[i] = next++ % k;
    return fold;
  });
}

/**
 * Seeded stratified holdout: each class's rows are shuffled and round(share · count) of them
 * (at least 1, at most count − 1) are held out. With `groups`, whole groups are held out.
 * @returns 0 (train) or 1 (validation) per row
 */
export function stratifiedHoldout(labels: number[], valSize: number, seed: number, groups?: readonly number[]): number[] {
  return splitGroups(labels, groups, (units) => {
    const fold = new Array<number>(units.length).fill(0);
    for (const members of shuffledClasses(units, seed)) {
      const held = Math.min(members.length - 1, Math.max(1, Math.round(valSize * members.length)));
      for (const i of members.slice(0, held)) fold[i] = 1;
    }
    return fold;
  });
}

/**
 * A stratified subsample of about `rows` rows split into training (0) and held-out (1) rows;
 * the other rows are left out (−1). With `groups`, whole groups are kept, held out or left out.
 */
export function subsampleHoldout(labels: number[], rows: number, valSize: number, seed: number, groups?: readonly number[]): number[] {
  return splitGroups(labels, groups, (units) => {
    const keep = stratifiedHoldout(units, Math.min(1, rows / labels.length), seed + 1);
    const members = keep.flatMap((k, i) => (k === 1 ? [i] : []));
    const inner = stratifiedHoldout(members.map((i) => units[i]!), valSize, seed);
    const fold = new Array<number>(units.length).fill(-1);
    members.forEach((i, t) => (fold[i] = inner[t]!));
    return fold;
  });
}

/** Rows a fit trains on when each of the `evaluate` folds is held out in turn (their mean, rounded; −1 rows are left out). */
export function trainRowsPerFold(fold: number[], evaluate: number[]): number {
  const used = fold.filter((g) => g >= 0).length;
  const trained = evaluate.map((f) => used - fold.filter((g) => g === f).length);
  return Math.round(trained.reduce((a, b) => a + b, 0) / trained.length);
}
