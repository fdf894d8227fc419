/**
 * Successive halving's second round (scikit-learn's HalvingGridSearchCV with the rows as the
 * resource): round 1 scored every linear setting on a stratified subsample; the best `keep` of
 * them are scored again on all rows.
 */
import { selectLinear, type LinearSelectionOptions } from './linear-search.js';
import type { CvResult, LinearPoint } from './types.js';

/** The best `keep` results of a round, best first (by mean score; ties: the earlier first). */
export function bestOfRound<R extends Pick<CvResult, 'mean'>>(results: R[], keep: number): R[] {
  return results
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.mean - a.r.mean || a.i - b.i)
    .slice(0, keep)
    .map(({ r }) => r);
}

/**
 * Scores the best `keep` round-1 settings again on the folds of `options` (all rows).
 * @param onProgress settings done (fractional) of those kept, and what runs now
 * @returns their results, marked round 2, best of round 1 first
 */
export async function halvingRound2(
  X: Float32Array,
  n: number,
  d: number,
  labels: number[],
  K: number,
  round1: Omit<CvResult, 'rank'>[],
  keep: number,
  options: Omit<LinearSelectionOptions, 'grid'>,
  onProgress?: (done: number, total: number, detail: string) => void,
): Promise<Omit<CvResult, 'rank'>[]> {
  const best = bestOfRound(round1, keep);
  const results: Omit<CvResult, 'rank'>[] = [];
  for (const [t, r] of best.entries()) {
    const p = r.params as LinearPoint;
    const again = await selectLinear(X, n, d, labels, K, {
      ...options,
      grid: { classifier: [p.classifier], C: [p.C], relativeC: false, scale: [p.scale], ...(p.loss ? { loss: p.loss } : {}) },
      onProgress: (done, total, detail) => onProgress?.(t + done / total, best.length, `round 2: ${detail}`),
    });
    results.push(...again.results.map((x) => ({ ...x, round: 2 as const })));
  }
  return results;
}
