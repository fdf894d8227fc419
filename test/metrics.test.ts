// Tests of classification metrics and their text report (run after `tsc`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CnnfeatError } from '../dist/errors.js';
import { formatMetrics } from '../dist/metrics/format.js';
import { computeMetrics, confusionMatrix, type ClassMetrics } from '../dist/metrics/metrics.js';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);
// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

// Hand-computed example. Confusion matrix (rows = true, cols = predicted):
//          cat dog bird
//   cat     2   1   1
//   dog     1   2   0
//   bird    0   1   2
// scikit-learn gives: accuracy_score 0.6, balanced_accuracy_score 0.6111111 (= (1/2 + 2/3 + 2/3) / 3),
// precision_recall_fscore_support: P = [2/3, 1/2, 2/3], R = [1/2, 2/3, 2/3], F1 = [4/7, 4/7, 2/3],
// support = [4, 3, 3]; f1_score(average='macro') = 38/63 = 0.6031746.
const CLASSES = ['cat', 'dog', 'bird'];
const Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
const Y_PRED = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];

test('hand-computed 3-class example matches scikit-learn values', () => {
  const m = computeMetrics(Y_TRUE, Y_PRED, CLASSES);
  assert.deepEqual(m.confusionMatrix, [
    [2, 1, 1],
    [1, 2, 0],
    [0, 1, 2],
  ]);
  assert.deepEqual(m.counts, { total: 10, correct: 6 });
  assert.deepEqual(m.classes, CLASSES);
  close(m.accuracy, 0.6, 'accuracy');
  close(m.balancedAccuracy, (1 / 2 + 2 / 3 + 2 / 3) / 3, 'balanced accuracy');
  close(m.macroF1, 38 / 63, 'macro F1');
  const expected: ClassMetrics[] = [
    { class: 'cat', precision: 2 / 3, recall: 1 / 2, f1: 4 / 7, support: 4 },
    { class: 'dog', precision: 1 / 2, recall: 2 / 3, f1: 4 / 7, support: 3 },
    { class: 'bird', precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, support: 3 },
  ];
  assert.equal(m.perClass.length, expected.length);
  m.perClass.forEach((c, i) => {
    const want = expected[i]!;
    assert.equal(c.class, want.class);
    assert.equal(c.support, want.support);
    for (const key of ['precision', 'recall', 'f1'] as const) close(c[key], want[key], `${c.class} ${key}`);
  });
});

test('zero division gives 0; averages follow scikit-learn label sets', () => {
  // a: predicted 3x (2 right); b: never predicted, never right; c: predicted once but absent;
  // d: neither present nor predicted.
  const m = computeMetrics([0, 0, 1, 1], [0, 0, 0, 2], ['a', 'b', 'c', 'd']);
  const [a, b, c, d] = m.perClass;
  close(a.precision, 2 / 3, 'a precision');
  assert.equal(a.recall, 1);
  close(a.f1, 0.8, 'a f1');
  assert.deepEqual(b, { class: 'b', precision: 0, recall: 0, f1: 0, support: 2 });
  assert.deepEqual(c, { class: 'c', precision: 0, recall: 0, f1: 0, support: 0 });
  assert.deepEqual(d, { class: 'd', precision: 0, recall: 0, f1: 0, support: 0 });
  assert.equal(m.accuracy, 0.5);
  // balanced_accuracy_score: mean recall over classes present in y_true (a, b) = (1 + 0) / 2.
  assert.equal(m.balancedAccuracy, 0.5);
  // f1_score(average='macro') over labels in y_true or y_pred (a, b, c) = 0.8 / 3.
  close(m.macroF1, 0.8 / 3, 'macro F1');
});

test('perfect and empty predictions', () => {
  const perfect = computeMetrics([1, 0, 1], [1, 0, 1], ['x', 'y']);
  assert.equal(perfect.accuracy, 1);
  assert.equal(perfect.balancedAccuracy, 1);
  assert.equal(perfect.macroF1, 1);
  const empty = computeMetrics([], [], ['x', 'y']);
  assert.deepEqual(empty.counts, { total: 0, correct: 0 });
  assert.equal(empty.accuracy, 0);
  assert.equal(empty.balancedAccuracy, 0);
  assert.equal(empty.macroF1, 0);
  assert.deepEqual(empty.confusionMatrix, [
    [0, 0],
    [0, 0],
  ]);
});

test('confusionMatrix counts rows = true, columns = predicted', () => {
  assert.deepEqual(confusionMatrix([0, 1, 1, 1], [1, 1, 0, 1], 2), [
    [0, 1],
    [1, 2],
  ]);
});

test('invalid label vectors are CnnfeatErrors', () => {
  const usage = (pattern: RegExp) => (err: unknown) => err instanceof CnnfeatError && err.exitCode === 2 && pattern.test(err.message);
  assert.throws(() => computeMetrics([0, 1], [0], ['a', 'b']), usage(/2 true labels but 1 predictions/));
  assert.throws(() => computeMetrics([0, 2], [0, 1], ['a', 'b']), usage(/true label 2/));
  assert.throws(() => computeMetrics([0, 1], [0, -1], ['a', 'b']), usage(/prediction -1/));
});

/** The lines of a report section, from its title line to the next blank line. */
function section(report: string, title: string): string[] {
  const lines = report.split('\n');
  const start = lines.findIndex((l) => l.startsWith(title));
  assert.ok(start >= 0, `section "${title}" present`);
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

test('formatted report: headline, aligned per-class table and confusion matrix with class names', () => {
  const m = computeMetrics(Y_TRUE, Y_PRED, ['cat', 'dog', 'a much longer bird name']);
  const report = formatMetrics(m);
  assert.doesNotMatch(report, /\x1b\[/, 'no colour unless asked');
  assert.match(report, /^Accuracy\s+0\.6000\s+\(6\/10\)$/m);
  assert.match(report, /^Balanced accuracy\s+0\.6111$/m);
  assert.match(report, /^Macro F1\s+0\.6032$/m);

  const table = section(report, 'Per class');
  assert.deepEqual(table[0].split(/\s+/), ['class', 'precision', 'recall', 'f1', 'support']);
  assert.match(table[1], /^cat\s+0\.6667\s+0\.5000\s+0\.5714\s+4$/);
  assert.match(table[3], /^a much longer bird name\s+0\.6667\s+0\.6667\s+0\.6667\s+3$/);
  assert.equal(new Set(table.map((l) => l.length)).size, 1, 'right-aligned columns: equal line lengths');
  for (const header of ['precision', 'recall', 'f1', 'support']) {
    const end = table[0].indexOf(header) + header.length;
    for (const line of table.slice(1)) assert.notEqual(line[end - 1], ' ', `${header} column ends at ${end}`);
  }

  const matrix = section(report, 'Confusion matrix');
  assert.equal(matrix.length, 4);
  assert.match(matrix[0], /^true \\ pred\s+cat\s+dog\s+a much long…$/);
  assert.match(matrix[1], /^cat\s+2\s+1\s+1$/);
  assert.match(matrix[3], /^a much longer bird name\s+0\s+1\s+2$/);
  assert.equal(new Set(matrix.map((l) => l.length)).size, 1, 'aligned matrix columns');
});

test('normalised confusion matrix shows row percentages; empty rows show "-"', () => {
  const m = computeMetrics([0, 0, 0, 0, 1], [0, 0, 0, 1, 1], ['yes', 'no', 'maybe']);
  const matrix = section(formatMetrics(m, { normalize: true }), 'Confusion matrix');
  assert.match(matrix[1], /^yes\s+75\.0%\s+25\.0%\s+0\.0%$/);
  assert.match(matrix[2], /^no\s+0\.0%\s+100\.0%\s+0\.0%$/);
  assert.match(matrix[3], /^maybe\s+-\s+-\s+-$/);
  assert.equal(new Set(matrix.map((l) => l.length)).size, 1);
});

test('colour only when asked, without breaking alignment', () => {
  const m = computeMetrics(Y_TRUE, Y_PRED, CLASSES);
  const plain = formatMetrics(m, { color: false });
  const coloured = formatMetrics(m, { color: true });
  assert.match(coloured, /\x1b\[32m\s*2\x1b\[0m/, 'diagonal counts in green');
  assert.match(coloured, /\x1b\[31m\s*1\x1b\[0m/, 'errors in red');
  assert.equal(stripAnsi(coloured), plain);
});
