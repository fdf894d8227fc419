// Seeded numbers for the bench's synthetic data.

/** Seeded uniform numbers in [0, 1) (LCG; good enough for test data). */
export function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}
