// Issue 13: the onnx engine's own measurements, its thread setting, and batch buffers handed back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadEngine } from '../dist/engines/select.js';
import type { EngineInput } from '../dist/engines/engine.js';
import { weightsDigest } from '../dist/models/download.js';
import { currentThreadId, currentThreadTimes, processThreadIds } from '../dist/util/thread-times.js';
import { makeTinyModel, tempDir } from './helpers.js';

const PER_IMAGE = 32 * 32 * 3;
const imagesBatch = (n: number) => Float32Array.from({ length: n * PER_IMAGE }, (_, i) => ((i * 53) % 251) / 251);

/** Thread ids and times come from /proc (Linux only). */
const LINUX_ONLY = { skip: process.platform !== 'linux' && 'thread times are read from /proc: Linux only' };

async function tinyModel(t: TestContext) {
  const modelJson = await makeTinyModel(await tempDir(t), { filters: 64 });
  return { modelFile: modelJson, weightsDigest: await weightsDigest(modelJson) };
}

test('thread times: this thread is one of the process, and its CPU time grows with work', LINUX_ONLY, () => {
  const id = currentThreadId();
  assert.ok(id !== null && processThreadIds().includes(id));
  const before = currentThreadTimes()!;
  let x = 0;
  for (let i = 0; i < 2e7; i++) x += Math.sqrt(i);
  const after = currentThreadTimes()!;
  assert.ok(x > 0 && after.cpuMs > before.cpuMs && after.waitMs >= before.waitMs);
});

test('onnx engine: --threads N starts N − 1 intra-op threads beside the worker', LINUX_ONLY, async (t) => {
  const model = await tinyModel(t);
  // Engines stay loaded, so that no thread of one is still ending while the next starts; the first
  // one also starts what onnxruntime starts once per process.
  const first = await loadEngine(model, { engine: 'onnx', threads: 1 });
  t.after(() => first.dispose());
  const base = processThreadIds().length;
  const one = await loadEngine(model, { engine: 'onnx', threads: 1 });
  t.after(() => one.dispose());
  const withOne = processThreadIds().length;
  const three = await loadEngine(model, { engine: 'onnx', threads: 3 });
  t.after(() => three.dispose());
  const withThree = processThreadIds().length;
  assert.equal(withThree - withOne - (withOne - base), 2, `threads started: ${withOne - base} with --threads 1, ${withThree - withOne} with --threads 3`);
});

test('onnx engine: counts runs, inference time and CPU; a transferred batch comes back to `returned`, a copied one does not', async (t) => {
  const engine = await loadEngine(await tinyModel(t), { engine: 'onnx', threads: 2 });
  t.after(() => engine.dispose());
  const start = engine.timings!();
  const returned: EngineInput[] = [];
  const full = imagesBatch(6);
  const expected = await engine.run(full.slice(), 4);
  const features = await engine.run(full, 4, { transfer: true, returned: (b) => returned.push(b) });
  assert.equal(full.length, 0, 'the batch moved to the worker');
  assert.equal(returned.length, 1);
  assert.equal(returned[0]!.length, 6 * PER_IMAGE, 'the whole buffer comes back, not only the images run');
  assert.deepEqual(Array.from(returned[0]!.subarray(0, 4 * PER_IMAGE)), Array.from(imagesBatch(4)), 'with the images as they were sent');
  assert.deepEqual(features, expected, 'a batch larger than its images gives the rows of its first n');
  const view = imagesBatch(6).subarray(PER_IMAGE);
  await engine.run(view, 2, { transfer: true, returned: (b) => returned.push(b) });
  assert.equal(view.length, 5 * PER_IMAGE, 'a view into a larger buffer is copied, not transferred');
  assert.equal(returned.length, 1, 'and nothing is handed back for it');
  const end = engine.timings!();
  assert.equal(end.runs - start.runs, 3);
  assert.equal(end.images - start.images, 10);
  assert.ok(end.inferenceMs > start.inferenceMs && end.handoverMs >= start.handoverMs && end.returnMs >= start.returnMs);
  if (process.platform === 'linux') assert.ok(end.inferenceCpuMs! > start.inferenceCpuMs! && end.inferenceCpuWaitMs! >= start.inferenceCpuWaitMs!);
});

test('onnx engine: dispose while batches are still queued finishes them, and keeps the process alive until the worker has left', async (t) => {
  const model = await tinyModel(t);
  // In a process of its own: the test runner would keep this one alive. Before the fix, the reply to
  // the last queued run un-ref'd the worker while dispose awaited its exit, so the event loop emptied
  // and the process ended, exit code 0, before "done" (an interrupted extract exited 0 that way).
  const script = `
    const { loadEngine } = await import(${JSON.stringify(new URL('../dist/engines/select.js', import.meta.url).href)});
    const engine = await loadEngine(${JSON.stringify(model)}, { engine: 'onnx', threads: 1 });
    const batch = () => new Float32Array(8 * ${PER_IMAGE}).fill(0.5);
    const runs = [engine.run(batch(), 8, { transfer: true }), engine.run(batch(), 8, { transfer: true })];
    await engine.dispose();
    const [a, b] = await Promise.all(runs);
    console.log(a.length === 8 * engine.dim && a.every((v, i) => v === b[i]) ? 'done' : 'wrong rows');`;
  const file = path.join(await tempDir(t), 'dispose-queued.mjs');
  await fsp.writeFile(file, script);
  const result = spawnSync(process.execPath, [file], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), 'done');
});
