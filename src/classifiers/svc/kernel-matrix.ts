/**
 * Kernel (Gram) matrices for libsvm's precomputed-kernel mode: the dot products A·Bᵀ as one
 * float64 product (linalg/gemm.ts), turned into RBF values where asked.
 *
 * Matrices are dense, row-major `Float64Array`s.
 */
import { crossProducts } from '../linalg/gemm.js';
import { rowSquaredNorms } from '../linalg/matrix.js';

/** Kernel function of the SVM. */
export const KERNELS = ['linear', 'rbf'] as const;
export type Kernel = (typeof KERNELS)[number];

/**
 * Turns dot products into RBF kernel values in place: exp(-γ (‖a‖² + ‖b‖² − 2 a·b)),
 * the squared distance clamped at 0 against rounding.
 * @param P row-major `n` × `m` dot products, overwritten
 * @param normsA squared norms of the `n` rows
 * @param normsB squared norms of the `m` columns
 * @param gamma RBF width
 */
export function rbfFromProducts(P: Float64Array, normsA: Float64Array, normsB: Float64Array, gamma: number): Float64Array {
  const m = normsB.length;
  for (let i = 0; i < normsA.length; i++) {
    const base = i * m;
    const ni = normsA[i];
    for (let j = 0; j < m; j++) P[base + j] = Math.exp(-gamma * Math.max(0, ni + normsB[j] - 2 * P[base + j]));
  }
  return P;
}

/**
 * The kernel matrix K[i][j] = k(A_i, B_j) of a linear or RBF kernel.
 * @param kernel `linear` (a·b) or `rbf` (exp(-γ‖a−b‖²))
 * @param gamma RBF width (unused for linear)
 * @returns row-major `n` × `m`
 */
export async function kernelMatrix(
  kernel: Kernel,
  gamma: number,
  A: Float64Array,
  n: number,
  B: Float64Array,
  m: number,
  d: number,
): Promise<Float64Array> {
  const P = await crossProducts(A, n, B, m, d);
  if (kernel === 'linear') return P;
  return rbfFromProducts(P, rowSquaredNorms(A, n, d), A === B ? rowSquaredNorms(A, n, d) : rowSquaredNorms(B, m, d), gamma);
}
