// End-to-end tests of the CLI on generated images and a tiny TensorFlow.js model.
import assert from 'node:assert/strict';
import { promises as fsp, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { CLI_OPTION_FLAGS } from '../dist/cli.js';
import type { ImagePrediction } from '../dist/pipeline/predict.js';
import type { LayerInfo } from '../dist/engines/tfjs.js';
import type { EngineStatus } from '../dist/engines/select.js';
import type { Metrics } from '../dist/metrics/metrics.js';
import {
  ROOT,
  fileTempDir,
  json,
  makeColourDataset,
  makeTinyModel,
  manifestOf,
  readJson,
  runCli,
  startCli,
  writeImage,
  type CliResult,
  type ExtractJson,
  type TrainJson,
} from './helpers.js';

let work: string;
let model: string;
let images: string;

before(async () => {
  work = await fileTempDir('cnnfeat-cli-');
  model = await makeTinyModel(path.join(work, 'tiny'));
  images = await makeColourDataset(path.join(work, 'images'), { perClass: 6 });
  await fsp.writeFile(path.join(images, 'red', 'broken.jpg'), 'not a jpeg');
});

const tiny = () => ['--model', model, '--preprocess', 'none', '--quiet'];
/** The CLI failed with `code` and printed one line on stderr that matches `pattern`. */
function assertFails(r: CliResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

/** The label of a prediction, or its error. */
const labelOf = (p: ImagePrediction | undefined) => (p === undefined ? 'missing' : 'label' in p ? p.label : `error: ${p.error}`);

test('extract writes features.npy, samples.csv and manifest.json; skips the broken file', async () => {
  const out = path.join(work, 'feat');
  const result = json<ExtractJson>(await runCli(['extract', images, '-o', out, '--json', '--batch-size', '4', ...tiny()]));
  assert.equal(result.rows, 12);
  assert.equal(result.dim, 8);
  assert.equal(result.engine, 'onnx', 'auto runs an exportable model on onnxruntime');
  assert.deepEqual(result.skipped.map((s) => s.path), ['red/broken.jpg']);
  assert.ok(result.imagesPerSecond > 0);

  const manifest = await manifestOf(out);
  assert.equal(manifest.settings.layer, 'features');
  assert.equal(manifest.settings.dim, 8);
  assert.deepEqual(manifest.classes, ['blue', 'red']);
  assert.deepEqual(manifest.counts, { rows: 12, planned: 13, skipped: 1, perClass: { blue: 6, red: 6 } });
  assert.match(manifest.settings.weightsDigest, /^sha256:[0-9a-f]{64}$/);
  const csv = (await fsp.readFile(path.join(out, 'samples.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'row,path,label');
  assert.equal(csv.length, 13);
  assert.ok(csv.every((line, i) => i === 0 || line.startsWith(`${i - 1},`)));
  assert.ok(!csv.some((l) => l.includes('broken')));
  const npy = await fsp.readFile(path.join(out, 'features.npy'));
  assert.equal(npy.length, 128 + 12 * 8 * 4);

  assertFails(await runCli(['extract', images, '-o', out, ...tiny()]), 2, /already holds finished features; reuse them \(--resume\), replace them \(--overwrite\)/);
  assert.equal(json<ExtractJson>(await runCli(['extract', images, '-o', out, '--overwrite', '--json', ...tiny()])).rows, 12);
});

test('extract --strict fails at the broken file, naming it', async () => {
  const r = await runCli(['extract', images, '-o', path.join(work, 'strict'), '--strict', ...tiny()]);
  assertFails(r, 2, /red\/broken\.jpg: .*leave strict mode \(--strict\) off/);
});

test('train, eval (text, --json, gates) and predict on the extracted features', async () => {
  const feat = path.join(work, 'feat');
  const clf = path.join(work, 'clf.json');
  const trained = json<TrainJson>(await runCli(['train', feat, '-o', clf, '--json', '--quiet']));
  assert.deepEqual(trained.classes, ['blue', 'red']);
  assert.ok(['svc', 'linear-svm', 'logistic'].includes(trained.classifier), trained.classifier);

  const m = json<Metrics>(await runCli(['eval', clf, feat, '--json']));
  assert.equal(m.accuracy, 1);
  assert.equal(m.balancedAccuracy, 1);
  assert.equal(m.macroF1, 1);
  assert.deepEqual(m.confusionMatrix, [[6, 0], [0, 6]]);
  assert.deepEqual(m.counts, { total: 12, correct: 12 });
  assert.equal(m.perClass.length, 2);

  const text = await runCli(['eval', clf, feat]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /accuracy/i);
  assert.match(text.stdout, /blue/);

  // Red images labelled blue and vice versa: accuracy 0, the gate fails with exit code 3.
  const swapped = path.join(work, 'swapped');
  await makeColourDataset(swapped, { perClass: 3 });
  await fsp.rename(path.join(swapped, 'red'), path.join(swapped, 'tmp'));
  await fsp.rename(path.join(swapped, 'blue'), path.join(swapped, 'red'));
  await fsp.rename(path.join(swapped, 'tmp'), path.join(swapped, 'blue'));
  json(await runCli(['extract', swapped, '-o', path.join(work, 'swapped-feat'), '--json', ...tiny()]));
  assertFails(await runCli(['eval', clf, path.join(work, 'swapped-feat'), '--min-accuracy', '0.5', '--json']), 3, /accuracy 0\.0000 is below --min-accuracy 0\.5/);

  const preds = json<ImagePrediction[]>(await runCli(['predict', clf, path.join(images, 'blue'), path.join(images, 'red', 'img000.jpg'), '--json', '--quiet']));
  assert.equal(preds.length, 7);
  // Two classes: the predicted class's decision value is ≥ 0, its probability ≥ 1/2.
  assert.ok(preds.slice(0, 6).every((p) => 'label' in p && p.label === 'blue' && (p.scoreKind === 'decision' ? p.score >= 0 : p.score >= 0.5 && p.score <= 1)));
  assert.equal(labelOf(preds[6]), 'red');
  // The network moved since training: a clear pointer to -m, and -m finds it by its weights digest.
  const moved = path.join(work, 'tiny-moved');
  await fsp.cp(path.dirname(model), path.join(work, 'tiny-copy'), { recursive: true });
  const clfCopy = path.join(work, 'clf-copy.json');
  json(await runCli(['extract', images, '-o', path.join(work, 'feat-copy'), '--json', '--model', path.join(work, 'tiny-copy', 'model.json'), '--preprocess', 'none', '--quiet']));
  json(await runCli(['train', path.join(work, 'feat-copy'), '-o', clfCopy, '--json', '--quiet']));
  await fsp.rename(path.join(work, 'tiny-copy'), moved);
  assertFails(await runCli(['predict', clfCopy, path.join(images, 'blue')]), 2, /tiny-copy\/model\.json is not there any more; point at it with -m/);
  const found = json<ImagePrediction[]>(await runCli(['predict', clfCopy, path.join(images, 'blue'), '-m', path.join(moved, 'model.json'), '--json', '--quiet']));
  assert.equal(found.length, 6);
  assert.ok(found.every((p) => labelOf(p) === 'blue'));

  const bad = await runCli(['predict', clf, path.join(images, 'red', 'broken.jpg'), '--quiet']);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /broken\.jpg\tERROR/);
});

test('eval and predict on a linear model.json edited without its classifier: the corrupt-model line (exit 2)', async () => {
  const feat = path.join(work, 'feat');
  const clf = path.join(work, 'clf-logistic.json');
  json<TrainJson>(await runCli(['train', feat, '-o', clf, '--classifier', 'logistic', '--C', '1', '--json', '--quiet']));
  const file = await readJson<{ model: { options: Record<string, unknown> } }>(clf);
  delete file.model.options['classifier'];
  const edited = path.join(work, 'clf-edited.json');
  await fsp.writeFile(edited, JSON.stringify(file));
  assertFails(await runCli(['eval', edited, feat]), 2, /^cnnfeat: linear model: unknown "options\.classifier" \(corrupt model\?\)$/);
  assertFails(await runCli(['predict', edited, path.join(images, 'blue'), '--quiet']), 2, /^cnnfeat: linear model: unknown "options\.classifier" \(corrupt model\?\)$/);
});

test('eval refuses features made by another layer', async () => {
  const other = path.join(work, 'conv-feat');
  json(await runCli(['extract', images, '-o', other, '--layer', 'conv', '--json', ...tiny()]));
  assertFails(await runCli(['eval', path.join(work, 'clf.json'), other]), 2, /layer conv ≠ features/);
});

test('run: stratified split, writes train/, test/, model.json, metrics.json and prints the eval object', async () => {
  const out = path.join(work, 'run');
  const m = json<Metrics>(await runCli(['run', images, '-o', out, '--json', '--test-size', '0.34', ...tiny()]));
  assert.equal(m.accuracy, 1);
  const testManifest = await manifestOf(path.join(out, 'test'));
  assert.equal(testManifest.counts.planned, 4, 'round(0.34 × 6) + round(0.34 × 7) test images');
  assert.equal(m.counts.total, testManifest.counts.rows);
  for (const name of ['train/features.npy', 'test/features.npy', 'model.json', 'metrics.json']) await fsp.access(path.join(out, name));
  assert.deepEqual(await readJson<Metrics>(path.join(out, 'metrics.json')), m);

  const split = path.join(work, 'split');
  await makeColourDataset(split, { perClass: 4, split: 'train' });
  await makeColourDataset(split, { perClass: 2, split: 'val', start: 50 });
  const given = json<Metrics>(await runCli(['run', split, '-o', path.join(work, 'run2'), '--json', ...tiny()]));
  assert.equal(given.counts.total, 4);
});

test('bad input: one clear line and exit code 2', async () => {
  assertFails(await runCli(['extract', path.join(work, 'nope'), '-o', path.join(work, 'x'), ...tiny()]), 2, /nope: no such folder/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--model', path.join(work, 'no-model.json')]), 2, /not a model id/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--batch-size', '0', ...tiny()]), 2, /--batch-size must be a positive integer/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--model', model]), 2, /no model card gives its preprocessing; name it \(--preprocess/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--layer', 'nope', ...tiny()]), 2, /no layer named "nope"/);
  assertFails(await runCli(['train', images, '-o', path.join(work, 'm.json')]), 2, /not a cnnfeat feature directory/);
  assertFails(await runCli(['eval', path.join(work, 'nope.json'), path.join(work, 'feat')]), 2, /no such file/);
  assertFails(await runCli(['extract', images]), 2, /^cnnfeat: required option '-o, --output <dir>' not specified \(see --help\)$/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--resum']), 2, /unknown option '--resum' \(Did you mean --resume\?\)/);
  assertFails(await runCli(['train', path.join(work, 'feat'), '-o', path.join(work, 'm.json'), '--C', '0']), 2, /--C must be a number > 0, got 0$/);
  assertFails(await runCli(['eval', path.join(work, 'clf.json'), path.join(work, 'feat'), '--min-accuracy', '']), 2, /--min-accuracy must be a number/);
  assertFails(await runCli(['train', path.join(work, 'nope'), '-o', path.join(work, 'm.json')]), 2, /nope: no such folder/);
  // A bad --grid is refused with the other options, before the features are read.
  assertFails(await runCli(['train', path.join(work, 'nope'), '-o', path.join(work, 'm.json'), '--grid', 'C=0']), 2, /^cnnfeat: --grid: C=0 is not a positive number; e\.g\. --grid "/);
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--device', 'tpu', ...tiny()]), 2, /^cnnfeat: --device tpu: unknown device; use one of auto, cpu/);
  const onlyTrain = path.join(work, 'only-train');
  await makeColourDataset(onlyTrain, { perClass: 2, split: 'train' });
  assertFails(await runCli(['run', onlyTrain, '-o', path.join(work, 'never'), ...tiny()]), 2, /has train\/ but no test\/ or val\/ folder/);
  const allBroken = path.join(work, 'all-broken');
  for (const c of ['a', 'b']) {
    await fsp.mkdir(path.join(allBroken, c), { recursive: true });
    await fsp.writeFile(path.join(allBroken, c, 'x.jpg'), 'not an image');
  }
  const broken = await runCli(['extract', allBroken, '-o', path.join(work, 'all-broken-feat'), ...tiny()]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr.trim().split('\n').at(-1) ?? '', /none of the 2 images could be decoded/);

  const notJson = path.join(work, 'not-json.json');
  await fsp.writeFile(notJson, '{ nope');
  assertFails(await runCli(['extract', images, '-o', path.join(work, 'x'), '--model', notJson, '--preprocess', 'none']), 2, /not-json\.json: not valid JSON/);
  assertFails(await runCli(['eval', notJson, path.join(work, 'feat')]), 2, /not-json\.json: not valid JSON/);
  await fsp.writeFile(notJson, 'null');
  assertFails(await runCli(['eval', notJson, path.join(work, 'feat')]), 2, /not a cnnfeat classifier/);
  const aFile = path.join(work, 'a-file');
  await fsp.writeFile(aFile, '');
  assertFails(await runCli(['extract', images, '-o', aFile, ...tiny()]), 2, /a-file: already exists|a-file.*not a folder/);
  assertFails(await runCli(['train', path.join(work, 'feat'), '-o', path.join(work, 'no', 'dir', 'clf.json'), '--quiet']), 2, /clf\.json: cannot be written \(folder .*no\/dir does not exist\)/);
  const gate = await runCli(['run', images, '-o', path.join(work, 'never'), '--min-accuracy', 'abc', ...tiny()]);
  assertFails(gate, 2, /--min-accuracy must be a number/);
  await assert.rejects(fsp.access(path.join(work, 'never')), 'nothing is extracted before the options are checked');
  const noClass = path.join(work, 'unknown-class');
  await makeColourDataset(noClass, { perClass: 2, split: 'train' });
  await writeImage(path.join(noClass, 'test', 'green', '0.jpg'), { rgb: [0, 200, 0] });
  assertFails(await runCli(['run', noClass, '-o', path.join(work, 'never'), ...tiny()]), 2, /green have no training images in/);
});

test('--resume checks what it continues; a finished directory is reused only when made the same way', async () => {
  const out = path.join(work, 'feat');
  const again = json<ExtractJson>(await runCli(['extract', images, '-o', out, '--resume', '--json', ...tiny()]));
  assert.equal(again.rows, 12);
  assertFails(await runCli(['extract', images, '-o', out, '--resume', '--layer', 'conv', ...tiny()]), 2, /finished but was made with layer features \(now conv\), pooled false \(now true\); add --layer features to reuse it, or overwrite it \(--overwrite\)/);
  assertFails(await runCli(['extract', path.join(work, 'swapped'), '-o', out, '--resume', ...tiny()]), 2, /different image folder or file list/);
  // Same folder and count, one file renamed since: not the same input.
  const renamed = path.join(work, 'renamed');
  await makeColourDataset(renamed, { perClass: 2 });
  const renamedOut = path.join(work, 'renamed-feat');
  json<ExtractJson>(await runCli(['extract', renamed, '-o', renamedOut, '--json', ...tiny()]));
  await fsp.rename(path.join(renamed, 'red', 'img000.jpg'), path.join(renamed, 'red', 'img999.jpg'));
  assertFails(await runCli(['extract', renamed, '-o', renamedOut, '--resume', ...tiny()]), 2, /different image folder or file list; overwrite it \(--overwrite\)/);

  // An unfinished extraction of a folder that changed since is not silently mixed.
  const grow = path.join(work, 'grow');
  await makeColourDataset(grow, { perClass: 3 });
  const partial = path.join(work, 'grow-feat');
  await fsp.mkdir(partial);
  await fsp.writeFile(
    path.join(partial, '.cnnfeat-plan.json'),
    JSON.stringify({ imageRoot: grow, classes: ['blue', 'red'], settings: (await manifestOf(out)).settings, files: [] }),
  );
  assertFails(await runCli(['extract', grow, '-o', partial, ...tiny()]), 2, /unfinished extraction; resume it \(--resume\)/);
  assertFails(await runCli(['extract', grow, '-o', partial, '--resume', ...tiny()]), 2, /the image list changed since the extraction started \(0 files then, 6 now\)/);
  assert.equal(json<ExtractJson>(await runCli(['extract', grow, '-o', partial, '--overwrite', '--json', ...tiny()])).rows, 6);
});

test('every option a library message names (optionName) has its flag in the CLI, so that the CLI names the flag', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
  const named = new Set(sources(path.join(ROOT, 'src')).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/\boptionName\('(\w+)'/g)].map((m) => m[1]!)));
  assert.ok(named.has('device') && named.has('grid'), [...named].join(' '));
  const flags: Readonly<Record<string, string>> = CLI_OPTION_FLAGS;
  assert.deepEqual([...named].filter((option) => !flags[option]), []);
  for (const option of ['device', 'precision', 'decoders', 'icc', 'tta', 'augment', 'cropFraction', 'resize', 'batchSize', 'threads']) assert.match(flags[option] ?? 'none', /^--[a-z-]+$/, option);
});

test('layers lists names and shapes; info reports the engines', async () => {
  const layers = json<(LayerInfo & { default: boolean })[]>(await runCli(['layers', model, '--json']));
  assert.deepEqual(layers.map((l) => l.name), ['input', 'conv', 'features', 'head']);
  assert.deepEqual(layers[2]?.outputShape, [null, 8]);
  assert.deepEqual(layers.filter((l) => l.default).map((l) => l.name), ['features']);
  const text = await runCli(['layers', model]);
  assert.match(text.stdout, /^features .*<- default feature layer$/m);
  const info = json<{ engines: EngineStatus[]; auto: string; cacheDir: string }>(await runCli(['info', '--json']));
  assert.deepEqual(info.engines.filter((e) => e.available).map((e) => e.engine).slice(0, 1), ['onnx']);
  assert.match(info.auto, /^onnx .* else tfjs-(wasm|node)$/);
  assert.ok(info.cacheDir.length > 0);
});

/** Waits until an extraction into `out` has checkpointed `rows` rows; fails if `child` ends first. */
async function waitForRows(out: string, rows: number, child: ReturnType<typeof startCli>): Promise<void> {
  const progressFile = path.join(out, '.cnnfeat-progress.json');
  for (;;) {
    assert.equal(child.exitCode, null, `the extraction ended before ${rows} rows were checkpointed`);
    const progress = await readJson<{ rows: number }>(progressFile).catch(() => null);
    if (progress && progress.rows >= rows) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('kill -9 during extraction, then --resume: the result equals an uninterrupted run', async () => {
  const many = path.join(work, 'many');
  for (let i = 0; i < 160; i++) {
    await writeImage(path.join(many, i % 2 ? 'a' : 'b', `${i}.png`), { width: 24, height: 24, rgb: [i, 255 - i, 100], seed: i, format: 'png' });
  }
  const args = (out: string) => ['extract', many, '-o', out, '--batch-size', '2', ...tiny()];
  const reference = path.join(work, 'many-ref');
  assert.equal((await runCli(args(reference))).code, 0);

  for (const threshold of [1, 20, 60]) {
    const out = path.join(work, `many-killed-${threshold}`);
    const child = startCli(args(out));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await waitForRows(out, threshold, child);
    child.kill('SIGKILL');
    await exited;
    const incomplete = await runCli(args(out));
    assert.equal(incomplete.code, 2);
    assert.match(incomplete.stderr, /unfinished extraction; resume it \(--resume\)/);
    const resumed = await runCli([...args(out), '--resume', '--json']);
    assert.equal(json<ExtractJson>(resumed).rows, 160);
    for (const name of ['features.npy', 'samples.csv']) {
      assert.ok((await fsp.readFile(path.join(out, name))).equals(await fsp.readFile(path.join(reference, name))), `${name} after kill at ${threshold}`);
    }
    assert.equal((await manifestOf(out)).timings.resumed, true);
  }

  // SIGINT / SIGTERM: stop at the next checkpoint with 130 / 143 and a one-line hint.
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const out = path.join(work, `many-${sig}`);
    const child = startCli(args(out));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await waitForRows(out, 10, child);
    child.kill(sig);
    assert.equal(await exited, code, stderr);
    assert.match(stderr, new RegExp(`${sig}: stopping after the current batch`));
    assert.match(stderr, /cnnfeat: interrupted; \d+ rows are saved in .*, resume \(--resume\) to continue/);
    assert.equal((await runCli([...args(out), '--resume'])).code, 0);
    assert.ok((await fsp.readFile(path.join(out, 'features.npy'))).equals(await fsp.readFile(path.join(reference, 'features.npy'))), sig);
  }
});
