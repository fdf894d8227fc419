// A first run with no data of one's own (issue 20): the README's first block (install, build and
// the main job on the CIFAR-10 sample; the tests), the sample itself, and `npm start` on it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeTinyModel, ROOT, runScript, tempDir, type CliResult } from './helpers.js';

const SAMPLE = path.join(ROOT, 'examples', 'cifar10-sample');
const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** The commands of the README's first fenced block, comments left out. */
function readmeFirstBlock(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /^```[^\n]*\n([\s\S]*?)^```/m.exec(readme);
  assert.ok(block, 'README.md has a fenced block');
  return block[1]!.trimEnd().split('\n').map((line) => line.replace(/\s+#.*$/, '').trim());
}

test("README's first block is two lines: install, build and the main job on the sample; the tests, which CI runs", () => {
  const [run, tests, ...more] = readmeFirstBlock();
  assert.deepEqual(more, [], 'exactly two lines');
  assert.equal(run, 'npm ci && npm start');
  assert.equal(tests, 'npm test');
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; files: string[] };
  assert.equal(pkg.scripts['start'], 'node scripts/start.mjs');
  const ci = readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8').split('\n');
  assert.ok(ci.includes(tests), `.ci/run runs the README's test command (${tests})`);
  assert.ok(!pkg.files.some((f) => 'examples/cifar10-sample'.startsWith(f)), 'the sample is for clones: not in the npm package');
});

test('the CIFAR-10 sample: train/ and test/ of the 10 classes, 30 + 10 JPEGs each, under 2 MB, its origin named', () => {
  let bytes = 0;
  for (const [side, count] of [['train', 30], ['test', 10]] as const) {
    assert.deepEqual(readdirSync(path.join(SAMPLE, side)).sort(), CLASSES, side);
    for (const c of CLASSES) {
      const files = readdirSync(path.join(SAMPLE, side, c));
      assert.equal(files.filter((f) => f.endsWith('.jpg')).length, count, `${side}/${c}`);
      for (const f of files) bytes += statSync(path.join(SAMPLE, side, c, f)).size;
    }
  }
  assert.ok(bytes < 2 * 1024 * 1024, `${bytes} bytes`);
  assert.match(readFileSync(path.join(SAMPLE, 'README.md'), 'utf8'), /CIFAR-10.*Krizhevsky/s);
});

/** Runs `npm start`'s script with extra arguments (those after `npm start --`). */
function start(args: string[]): Promise<CliResult> {
  return runScript(path.join(ROOT, 'scripts', 'start.mjs'), args);
}

test('npm start runs cnnfeat run on the sample, prints the accuracy and the report; run again, it reuses the features', async (t) => {
  // A tiny network instead of ResNet50 and an output folder of the test's own (later -o wins).
  const work = await tempDir(t, 'cnnfeat-start-');
  const model = await makeTinyModel(path.join(work, 'tiny'));
  const out = path.join(work, 'out');
  const args = ['-o', out, '--model', model, '--preprocess', 'none', '--classifier', 'logistic', '--C', '1'];
  const first = await start(args);
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stderr, /Building dist/, 'dist/ is up to date (npm test built it)');
  assert.match(first.stderr, /^cnnfeat run examples\/cifar10-sample -o out\/cifar10-sample --resume -o /m);
  assert.match(first.stderr, /given split \(train\/ \+ test\/\): 300 train \/ 100 test images, 10 classes/);
  assert.match(first.stdout, /^Accuracy +[01]\.\d{4} +\(\d+\/100\)$/m);
  assert.ok(first.stdout.includes(`Open ${path.join(out, 'report.html')} in a browser`), first.stdout);
  statSync(path.join(out, 'report.html'));
  // The output folder given as --output=dir or -odir: the report's path is still the one given.
  const rest = args.slice(2);
  for (const output of [`--output=${out}`, `-o${out}`]) {
    const again = await start([output, ...rest]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /train is already complete; reusing it/);
    assert.match(again.stdout, /^Accuracy/m);
    assert.ok(again.stdout.includes(`Open ${path.join(out, 'report.html')} in a browser`), `${output}: ${again.stdout}`);
  }
});
