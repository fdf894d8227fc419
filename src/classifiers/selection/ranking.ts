/** Ranking of cross-validated scores. */

/** Ranks of the means, 1 = best, ties sharing the lower rank (scipy's rankdata 'min'). */
export function ranks(means: number[]): number[] {
  return means.map((m) => 1 + means.filter((other) => other > m).length);
}
