/** mulberry32: a small seeded PRNG, the same on every platform (reproducible splits and folds). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Shuffles the first `count` items in place (Fisher–Yates from the end: item i swaps with a
 * uniformly drawn j ≤ i), drawing from `random`: the one shuffle of splits, folds and solvers.
 */
export function shuffleInPlace(items: number[] | Int32Array, random: () => number, count = items.length): void {
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const held = items[i]!;
    items[i] = items[j]!;
    items[j] = held;
  }
}
