import { CnnfeatError } from '../errors.js';

/**
 * Parses a positive integer option, or fails naming the option.
 * @param name the option as the user typed it, e.g. `--batch-size`
 */
export function positiveInt(name: string, value: string | number): number {
  const n = parsed(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new CnnfeatError(`${name} must be a positive integer, got "${value}"`);
  }
  return n;
}

/** Parses a whole number option ≥ 0, or fails naming the option. */
export function nonNegativeInt(name: string, value: string | number): number {
  const n = parsed(value);
  if (!Number.isInteger(n) || n < 0) throw new CnnfeatError(`${name} must be a whole number ≥ 0, got "${value}"`);
  return n;
}

/** Parses a finite number option, optionally bounded, or fails naming the option. */
export function finiteNumber(name: string, value: string | number, min = -Infinity, max = Infinity): number {
  const n = parsed(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    const range = Number.isFinite(min) || Number.isFinite(max) ? ` in [${min}, ${max}]` : '';
    throw new CnnfeatError(`${name} must be a number${range}, got "${value}"`);
  }
  return n;
}

/** An option's value as a number: NaN for a blank string (which `Number` would read as 0). */
function parsed(value: string | number): number {
  return typeof value === 'number' ? value : value.trim() === '' ? NaN : Number(value);
}
