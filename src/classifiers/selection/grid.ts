/** The svc grid: its default, the `grid` option's syntax, its points. */
import { CnnfeatError, optionName } from '../../errors.js';
import { SCALINGS, type Scaling } from '../linalg/scaling.js';
import { KERNELS, type Kernel } from '../svc/kernel-matrix.js';
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

/** Parses one value list of the `grid` option for a key. */
function parseGridValues(key: keyof Grid, values: string[]): Grid[keyof Grid] {
  const bad = (v: string, what: string) => new CnnfeatError(`${optionName('grid')}: ${key}=${v} is not ${what}; e.g. ${optionName('grid', '"kernel=linear,rbf;C=0.1,1,10;scale=none,l2"')}`);
  switch (key) {
    case 'kernel':
      return values.map((v) => {
        if (!(KERNELS as readonly string[]).includes(v)) throw bad(v, `a kernel (${KERNELS.join(', ')})`);
        return v as Kernel;
      });
    case 'scale':
      return values.map((v) => {
        if (!(SCALINGS as readonly string[]).includes(v)) throw bad(v, `a scaling (${SCALINGS.join(', ')})`);
        return v as Scaling;
      });
    case 'C':
      return values.map((v) => {
        const c = Number(v);
        if (v === '' || !Number.isFinite(c) || c <= 0) throw bad(v, 'a positive number');
        return c;
      });
    case 'gamma':
      return values.map((v) => {
        if (v === 'scale' || v === 'auto') return v;
        const g = Number(v);
        if (v === '' || !Number.isFinite(g) || g <= 0) throw bad(v, 'a positive number, scale or auto');
        return g;
      });
  }
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
    if (!['kernel', 'C', 'gamma', 'scale'].includes(key)) {
      throw new CnnfeatError(`${optionName('grid')}: unknown key "${key}"; use kernel=…;C=…;gamma=…;scale=… separated by ";"`);
    }
    if (seen.has(key)) throw new CnnfeatError(`${optionName('grid')}: ${key} is given twice`);
    seen.add(key);
    const values = eq < 0 ? [] : part.slice(eq + 1).split(',').map((v) => v.trim());
    if (values.length === 0 || values.every((v) => v === '')) throw new CnnfeatError(`${optionName('grid')}: ${key} has no values`);
    (grid as unknown as Record<string, unknown>)[key] = [...new Set(parseGridValues(key as keyof Grid, values) as unknown[])];
  }
  return grid;
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
