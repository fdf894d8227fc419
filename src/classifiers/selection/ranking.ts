/** Cross-validated scores: their summary over the folds and their ranking. */

/** Mean and population standard deviation of a point's fold scores (scikit-learn's mean_test_score and std_test_score). */
export function foldStats(folds: number[]): { mean: number; std: number } {
  const mean = folds.reduce((a, b) => a + b, 0) / folds.length;
  const std = Math.sqrt(folds.reduce((a, b) => a + (b - mean) ** 2, 0) / folds.length);
  return { mean, std };
}

/** Ranks of the means, 1 = best, ties sharing the lower rank (scipy's rankdata 'min'). */
export function ranks(means: number[]): number[] {
  return means.map((m) => 1 + means.filter((other) => other > m).length);
}

/**
 * Ranks of a successive halving's results: round-2 results first (they are what was chosen
 * from), then round 1's after them, each round ranked by its means as {@link ranks} does.
 */
export function halvingRanks(results: { round?: 1 | 2; mean: number }[]): number[] {
  const round2 = results.filter((r) => r.round === 2).length;
  return results.map((r, i) => {
    const same = results.filter((x) => x.round === r.round);
    return (r.round === 2 ? 0 : round2) + ranks(same.map((x) => x.mean))[same.indexOf(results[i]!)]!;
  });
}
