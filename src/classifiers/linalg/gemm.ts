/**
 * Dense matrix products as one-node ONNX graphs (`Gemm`) in onnxruntime-node, which uses all
 * cores and blocked BLAS-like code: 2,500 × 2,500 × 2,048 takes well under a second, where a
 * JavaScript loop takes ~20 s. float64 for kernel matrices (libsvm's solver then sees the same
 * numbers as its own kernel evaluation) and the logistic objective near its optimum, float32
 * for the linear classifiers' scores.
 *
 * Matrices are dense, row-major.
 */
import type * as Ort from 'onnxruntime-node';
import { CnnfeatError, errorMessage } from '../../errors.js';
import { GraphBuilder } from '../../formats/onnx-graph.js';

interface GramRunner {
  ort: typeof Ort;
  session: Ort.InferenceSession;
}

/** Serialises the ONNX model `K = Gemm(A, B)` (with the given transposes) on inputs of any size. */
function gemmModelBytes(type: 'float64' | 'float32', trans: { transA?: boolean; transB?: boolean }): Uint8Array {
  const graph = new GraphBuilder(['A', 'B', 'K']);
  graph.addInput('A', trans.transA ? ['k', 'n'] : ['n', 'k'], type);
  graph.addInput('B', trans.transB ? ['m', 'k'] : ['k', 'm'], type);
  graph.addNode('Gemm', ['A', 'B'], 'gram', { ...(trans.transA ? { transA: 1 } : {}), ...(trans.transB ? { transB: 1 } : {}) }, { output: 'K' });
  graph.addOutput('K', ['n', 'm'], type);
  return graph.toBytes('cnnfeat-gram', `K = ${trans.transA ? 'Aᵀ' : 'A'}·${trans.transB ? 'Bᵀ' : 'B'}`);
}

/** One Gemm session per element type and transposition, created on first use. */
const sessions = new Map<string, Promise<GramRunner>>();

function gemmRunner(type: 'float64' | 'float32', trans: { transA?: boolean; transB?: boolean }): Promise<GramRunner> {
  const key = `${type}|${trans.transA ? 1 : 0}${trans.transB ? 1 : 0}`;
  let runner = sessions.get(key);
  if (!runner) {
    runner = (async () => {
      try {
        const ort = (await import('onnxruntime-node')) as typeof Ort;
        // Idle intra-op threads sleep instead of spinning: the solvers call many small products and
        // need the cores for their own loops in between.
        const session = await ort.InferenceSession.create(gemmModelBytes(type, trans), { logSeverityLevel: 3, extra: { session: { intra_op: { allow_spinning: '0' } } } });
        return { ort, session };
      } catch (err) {
        sessions.delete(key);
        throw new CnnfeatError(`kernel matrix: onnxruntime-node could not run the product graph (${errorMessage(err)}); reinstall cnnfeat's dependencies`, 1);
      }
    })();
    sessions.set(key, runner);
  }
  return runner;
}

/**
 * float32 products for the linear classifiers, one onnxruntime Gemm on all cores (inputs are
 * wrapped, not copied; they must not live in a SharedArrayBuffer, see row-chunks.ts):
 * `A·Bᵀ` (A `n` × `k`, B `m` × `k`) → `n` × `m`; with `transA`, `Aᵀ·B` (A `k` × `n`,
 * B `k` × `m`) → `n` × `m`.
 */
export async function float32Product(A: Float32Array, aShape: [number, number], B: Float32Array, bShape: [number, number], transA = false): Promise<Float32Array> {
  return (await denseProduct('float32', A, aShape, B, bShape, transA)) as Float32Array;
}

/** {@link float32Product} in float64 (the logistic objective, whose line search needs exact values). */
export async function float64Product(A: Float64Array, aShape: [number, number], B: Float64Array, bShape: [number, number], transA = false): Promise<Float64Array> {
  return (await denseProduct('float64', A, aShape, B, bShape, transA)) as Float64Array;
}

async function denseProduct(type: 'float32' | 'float64', A: Float32Array | Float64Array, aShape: [number, number], B: Float32Array | Float64Array, bShape: [number, number], transA: boolean): Promise<Float32Array | Float64Array> {
  const rows = transA ? aShape[1] : aShape[0];
  const cols = transA ? bShape[1] : bShape[0];
  const empty = rows === 0 || cols === 0 || aShape[transA ? 0 : 1] === 0;
  if (empty) return type === 'float32' ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
  const { ort, session } = await gemmRunner(type, transA ? { transA: true } : { transB: true });
  const out = await session.run({ A: new ort.Tensor(type, A, aShape), B: new ort.Tensor(type, B, bShape) });
  const K = out['K'];
  if (!K) throw new CnnfeatError('kernel matrix: the product graph returned no output', 1);
  return K.data as Float32Array | Float64Array;
}

/**
 * Dot products of every row of `A` with every row of `B`: the `n` × `m` matrix A·Bᵀ.
 * @param A row-major `n` × `d`
 * @param n rows of A
 * @param B row-major `m` × `d` (may be the same array as A)
 * @param m rows of B
 * @param d columns of both
 */
export function crossProducts(A: Float64Array, n: number, B: Float64Array, m: number, d: number): Promise<Float64Array> {
  return float64Product(A, [n, d], B, [m, d]);
}
