import { CnnfeatError } from '../errors.js';

/**
 * Up to `count` names closest to `name`: those containing it first (shortest first), then those a
 * few edits away; the 3 least far when none is near.
 */
export function closestNames(name: string, names: string[], count = 5): string[] {
  const query = name.toLowerCase();
  const scored = [...new Set(names)].map((n) => {
    const lower = n.toLowerCase();
    const contains = lower.includes(query) || query.includes(lower);
    return { n, score: contains ? Math.abs(n.length - name.length) - 1000 : editDistance(query, lower) };
  });
  const ranked = scored.sort((a, b) => a.score - b.score || a.n.localeCompare(b.n));
  const near = ranked.filter((s) => s.score <= Math.max(2, Math.ceil(name.length / 3)));
  return (near.length > 0 ? near : ranked).slice(0, near.length > 0 ? count : 3).map((s) => s.n);
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The one-line error for a cut (`--layer`) the model does not have: the closest names it has,
 * and the command that lists all of them.
 * @param kind what the model's names are: Keras layers, GraphModel nodes or ONNX tensors
 * @param model the model as the user names it (card id, file or URL), for `cnnfeat layers <model>`;
 *   left out where only the loaded model is at hand
 */
export function unknownCutError(kind: 'layer' | 'node' | 'tensor', name: string, known: string[], model?: string): CnnfeatError {
  const near = closestNames(name, known).map((n) => `"${n}"`).join(', ');
  const listAll = model === undefined ? '' : ` (all of them: \`cnnfeat layers ${model}\`)`;
  return new CnnfeatError(`--layer ${name}: ${model ?? 'the model'} has no ${kind} named "${name}"; closest: ${near}${listAll}`);
}
