// Shared by the device and precision tests: photo-like pixels and row-wise cosine.

/**
 * `n` photo-like RGB images (smooth colour fields, edges and noise), NHWC uint8: features of
 * flat test images are an unfair test of float16 (their activations sit at ReLU6's clip).
 */
export function photoBatch(n: number, height: number, width: number, seed = 1): Uint8Array {
  const out = new Uint8ClampedArray(n * height * width * 3); // rounds and clamps to 0–255
  let s = seed * 7919 + 17;
  for (let k = 0; k < n; k++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const noise = ((s >>> 16) % 41) - 20;
        const o = ((k * height + y) * width + x) * 3;
        out[o] = 128 + 90 * Math.sin(((2 + k) * Math.PI * x) / width + k) + noise;
        out[o + 1] = 128 + 90 * Math.cos(((1 + k) * Math.PI * y) / height + k / 3) + noise;
        out[o + 2] = ((x ^ y) & 16 ? 200 : 60) + noise;
      }
    }
  }
  return new Uint8Array(out.buffer);
}

/** The smallest cosine similarity between corresponding rows of two `rows × dim` matrices. */
export function cosineRows(a: ArrayLike<number>, b: ArrayLike<number>, dim: number): number {
  let worst = 1;
  for (let r = 0; r * dim < a.length; r++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      dot += a[i]! * b[i]!;
      na += a[i]! * a[i]!;
      nb += b[i]! * b[i]!;
    }
    if (na === 0 || nb === 0) throw new Error(`row ${r} is all zeros: the comparison would prove nothing`);
    worst = Math.min(worst, dot / Math.sqrt(na * nb));
  }
  return worst;
}
