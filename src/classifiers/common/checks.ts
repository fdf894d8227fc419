/**
 * Every check of what the classifiers are given, each with one wording: option values (named as
 * `optionName` says: the library's option, or the CLI's flag), labels and matrices.
 */
import { CnnfeatError, optionName } from '../../errors.js';

/** A value as a message shows it: strings quoted. */
function shown(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : String(value);
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Fails unless the option's value, when given, is one of `choices`. */
export function checkChoice(option: string, value: unknown, choices: readonly string[]): void {
  if (value === undefined || choices.includes(value as string)) return;
  throw new CnnfeatError(`${optionName(option)} must be one of ${choices.join(', ')}, got ${shown(value)}`);
}

/** Fails unless the option's value, when given, is a number > 0 or one of `words` (gamma's scale and auto). */
export function checkPositive(option: string, value: unknown, words: readonly string[] = []): void {
  if (value === undefined || (isNumber(value) && value > 0) || words.includes(value as string)) return;
  throw new CnnfeatError(`${optionName(option)} must be a number > 0${words.length ? `, ${words.join(' or ')}` : ''}, got ${shown(value)}`);
}

/** Fails unless the option's value, when given, is an integer in [min, max]. */
export function checkInteger(option: string, value: unknown, min: number, max = Infinity): void {
  if (value === undefined || (Number.isInteger(value) && (value as number) >= min && (value as number) <= max)) return;
  throw new CnnfeatError(`${optionName(option)} must be an integer ${max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`}, got ${shown(value)}`);
}

/** Fails unless the option's value, when given, is a share of the rows: a number in (0, 1). */
export function checkShare(option: string, value: unknown): void {
  if (value === undefined || (isNumber(value) && value > 0 && value < 1)) return;
  throw new CnnfeatError(`${optionName(option)} must be a number in (0, 1), got ${shown(value)}`);
}

/** The seed when none is given (TRAIN_DEFAULTS.seed): of the folds and held-out splits, and of linear-svm's coordinate order. */
export const DEFAULT_SEED = 0;

/** Fails unless the option's value, when given, is an integer seed of the seeded generator: [0, 2³²). */
export function checkSeed(option: string, value: unknown): void {
  checkInteger(option, value, 0, 2 ** 32 - 1);
}

/**
 * Checks labels: one class index in [0, nClasses) per row, and rows of at least 2 classes.
 * @param source names the data in messages
 * @throws CnnfeatError (exit 2) naming the label or the count
 */
export function checkLabels(labels: number[], n: number, nClasses: number, source: string): void {
  if (labels.length !== n) throw new CnnfeatError(`${source}: ${labels.length} labels for ${n} rows`);
  const counts = new Array<number>(nClasses).fill(0);
  for (const label of labels) {
    if (!Number.isInteger(label) || label < 0 || label >= nClasses) {
      throw new CnnfeatError(`${source}: label ${label} is not a class index in [0, ${nClasses - 1}]`);
    }
    counts[label]++;
  }
  const present = counts.filter((c) => c > 0).length;
  if (present < 2) throw new CnnfeatError(`${source}: a classifier needs rows of at least 2 classes, got ${present} (${n} rows)`);
}

/**
 * Checks the shape and values of a row-major matrix.
 * @throws CnnfeatError (exit 2) on a size mismatch or a non-finite value
 */
export function checkMatrix(X: Float32Array, n: number, d: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 1) {
    throw new CnnfeatError(`${what}: invalid matrix shape ${n}x${d}`);
  }
  if (X.length !== n * d) {
    throw new CnnfeatError(`${what}: matrix has ${X.length} values, expected ${n} rows x ${d} features = ${n * d}`);
  }
  for (let i = 0; i < X.length; i++) {
    if (!Number.isFinite(X[i])) {
      const row = Math.floor(i / d);
      throw new CnnfeatError(`${what}: non-finite feature value (${X[i]}) in row ${row}, feature ${i - row * d}`);
    }
  }
}
