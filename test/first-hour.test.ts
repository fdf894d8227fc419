// What a new user hit in a first hour (issue 14): a split root given to extract, errors that came
// late or pointed nowhere, and the small traps of the set-up.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { CLI, fileTempDir, json, makeColourDataset, makeTinyModel, manifestOf, ROOT, runCli, writeImage, type CliResult, type ExtractJson } from './helpers.js';

let work: string;
let model: string;
let splitRoot: string;
let features: string;
let classifier: string;

before(async () => {
  work = await fileTempDir('cnnfeat-first-hour-');
  model = await makeTinyModel(path.join(work, 'tiny'));
  splitRoot = path.join(work, 'hymenoptera');
  await makeColourDataset(splitRoot, { perClass: 3, split: 'train' });
  await makeColourDataset(splitRoot, { perClass: 2, split: 'val' });
  features = path.join(work, 'feats');
  json<ExtractJson>(await runCli(['extract', path.join(splitRoot, 'train'), '-o', features, '--json', ...tiny()]));
  classifier = path.join(work, 'clf.json');
  const trained = await runCli(['train', features, '-o', classifier, '--classifier', 'svc', '--kernel', 'linear', '--C', '1', '--quiet']);
  assert.equal(trained.code, 0, trained.stderr);
});

const tiny = () => ['--model', model, '--preprocess', 'none', '--quiet'];

/** The CLI failed with exit 2 and printed exactly one line on stderr, matching `pattern`. */
function assertOneLine(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

test('extract refuses a train/val split root with the commands that fit, unless told the top folders are classes', async () => {
  const out = path.join(work, 'split-root-feats');
  const hint = /hymenoptera: is a train\/val split, not a folder of classes; extract one side \(cnnfeat extract .*hymenoptera\/train\) or all of it \(cnnfeat run .*hymenoptera\), or say .*\(--top-folders-are-classes\)$/;
  assertOneLine(await runCli(['extract', splitRoot, '-o', out, ...tiny()]), hint);
  assertOneLine(await runCli(['extract', splitRoot, '-o', out, '--update', ...tiny()]), hint);
  await assert.rejects(fsp.access(out), 'nothing is written when the layout is refused');

  const asClasses = json<ExtractJson>(await runCli(['extract', splitRoot, '-o', out, '--top-folders-are-classes', '--json', ...tiny()]));
  assert.equal(asClasses.rows, 10);
  assert.deepEqual((await manifestOf(out)).classes, ['train', 'val']);

  // Folders named train/ and test/ holding images directly are classes, not a split.
  const flat = path.join(work, 'flat');
  for (const [name, rgb] of [['train', [200, 30, 30]], ['test', [30, 30, 200]]] as const) {
    for (let i = 0; i < 2; i++) await writeImage(path.join(flat, name, `${i}.jpg`), { rgb: [...rgb], seed: i });
  }
  assert.equal(json<ExtractJson>(await runCli(['extract', flat, '-o', path.join(work, 'flat-feats'), '--json', ...tiny()])).rows, 4);
});

test('outputs are checked before training: a folder or a missing folder as -o fails at once, naming it', async () => {
  const folder = path.join(work, 'a-folder');
  await fsp.mkdir(folder, { recursive: true });
  // Not --quiet: a failure after the training would have logged the training first.
  const train = (output: string) => runCli(['train', features, '-o', output, '--classifier', 'svc']);
  assertOneLine(await train(folder), /a-folder: is a folder; the classifier file \(-o\) is a file path \(e\.g\. .*a-folder\/model\.json\)$/);
  assertOneLine(await train(path.join(work, 'nowhere', 'clf.json')), /clf\.json: cannot be written \(folder .*nowhere does not exist\); choose another path for the classifier file \(-o\)$/);
  assertOneLine(
    await runCli(['eval', classifier, features, '--report', folder]),
    /a-folder: is a folder; the report \(--report\) is a file path \(e\.g\. .*a-folder\/report\.html\)$/,
  );
});

test('arguments in the wrong order, or the classifier file given as the network, say which is which', async () => {
  assertOneLine(
    await runCli(['eval', features, classifier]),
    /feats: is a feature directory, not a classifier file; the classifier file \(a model\.json written by `cnnfeat train`\) comes first, the feature directory second$/,
  );
  assertOneLine(await runCli(['predict', path.join(splitRoot, 'val'), classifier]), /val: is a folder, not a classifier file; the classifier file .* comes first$/);
  assertOneLine(
    await runCli(['extract', path.join(splitRoot, 'val'), '-o', path.join(work, 'never'), '--model', classifier, '--preprocess', 'none']),
    /clf\.json: is a cnnfeat classifier file, not a network; --model takes the network the features come from \(this classifier's: .*model\.json\), and the classifier file goes to cnnfeat eval or predict$/,
  );
});

test('a finished output directory names --resume; a mistyped --layer fails before any export, with the closest names and the full command', async () => {
  assertOneLine(await runCli(['extract', path.join(splitRoot, 'train'), '-o', features, ...tiny()]), /already holds finished features; reuse them \(--resume\), replace them \(--overwrite\)/);
  // A fresh cache: the export of a correct cut would be announced on stderr (not --quiet here).
  const env = { CNNFEAT_CACHE: path.join(work, 'fresh-cache') };
  const typo = await runCli(['extract', path.join(splitRoot, 'val'), '-o', path.join(work, 'never'), '--model', model, '--preprocess', 'none', '--layer', 'featurs'], { env });
  assertOneLine(typo, /^cnnfeat: --layer featurs: .*model\.json has no layer named "featurs"; closest: "features" \(all of them: `cnnfeat layers .*model\.json`\)$/);
  const listed = await runCli(['layers', model, '--json'], { env });
  assert.equal(listed.code, 0, 'the command the message gives works as written');
});

test('--help shows every default as a value, not a quoted string', async () => {
  const commands = ['extract', 'merge', 'train', 'eval', 'predict', 'run', 'layers', 'info', 'models list', 'models pull', 'models add'];
  for (const command of commands) {
    const help = await runCli([...command.split(' '), '--help']);
    assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
    assert.doesNotMatch(help.stdout, /\(default: "/, `${command} --help quotes a default`);
  }
});

test('in a clone, npm reads the project .npmrc without a warning, and an unbuilt cnnfeat says how to build it', async () => {
  const { stderr } = await promisify(execFile)('npm', ['config', 'get', 'ignore-scripts'], { cwd: ROOT });
  assert.doesNotMatch(stderr, /warn/i, 'every npm and npx call in the clone would print this');
  const unbuilt = path.join(work, 'unbuilt');
  await fsp.mkdir(path.join(unbuilt, 'bin'), { recursive: true });
  await fsp.copyFile(CLI, path.join(unbuilt, 'bin', 'cnnfeat.js'));
  const r = await new Promise<CliResult>((resolve) =>
    execFile(process.execPath, [path.join(unbuilt, 'bin', 'cnnfeat.js'), '--help'], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
  assertOneLine(r, /^cnnfeat: dist\/cli\.js: cnnfeat is not built; run `npm run build` in its folder$/);
});
