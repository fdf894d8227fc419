/**
 * Kernel (Gram) matrices for libsvm's precomputed-kernel mode.
 *
 * The expensive part, the matrix of dot products A·Bᵀ, runs as a one-node ONNX graph
 * (`Gemm`, transB=1, float64) in onnxruntime-node, which uses all cores and blocked BLAS-like
 * code: 2,500 × 2,500 × 2,048 takes well under a second, where a JavaScript loop takes ~20 s.
 * float64 keeps libsvm's solver on the same numbers as its own kernel evaluation would.
 *
 * Matrices are dense, row-major `Float64Array`s.
 */
import type * as Ort from 'onnxruntime-node';
import { CnnfeatError, errorMessage } from '../errors.js';
import { GraphBuilder } from '../formats/onnx-graph.js';
import type { Kernel } from './svm.js';

interface GramRunner {
  ort: typeof Ort;
  session: Ort.InferenceSession;
}

let runnerPromise: Promise<GramRunner> | undefined;

/** Serialises the ONNX model `K = Gemm(A, B, transB=1)` on float64 inputs of any size. */
function gemmModelBytes(): Uint8Array {
  const graph = new GraphBuilder(['A', 'B', 'K']);
  graph.addInput('A', ['n', 'd'], 'float64');
  graph.addInput('B', ['m', 'd'], 'float64');
  graph.addNode('Gemm', ['A', 'B'], 'gram', { transB: 1 }, { output: 'K' });
  graph.addOutput('K', ['n', 'm'], 'float64');
  return graph.toBytes('cnnfeat-gram', 'K = A·Bᵀ');
}

/** Loads onnxruntime-node and the Gemm session once per process. */
function gramRunner(): Promise<GramRunner> {
  runnerPromise ??= (async () => {
    try {
      const ort = (await import('onnxruntime-node')) as typeof Ort;
      const session = await ort.InferenceSession.create(gemmModelBytes(), { logSeverityLevel: 3 });
      return { ort, session };
    } catch (err) {
      runnerPromise = undefined;
      throw new CnnfeatError(`kernel matrix: onnxruntime-node could not run the product graph (${errorMessage(err)}); reinstall cnnfeat's dependencies`, 1);
    }
  })();
  return runnerPromise;
}

/**
 * Dot products of every row of `A` with every row of `B`: the `n` × `m` matrix A·Bᵀ.
 * @param A row-major `n` × `d`
 * @param n rows of A
 * @param B row-major `m` × `d` (may be the same array as A)
 * @param m rows of B
 * @param d columns of both
 */
export async function crossProducts(A: Float64Array, n: number, B: Float64Array, m: number, d: number): Promise<Float64Array> {
  if (n === 0 || m === 0) return new Float64Array(0);
  const { ort, session } = await gramRunner();
  const out = await session.run({
    A: new ort.Tensor('float64', A, [n, d]),
    B: new ort.Tensor('float64', B, [m, d]),
  });
  const K = out['K'];
  if (!K) throw new CnnfeatError('kernel matrix: the product graph returned no output', 1);
  return K.data as Float64Array;
}

/**
 * Squared Euclidean norm of every row.
 * @param X row-major `n` × `d`
 */
export function rowSquaredNorms(X: ArrayLike<number>, n: number, d: number): Float64Array {
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    const base = i * d;
    for (let j = 0; j < d; j++) acc += X[base + j] * X[base + j];
    norms[i] = acc;
  }
  return norms;
}

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

/**
 * Copies the sub-matrix K[rows][cols] of a row-major matrix with `stride` columns.
 * @returns row-major `rows.length` × `cols.length`
 */
export function subMatrix(K: Float64Array, stride: number, rows: number[], cols: number[]): Float64Array {
  const out = new Float64Array(rows.length * cols.length);
  rows.forEach((r, i) => {
    const src = r * stride;
    const dst = i * cols.length;
    for (let j = 0; j < cols.length; j++) out[dst + j] = K[src + cols[j]];
  });
  return out;
}
