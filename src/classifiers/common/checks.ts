/** Checks of what every classifier trains and predicts on. */
import { CnnfeatError } from '../../errors.js';

/**
 * Checks the shape and values of a row-major matrix.
 * @throws CnnfeatError (exit 2) on a size mismatch or a non-finite value
 */
export function checkMatrix(X: Float32Array, n: number, d: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 1) {
    throw new CnnfeatError(`${what}: invalid matrix shape ${n}x${d}`);
  }
  if (X.length !== n * d) {
    throw new CnnfeatError(`${what}: matrix has ${X.length} values, expected ${n} rows x ${d} features = ${n * d}`);
  }
  for (let i = 0; i < X.length; i++) {
    if (!Number.isFinite(X[i])) {
      const row = Math.floor(i / d);
      throw new CnnfeatError(`${what}: non-finite feature value (${X[i]}) in row ${row}, feature ${i - row * d}`);
    }
  }
}
