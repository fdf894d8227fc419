/** The svc grid: its default, the `grid` option's syntax and checks, its points. */
import { CnnfeatError, optionName } from '../../errors.js';
import { SCALINGS } from '../linalg/scaling.js';
import { KERNELS } from '../svc/kernel-matrix.js';
import { GAMMA_RULES, parseGamma } from '../svc/svm.js';
import type { Grid, GridPoint } from './types.js';

/** The default grid: linear and RBF (gamma 'scale'), C 0.01–100, three scalings: 30 points. */
export const DEFAULT_GRID: Grid = {
  kernel: ['linear', 'rbf'],
  C: [0.01, 0.1, 1, 10, 100],
  gamma: ['scale'],
  scale: ['none', 'standard', 'l2'],
};

/** Formats a grid in the syntax of the `grid` option (`--grid`). */
export function formatGrid(grid: Grid): string {
  return `kernel=${grid.kernel.join(',')};C=${grid.C.join(',')};gamma=${grid.gamma.join(',')};scale=${grid.scale.join(',')}`;
}

/** The axes of a grid, in the order of the `grid` syntax. */
const AXES = ['kernel', 'C', 'gamma', 'scale'] as const satisfies readonly (keyof Grid)[];
type Axis = (typeof AXES)[number];

function isAxis(key: string): key is Axis {
  return (AXES as readonly string[]).includes(key);
}

function isPositive(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** What each axis takes, in words, and whether a value is one. */
const AXIS_VALUES: Record<Axis, { what: string; valid: (value: unknown) => boolean }> = {
  kernel: { what: `a kernel (${KERNELS.join(', ')})`, valid: (v) => (KERNELS as readonly unknown[]).includes(v) },
  C: { what: 'a positive number', valid: isPositive },
  gamma: { what: `a positive number, ${GAMMA_RULES.join(' or ')}`, valid: (v) => (GAMMA_RULES as readonly unknown[]).includes(v) || isPositive(v) },
  scale: { what: `a scaling (${SCALINGS.join(', ')})`, valid: (v) => (SCALINGS as readonly unknown[]).includes(v) },
};

/** A value of the `grid` syntax as its axis takes it: C and gamma read as numbers (NaN: not one). */
function readValue(key: Axis, text: string): unknown {
  if (key === 'C') return text === '' ? NaN : Number(text);
  if (key === 'gamma') return parseGamma(text) ?? NaN;
  return text;
}

/**
 * An axis's values, checked and without repeats.
 * @param shown each value as messages show it (default: the value)
 * @throws CnnfeatError (exit 2) on an empty list or a value the axis does not take
 */
function checkedAxis(key: Axis, values: readonly unknown[], shown: readonly unknown[] = values): Grid[Axis] {
  if (values.length === 0) throw new CnnfeatError(`${optionName('grid')}: ${key} has no values`);
  const { what, valid } = AXIS_VALUES[key];
  values.forEach((v, i) => {
    if (!valid(v)) throw new CnnfeatError(`${optionName('grid')}: ${key}=${String(shown[i])} is not ${what}; e.g. ${optionName('grid', '"kernel=linear,rbf;C=0.1,1,10;scale=none,l2"')}`);
  });
  return [...new Set(values)] as Grid[Axis];
}

/** Sets one axis of a grid. */
function setAxis(grid: Grid, key: Axis, values: Grid[Axis]): void {
  (grid as Record<Axis, Grid[Axis]>)[key] = values;
}

/**
 * Parses the `grid` option (`--grid`): `;`-separated `key=v1,v2,…` for the keys kernel, C, gamma, scale, e.g.
 * `kernel=linear,rbf;C=0.1,1,10;scale=none,l2`. Keys not given keep the default grid's values.
 * @throws CnnfeatError (exit 2) on an unknown key, a bad value, a repeated key or an empty list
 */
export function parseGrid(text: string, base: Grid = DEFAULT_GRID): Grid {
  const grid: Grid = { ...base };
  const seen = new Set<string>();
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!isAxis(key)) throw new CnnfeatError(`${optionName('grid')}: unknown key "${key}"; use kernel=…;C=…;gamma=…;scale=… separated by ";"`);
    if (seen.has(key)) throw new CnnfeatError(`${optionName('grid')}: ${key} is given twice`);
    seen.add(key);
    const texts = eq < 0 ? [] : part.slice(eq + 1).split(',').map((v) => v.trim());
    const values = texts.every((v) => v === '') ? [] : texts;
    setAxis(grid, key, checkedAxis(key, values.map((v) => readValue(key, v)), values));
  }
  return grid;
}

/**
 * The grid of the `grid` option over `base`: a string parsed as {@link parseGrid} does, or an
 * object whose axes replace the base's, each checked as the string's values are (axes left out
 * keep the base's, as keys left out of the string do).
 * @throws CnnfeatError (exit 2) as parseGrid, or on an object that is not one of value lists
 */
export function gridOf(grid: string | Partial<Grid>, base: Grid = DEFAULT_GRID): Grid {
  if (typeof grid === 'string') return parseGrid(grid, base);
  if (grid === null || typeof grid !== 'object' || Array.isArray(grid)) {
    throw new CnnfeatError(`${optionName('grid')} must be a string (kernel=…;C=…;gamma=…;scale=…) or an object of value lists, got ${JSON.stringify(grid)}`);
  }
  const out: Grid = { ...base };
  for (const [key, values] of Object.entries(grid)) {
    if (!isAxis(key)) throw new CnnfeatError(`${optionName('grid')}: unknown key "${key}"; use kernel, C, gamma and scale`);
    if (values === undefined) continue;
    if (!Array.isArray(values)) throw new CnnfeatError(`${optionName('grid')}: ${key} must be a list of values, got ${JSON.stringify(values)}`);
    setAxis(out, key, checkedAxis(key, values));
  }
  return out;
}

/**
 * The grid's combinations in a stable order (scaling, kernel, C, gamma); the linear kernel
 * gets one point per C (gamma does not apply to it, recorded as the grid's first gamma).
 */
export function gridPoints(grid: Grid): GridPoint[] {
  const points: GridPoint[] = [];
  for (const scale of grid.scale) {
    for (const kernel of grid.kernel) {
      for (const C of grid.C) {
        const gammas = kernel === 'linear' ? grid.gamma.slice(0, 1) : grid.gamma;
        for (const gamma of gammas) points.push({ kernel, C, gamma, scale });
      }
    }
  }
  return points;
}
