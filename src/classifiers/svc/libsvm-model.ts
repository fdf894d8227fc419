/**
 * Reading libsvm's text model format, to recompute one-vs-one decision values (libsvm-js
 * exposes none) from kernel rows.
 */
import { CnnfeatError } from '../../errors.js';
import type { Kernel } from './kernel-matrix.js';

/** The parts of a libsvm text model needed to recompute one-vs-one decision values. */
export interface ParsedLibsvmModel {
  kernel: Kernel;
  gamma: number;
  /** libsvm label of each of the k internal classes, in libsvm's order. */
  labels: number[];
  /** Number of support vectors of each internal class. */
  nrSv: number[];
  /** Bias of each of the k(k-1)/2 pairwise classifiers, in libsvm's (i<j) order. */
  rho: number[];
  /** k-1 rows of `totalSv` dual coefficients (libsvm's sv_coef). */
  coef: Float64Array[];
  /** Support vectors, row-major `totalSv` x `d`. */
  sv: Float64Array;
  totalSv: number;
}

/** Splits a libsvm model text into its header map and its SV lines. */
function splitLibsvmText(text: string): { header: Map<string, string[]>; svLines: string[] } {
  const lines = text.split('\n');
  const svAt = lines.indexOf('SV');
  if (svAt < 0) throw new CnnfeatError('SVM model: libsvm text has no SV section');
  const header = new Map<string, string[]>();
  for (const line of lines.slice(0, svAt)) {
    const [key, ...values] = line.trim().split(/\s+/);
    if (key) header.set(key, values);
  }
  return { header, svLines: lines.slice(svAt + 1).filter((l) => l.trim() !== '') };
}

/** Numeric header values, or a clear error when missing. */
function headerNumbers(header: Map<string, string[]>, key: string): number[] {
  const values = header.get(key);
  if (!values) throw new CnnfeatError(`SVM model: libsvm text lacks "${key}"`);
  return values.map(Number);
}

/** Fills one SV line (`coef_1 .. coef_{k-1} idx:val ...`, 1-based sparse indices) into the parsed model. */
function parseSvLine(line: string, s: number, model: ParsedLibsvmModel, d: number): void {
  const tokens = line.trim().split(/\s+/);
  const k1 = model.coef.length;
  for (let c = 0; c < k1; c++) model.coef[c][s] = Number(tokens[c]);
  const base = s * d;
  for (let t = k1; t < tokens.length; t++) {
    const colon = tokens[t].indexOf(':');
    const index = Number(tokens[t].slice(0, colon)) - 1;
    if (index >= 0 && index < d) model.sv[base + index] = Number(tokens[t].slice(colon + 1));
  }
}

/**
 * Parses libsvm's text model (the format written by `svm_save_model` / `serializeModel`).
 * @param text the model text
 * @param d the feature dimension
 */
export function parseLibsvmModel(text: string, d: number): ParsedLibsvmModel {
  const { header, svLines } = splitLibsvmText(text);
  const k = headerNumbers(header, 'nr_class')[0];
  const totalSv = headerNumbers(header, 'total_sv')[0];
  if (svLines.length !== totalSv) {
    throw new CnnfeatError(`SVM model: libsvm text has ${svLines.length} support vectors, header says ${totalSv}`);
  }
  const model: ParsedLibsvmModel = {
    kernel: header.get('kernel_type')?.[0] === 'linear' ? 'linear' : 'rbf',
    gamma: header.has('gamma') ? headerNumbers(header, 'gamma')[0] : 0,
    labels: headerNumbers(header, 'label'),
    nrSv: headerNumbers(header, 'nr_sv'),
    rho: headerNumbers(header, 'rho'),
    coef: Array.from({ length: k - 1 }, () => new Float64Array(totalSv)),
    sv: new Float64Array(totalSv * d),
    totalSv,
  };
  svLines.forEach((line, s) => parseSvLine(line, s, model, d));
  return model;
}


/** Start offset of each internal class's support vectors. */
function svStarts(nrSv: number[]): number[] {
  const start = [0];
  for (let c = 1; c < nrSv.length; c++) start.push(start[c - 1] + nrSv[c - 1]);
  return start;
}

/**
 * Calls `visit(p, s, coef)` for every support vector `s` taking part in pairwise
 * classifier `p` = (i, j), i < j, in libsvm's order, with its dual coefficient in that
 * classifier: SVs of class i use coef[j-1], SVs of class j use coef[i] (libsvm's layout).
 */
function forEachPairTerm(m: ParsedLibsvmModel, visit: (p: number, s: number, coef: number) => void): void {
  const k = m.labels.length;
  const start = svStarts(m.nrSv);
  let p = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      for (let s = start[i]; s < start[i] + m.nrSv[i]; s++) visit(p, s, m.coef[j - 1][s]);
      for (let s = start[j]; s < start[j] + m.nrSv[j]; s++) visit(p, s, m.coef[i][s]);
      p++;
    }
  }
}

/**
 * One-vs-one decision values of a sample from its kernel values with every support vector,
 * computed as libsvm's svm_predict_values does (same order of sums, rho subtracted last), so
 * that their signs are exactly the duels libsvm decides.
 * @param m the parsed libsvm model
 * @param kv kernel value between the sample and each of the `totalSv` support vectors
 * @returns k(k-1)/2 values in libsvm's pair order (i < j); > 0 means pair (i, j) votes i
 */
export function decisionsFromKernelRow(m: ParsedLibsvmModel, kv: ArrayLike<number>): Float64Array {
  const dec = new Float64Array(m.rho.length);
  forEachPairTerm(m, (p, s, coef) => {
    dec[p] += coef * kv[s];
  });
  for (let p = 0; p < dec.length; p++) dec[p] -= m.rho[p];
  return dec;
}
