// The reader of libsvm's text model format on its own (issue 20): a hand-written three-class model,
// its coefficients in libsvm's layout, the one-vs-one decision values worked out by hand, and the
// errors of damaged texts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decisionsFromKernelRow, parseLibsvmModel } from '../dist/classifiers/svc/libsvm-model.js';
import { CnnfeatError } from '../dist/errors.js';

/** Three classes; classes 0 and 1 have 2 and 1 support vectors, class 2 one; two coefficients per line. */
const MODEL = `svm_type c_svc
kernel_type rbf
gamma 0.5
nr_class 3
total_sv 4
rho 0.1 -0.2 0.3
label 0 1 2
nr_sv 2 1 1
SV
0.5 0.25 1:1 2:2
-0.5 0.75 1:0.5 3:1
1 -1 2:1.5
-1 1 1:-1 2:0.5
`;

test('parseLibsvmModel: header, coefficients by row and the sparse support vectors densified', () => {
  const m = parseLibsvmModel(MODEL, 3);
  assert.deepEqual([m.kernel, m.gamma, m.totalSv], ['rbf', 0.5, 4]);
  assert.deepEqual(m.labels, [0, 1, 2]);
  assert.deepEqual(m.nrSv, [2, 1, 1]);
  assert.deepEqual(m.rho, [0.1, -0.2, 0.3]);
  assert.deepEqual(m.coef.map((row) => Array.from(row)), [
    [0.5, -0.5, 1, -1],
    [0.25, 0.75, -1, 1],
  ]);
  assert.deepEqual(Array.from(m.sv), [1, 2, 0, 0.5, 0, 1, 0, 1.5, 0, -1, 0.5, 0]);
  assert.equal(parseLibsvmModel(MODEL.replace('kernel_type rbf', 'kernel_type linear').replace('gamma 0.5\n', ''), 3).kernel, 'linear');
  assert.deepEqual(Array.from(parseLibsvmModel(MODEL, 2).sv), [1, 2, 0.5, 0, 0, 1.5, -1, 0.5], 'indices past d are left out');
});

test('decisionsFromKernelRow: libsvm\'s pairs (0,1), (0,2), (1,2) from the coefficients, rho subtracted', () => {
  const m = parseLibsvmModel(MODEL, 3);
  // Pair (0,1): class 0's SVs with coef[0], class 1's with coef[0]: 0.5·1 − 0.5·2 + 1·3 − 0.1.
  // Pair (0,2): class 0's SVs with coef[1], class 2's with coef[0]: 0.25·1 + 0.75·2 − 1·4 + 0.2.
  // Pair (1,2): class 1's SV with coef[1], class 2's with coef[1]: −1·3 + 1·4 − 0.3.
  const dec = decisionsFromKernelRow(m, [1, 2, 3, 4]);
  const expected = [2.4, -2.05, 0.7];
  dec.forEach((v, p) => assert.ok(Math.abs(v - expected[p]!) < 1e-12, `pair ${p}: ${v}`));
});

test('parseLibsvmModel: a damaged text is a one-line CnnfeatError naming what is wrong', () => {
  const fails = (text: string, pattern: RegExp) => assert.throws(() => parseLibsvmModel(text, 3), (err: unknown) => err instanceof CnnfeatError && err.exitCode === 2 && pattern.test(err.message));
  fails(MODEL.replace('SV\n', ''), /libsvm text has no SV section/);
  fails(MODEL.replace('total_sv 4', 'total_sv 5'), /has 4 support vectors, header says 5/);
  fails(MODEL.replace('rho 0.1 -0.2 0.3\n', ''), /lacks "rho"/);
});
