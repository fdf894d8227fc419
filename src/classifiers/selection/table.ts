/** The cross-validation table in words: each point's columns, how it was validated, best first. */
import { isLinearPoint, type ModelSelection, type SelectionPoint } from './types.js';

/** The columns of a selection point in tables: classifier, kernel, C, gamma, scale ('-' where they do not apply). */
export function pointColumns(p: SelectionPoint): { classifier: string; kernel: string; C: string; gamma: string; scale: string } {
  if (isLinearPoint(p)) {
    return { classifier: p.classifier + (p.loss === 'hinge' ? ' (hinge)' : ''), kernel: '-', C: shortNumber(p.C), gamma: '-', scale: p.scale };
  }
  return { classifier: 'svc', kernel: p.kernel, C: shortNumber(p.C), gamma: p.kernel === 'rbf' ? shortNumber(p.gamma) : '-', scale: p.scale };
}

/** A number for a table column: small values in exponent form (4.88e-6), so that columns stay narrow. */
function shortNumber(value: number | string): string {
  return typeof value === 'number' && value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential(2).replace(/\.?0+e/, 'e') : String(value);
}

/** How a selection validated, in words: `5-fold stratified cross-validation` or `a stratified 20 % holdout`. */
export function describeValidation(s: Pick<ModelSelection, 'method' | 'folds' | 'valSize' | 'halving'>): string {
  const share = `${Math.round((s.valSize ?? 0) * 100)} %`;
  if (s.method === 'halving') return `successive halving on stratified ${share} held-out splits (every setting on ${s.halving?.rows} rows, the best ${s.halving?.keep} on all)`;
  return s.method === 'holdout' ? `one stratified held-out split (${share} of the rows)` : `${s.folds}-fold stratified cross-validation`;
}

/** The selection's results best first (by rank, then grid order), with their grid index. */
export function rankedResults(selection: ModelSelection): { result: ModelSelection['results'][number]; index: number }[] {
  return selection.results.map((result, index) => ({ result, index })).sort((a, b) => a.result.rank - b.result.rank || a.index - b.index);
}

/** The selection as a text table, best first (the chosen row marked `*`), at most `limit` rows. */
export function formatSelection(selection: ModelSelection, limit = 10): string {
  const sorted = rankedResults(selection).map(({ result, index }) => ({ r: result, i: index }));
  const lines = [`${describeValidation(selection)} (${selection.scoring}, seed ${selection.seed}), ${selection.results.length} settings in ${selection.seconds.toFixed(1)} s:`];
  lines.push('  rank  classifier  kernel  C          gamma     scale     score            fit ms');
  for (const { r, i } of sorted.slice(0, limit)) {
    const p = pointColumns(r.params);
    const notes = [...(r.round ? [`round ${r.round}, ${r.trainRows} training rows`] : []), ...(r.converged === false ? ['hit the iteration cap'] : [])];
    const warn = notes.length ? `  (${notes.join('; ')})` : '';
    lines.push(
      `${i === selection.best ? '*' : ' '} ${String(r.rank).padStart(4)}  ${p.classifier.padEnd(10)}  ${p.kernel.padEnd(6)}  ${p.C.padEnd(9)}  ${p.gamma.padEnd(8)}  ${p.scale.padEnd(8)}  ${r.mean.toFixed(4)} ± ${r.std.toFixed(4)}  ${(r.fitSeconds * 1000).toFixed(1)}${warn}`,
    );
  }
  if (sorted.length > limit) lines.push(`  … ${sorted.length - limit} more in the classifier file's "selection"`);
  return lines.join('\n');
}
