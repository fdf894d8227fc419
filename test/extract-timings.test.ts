// Issue 13: where an extraction's time goes (manifest.json timings.stages), the thread settings in
// force, and the pipelined batch loop (batches queued ahead, buffers reused) keeping rows exact.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { ExtractSettings, FeatureManifest } from '../dist/features/schema.js';
import { inferenceError, type FeatureExtractor } from '../dist/engines/engine.js';
import type { ImageDecoder } from '../dist/image/decoder.js';
import type { ResolvedModel } from '../dist/models/resolve.js';
import { runBatchLoop, type BatchLoop } from '../dist/pipeline/batches/batch-loop.js';
import { StageClock } from '../dist/pipeline/batches/stage-clock.js';
import { json, makeColourDataset, makeTinyModel, manifestOf, runCli, tempDir } from './helpers.js';

const near = (a: number, b: number, tolerance: number, what: string) => assert.ok(Math.abs(a - b) <= tolerance, `${what}: ${a} vs ${b}`);

async function tinySetup(t: TestContext, perClass = 7) {
  const dir = await tempDir(t);
  const images = await makeColourDataset(path.join(dir, 'images'), { perClass });
  const model = await makeTinyModel(path.join(dir, 'model'));
  const extract = (out: string, ...more: string[]) =>
    runCli(['extract', images, '-o', path.join(dir, out), '--model', model, '--preprocess', 'none', '--json', ...more], { env: { UV_THREADPOOL_SIZE: '2' } });
  return { dir, images, extract };
}

test('extract records where its time went, stage by stage, and the thread settings in force', async (t) => {
  const { dir, extract } = await tinySetup(t);
  json(await extract('out', '--batch-size', '4', '--threads', '1', '--decoders', '0'));
  const manifest = (await manifestOf(path.join(dir, 'out'))) as FeatureManifest;
  assert.equal(manifest.engine.engine, 'onnx');
  const st = manifest.timings.stages;
  assert.ok(st, 'timings.stages is written');
  assert.equal(st.images, 14);
  assert.equal(st.batches, 4, '4 + 4 + 4 + 2 images');
  assert.equal(st.batchSize, 4);
  assert.ok(st.seconds > 0 && st.seconds <= manifest.timings.seconds + 0.002);
  const { waitDecode, preprocess, waitEngine, write, other } = st.main;
  for (const [name, v] of Object.entries(st.main)) assert.ok(v >= 0, `main.${name} ≥ 0`);
  near(waitDecode + preprocess + waitEngine + write + other, st.seconds, 0.006, 'main-thread stages add up to the total');
  near(st.engine.inference + st.engine.idle, st.seconds, 0.002, 'inference + idle = total');
  assert.ok(st.engine.inference > 0);
  assert.ok(st.engine.beforeFirstBatch + st.engine.afterLastBatch <= st.engine.idle + 0.002);
  assert.equal(st.engine.firstBatch?.images, 4);
  assert.ok(st.engine.firstBatch.inference <= st.engine.inference);
  near(st.engine.utilization * st.seconds, st.engine.inference, 0.002, 'utilization = inference / total');
  assert.ok(st.decode > 0 && st.engine.handover >= 0 && st.engine.return >= 0);
  assert.deepEqual(st.threads.inference, 1, '--threads is the inference thread count');
  assert.equal(st.threads.decoderProcesses, 0, '--decoders 0: decoded in the main process');
  assert.equal(st.threads.decodeConcurrency, 2, 'UV_THREADPOOL_SIZE bounds the images decoded at once');
  assert.equal(st.decoders, null);
  assert.ok(Number.isInteger(st.threads.libvips) && st.threads.libvips >= 1);
  if (process.platform === 'linux') {
    assert.ok(st.cpu, 'CPU per thread group is measured on Linux');
    assert.ok(st.cpu.inference !== null && st.cpu.inference >= 0, 'CPU of the inference threads is measured');
    assert.ok(st.cpu.inferenceWaitedForCore !== null && st.cpu.inferenceWaitedForCore >= 0);
    assert.ok(st.cpu.main > 0 && st.cpu.decodeAndOther >= 0);
    near(st.cpu.main + st.cpu.inference + st.cpu.decodeAndOther, st.cpu.process, 0.003, 'thread groups add up to the process');
    assert.equal(st.cpu.decoders, null);
  }

  // In decoder processes: their number, what they cost and their memory are recorded too.
  json(await extract('pooled', '--batch-size', '4', '--decoders', '2'));
  const pooled = (await manifestOf(path.join(dir, 'pooled'))).timings.stages!;
  assert.equal(pooled.threads.decoderProcesses, 2);
  assert.equal(pooled.threads.decodeConcurrency, 2, 'one image at a time in each');
  assert.ok(pooled.decoders && pooled.decoders.restarts === 0 && pooled.decoders.peakRssMB! > 10, JSON.stringify(pooled.decoders));
  if (process.platform === 'linux') {
    assert.ok(pooled.cpu!.decoders! > 0 && pooled.cpu!.decodersWaitedForCore! >= 0, 'the decoder processes report their CPU time');
  }
});

test('rows do not depend on the batch size: batches queued ahead and refilled buffers (a short last batch too) give the same bytes', async (t) => {
  const { dir, extract } = await tinySetup(t);
  for (const batch of ['1', '3', '5', '32']) json(await extract(`b${batch}`, '--batch-size', batch));
  const reference = await fsp.readFile(path.join(dir, 'b1', 'features.npy'));
  for (const batch of ['3', '5', '32']) {
    assert.ok(reference.equals(await fsp.readFile(path.join(dir, `b${batch}`, 'features.npy'))), `batch size ${batch} equals batch size 1`);
    assert.equal(await fsp.readFile(path.join(dir, `b${batch}`, 'samples.csv'), 'utf8'), await fsp.readFile(path.join(dir, 'b1', 'samples.csv'), 'utf8'));
  }
});

test('a decode failure under --strict keeps every row of the batches before it; --resume (skipping it) then equals a fresh run', async (t) => {
  const { dir, images, extract } = await tinySetup(t);
  // Sorted order is blue/img000…img006, blue/img0065, red/…: the broken file is the 8th, in the third batch of 3.
  const broken = path.join(images, 'blue', 'img0065.jpg');
  await fsp.writeFile(broken, 'not an image');
  const failed = await extract('out', '--batch-size', '3', '--strict');
  assert.equal(failed.code, 2, failed.stderr);
  assert.match(failed.stderr, /img0065\.jpg/);
  const progress = JSON.parse(await fsp.readFile(path.join(dir, 'out', '.cnnfeat-progress.json'), 'utf8')) as { rows: number; next: number };
  assert.equal(progress.rows, 6, 'the two batches before the broken file are checkpointed');
  json(await extract('out', '--batch-size', '3', '--resume'));
  json(await extract('fresh', '--batch-size', '3'));
  for (const file of ['features.npy', 'samples.csv']) {
    assert.ok((await fsp.readFile(path.join(dir, 'out', file))).equals(await fsp.readFile(path.join(dir, 'fresh', file))), `${file} equals a fresh run`);
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The batch loop over `files` one-image batches with a stub decoder and an engine whose runs `run` answers (call numbers from 1). */
function stubLoop(files: number, run: (call: number, n: number) => Promise<Float32Array>, commit: BatchLoop['commit']): BatchLoop {
  const settings: ExtractSettings = {
    model: 'stub', weightsDigest: 'sha256:stub', layer: 'x', pooled: true, pool: 'avg', preprocess: 'none', dim: 2,
    input: { height: 2, width: 2 }, resize: 'squash', cropFraction: 1, resizeKernel: 'linear', icc: 'ignore', precision: 'fp32', tta: 'none', augment: 'none',
  };
  let calls = 0;
  const extractor: FeatureExtractor = {
    layers: ['x'], dim: 2, input: settings.input, pooled: true, pool: 'avg', inputType: 'uint8',
    run: (_batch, n) => run(++calls, n),
    describe: () => ({ engine: 'onnx', version: 'stub', threads: 1 }),
    dispose() {},
  };
  const decoder: ImageDecoder = {
    concurrency: 1,
    decodeFiles: async (list, o) => ({ ok: list.map((_, i) => i), pixels: list.map(() => Buffer.alloc(o.width * o.height * 3)), spans: [], failed: [] }),
    stats: async () => ({ processes: 0, concurrency: 1, cpuMs: null, waitMs: null, peakRssMB: null, restarts: 0 }),
    close: async () => {},
  };
  return {
    files: Array.from({ length: files }, (_, i) => `f${i}.png`),
    from: 0,
    batchSize: 1,
    featureModel: { resolved: {} as ResolvedModel, extractor, settings },
    decoder,
    clock: new StageClock(extractor, 1),
    ahead: 1,
    commit,
  };
}

test('the batch loop meets a failed run of the batch queued behind the running one, and one left in the engine when a write fails: its error, no unhandled rejection', async () => {
  // Fails without the catch batch-loop.ts attaches as it submits a batch (Node ends on the unhandled rejection).
  const rows: number[] = [];
  const oom = runBatchLoop(stubLoop(4, async (call, n) => {
    if (call === 2) throw inferenceError(n, new Error('out of memory'));
    await sleep(30);
    return new Float32Array(n * 2);
  }, async (batch) => void rows.push(batch.start)));
  await assert.rejects(oom, /^CnnfeatError: inference failed on a batch of 1: out of memory; try a smaller batch size \(--batch-size\)$/);
  assert.deepEqual(rows, [0], 'the batch before the failed one is committed');

  const full = runBatchLoop(stubLoop(4, async (call, n) => {
    if (call === 2) {
      await sleep(20);
      throw inferenceError(n, new Error('out of memory'));
    }
    return new Float32Array(n * 2);
  }, async () => {
    throw new Error('disk full');
  }));
  await assert.rejects(full, /disk full/);
  await sleep(60); // the second run fails after the loop has stopped
});
