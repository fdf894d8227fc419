// `cnnfeat models add`: user cards in the cache, validated, listed, usable by id.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeTinyGraphModel } from './graph-fixture.js';
import { serveFiles } from './http-fixture.js';
import type { ModelCard } from '../dist/models/card.js';
import { json, lastLine, makeColourDataset, makeTinyModel, manifestOf, readJson, runCli, tempDir, type CliResult, type ExtractJson, type ModelsListRow } from './helpers.js';

/** `cnnfeat models add --json`: the card written, and where. */
type AddedJson = ModelCard & { file: string };

test('models add <id> <graph model.json>: a validated user card, listed as user, usable by layers and models path', async (t) => {
  const work = await tempDir(t);
  const modelJson = await makeTinyGraphModel(path.join(work, 'graph'));
  const cache = path.join(work, 'cache');
  const env = { CNNFEAT_CACHE: cache };

  const added = await runCli(['models', 'add', 'tiny-graph', modelJson, '--preprocess', 'unit', '--json'], { env });
  assert.equal(added.code, 0, added.stderr);
  const card = json<AddedJson>(added);
  assert.equal(card.file, path.join(cache, 'cards', 'tiny-graph.json'));
  assert.ok(card.source.type === 'local', `a local source: ${JSON.stringify(card.source)}`);
  assert.deepEqual(
    { format: card.format, layer: card.featureLayer, dim: card.dim, input: card.input, path: card.source.path },
    { format: 'graph', layer: 'pool/AvgPool', dim: 4, input: { height: 16, width: 16, channels: 3 }, path: modelJson },
  );
  assert.match(card.source.weightsDigest ?? 'no digest', /^sha256:[0-9a-f]{64}$/);

  const listed = json<ModelsListRow[]>(await runCli(['models', 'list', '--json'], { env }));
  const row = listed.find((m) => m.id === 'tiny-graph');
  assert.deepEqual({ user: row?.user, dim: row?.dim, format: row?.format, installed: row?.installed }, { user: true, dim: 4, format: 'graph', installed: modelJson });
  assert.equal(listed.find((m) => m.id === 'resnet50')?.user, false);
  const mobilenet = listed.find((m) => m.id === 'mobilenet-v2');
  assert.deepEqual({ format: mobilenet?.format, dim: mobilenet?.dim, user: mobilenet?.user }, { format: 'graph', dim: 1280, user: false });
  assert.match((await runCli(['models', 'list'], { env })).stdout, /^tiny-graph\t4-d @ pool\/AvgPool\tlocal\tuser\t/m);

  const layers = await runCli(['layers', 'tiny-graph'], { env });
  assert.equal(layers.code, 0, layers.stderr);
  assert.match(layers.stdout, /^pool\/AvgPool\s+AvgPool\s+\[N, 1, 1, 4\]  <- default feature node$/m);
  assert.match(layers.stdout, /^conv\/Relu\s+Relu\s+\[N, 16, 16, 4\]$/m);

  const where = await runCli(['models', 'path', 'tiny-graph'], { env });
  assert.equal(where.code, 0, where.stderr);
  assert.equal(where.stdout.trim(), path.dirname(modelJson));

  // Two layers, concatenated: the card records both and the summed length.
  const two = await runCli(['models', 'add', 'tiny-two', modelJson, '--preprocess', 'unit', '--layer', 'conv/Relu,pool/AvgPool', '--dim', '8', '--json'], { env });
  const twoCard = json<AddedJson>(two);
  assert.deepEqual([twoCard.featureLayer, twoCard.dim], ['conv/Relu,pool/AvgPool', 8]);

  // Extraction by id runs the graph on tfjs, cut where the card says, with its preprocessing.
  const images = await makeColourDataset(path.join(work, 'images'), { perClass: 2 });
  const extracted = await runCli(['extract', images, '-o', path.join(work, 'feats'), '--model', 'tiny-two', '--pool', 'avg+max', '--json'], { env });
  const summary = json<ExtractJson>(extracted);
  assert.deepEqual([summary.rows, summary.dim], [4, 16]);
  assert.match(summary.engine, /^tfjs-/);
  const manifest = await manifestOf(path.join(work, 'feats'));
  assert.deepEqual([manifest.settings.layer, manifest.settings.pool, manifest.settings.preprocess], ['conv/Relu,pool/AvgPool', 'avg+max', 'unit']);
  assertFailsOnnx(await runCli(['extract', images, '-o', path.join(work, 'feats-onnx'), '--model', 'tiny-graph', '--engine', 'onnx'], { env }));

  // A changed local model is refused by id.
  const { weightsManifest } = await readJson<{ weightsManifest: { paths: string[] }[] }>(modelJson);
  const shard = path.join(path.dirname(modelJson), weightsManifest[0]?.paths[0] ?? 'no shard');
  const bytes = await fsp.readFile(shard);
  bytes[0] ^= 0xff;
  await fsp.writeFile(shard, bytes);
  const changed = await runCli(['layers', 'tiny-graph'], { env });
  assert.equal(changed.code, 4);
  assert.match(lastLine(changed.stderr), /^cnnfeat: model tiny-graph: the weights of .* changed since `cnnfeat models add`/);
});

function assertFailsOnnx(result: CliResult): void {
  assert.equal(result.code, 2);
  assert.match(result.stderr, /a TensorFlow.js GraphModel cannot be exported to ONNX .*use the auto or tfjs engine \(--engine\)/);
}

test('models add refuses bad ids, built-in ids, existing ids without --force, unknown layers and a wrong --dim', async (t) => {
  const work = await tempDir(t);
  const modelJson = await makeTinyGraphModel(path.join(work, 'graph'));
  const cache = path.join(work, 'cache');
  const env = { CNNFEAT_CACHE: cache };
  const add = (...args: string[]) => runCli(['models', 'add', ...args], { env });
  const cases: [string[], RegExp][] = [
    [['../evil', modelJson, '--preprocess', 'unit'], /^cnnfeat: model id "\.\.\/evil": use letters, digits/],
    [['resnet50', modelJson, '--preprocess', 'unit'], /^cnnfeat: model id "resnet50" is a built-in model; choose another id$/],
    [['g', modelJson, '--preprocess', 'unit', '--layer', 'nope'], /has no node named "nope"; closest: .*\(all of them: `cnnfeat layers .*`\)$/],
    [['g', modelJson, '--preprocess', 'unit', '--dim', '5'], /^cnnfeat: expected feature length 5 \(--dim\): pool\/AvgPool gives 4 features; leave it out or correct it$/],
    [['g', path.join(work, 'missing.json'), '--preprocess', 'unit'], /missing\.json: no such model\.json/],
    [['g', modelJson], /required option '--preprocess <mode>' not specified/],
  ];
  for (const [args, message] of cases) {
    const r = await add(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(lastLine(r.stderr), message);
  }
  assert.deepEqual(await fsp.readdir(path.join(cache, 'cards')).catch(() => []), [], 'no card written by a refused add');

  assert.equal((await add('g', modelJson, '--preprocess', 'unit')).code, 0);
  const again = await add('g', modelJson, '--preprocess', 'tf');
  assert.equal(again.code, 2);
  assert.match(lastLine(again.stderr), /model "g" already exists .*; replace it with the force option \(--force\)$/);
  assert.equal((await add('g', modelJson, '--preprocess', 'tf', '--force')).code, 0);
  assert.equal(JSON.parse(await fsp.readFile(path.join(cache, 'cards', 'g.json'), 'utf8')).preprocess, 'tf');
});

test('models add <id> <url> of a LayersModel: downloaded into the cache with pins; extract --model <id> works offline', async (t) => {
  const work = await tempDir(t);
  await makeTinyModel(path.join(work, 'served'));
  const server = await serveFiles(t, path.join(work, 'served'));
  const cache = path.join(work, 'cache');
  const env = { CNNFEAT_CACHE: cache };

  const added = await runCli(['models', 'add', 'tiny', `${server.base}model.json`, '--preprocess', 'none', '--layer', 'conv', '--json'], { env });
  assert.equal(added.code, 0, added.stderr);
  const card = json<AddedJson>(added);
  assert.ok(card.source.type === 'http', `an http source: ${JSON.stringify(card.source)}`);
  assert.deepEqual([card.format, card.featureLayer, card.dim], ['layers', 'conv', 8]);
  const pins = card.source.files ?? {};
  assert.deepEqual(Object.keys(pins).sort(), ['model.json', 'weights.bin']);
  for (const pin of Object.values(pins)) assert.match(pin.sha256 ?? 'no sha256', /^[0-9a-f]{64}$/);
  await server.close();

  const images = await makeColourDataset(path.join(work, 'images'), { perClass: 2 });
  const r = await runCli(['extract', images, '-o', path.join(work, 'feats'), '--model', 'tiny'], { env });
  assert.equal(r.code, 0, r.stderr);
  const manifest = await manifestOf(path.join(work, 'feats'));
  assert.deepEqual([manifest.settings.model, manifest.settings.layer, manifest.settings.dim, manifest.settings.preprocess], ['tiny', 'conv', 8, 'none']);
  assert.deepEqual(await fsp.readdir(path.join(cache, 'models')), ['tiny']);
});
