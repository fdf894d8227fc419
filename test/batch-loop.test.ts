// The shared batch loop of extract and predict (pipeline/batches/batch-loop.ts), driven by a stub
// decoder and engine: a failure of the batch queued behind the running one reaches the caller as
// the loop's rejection, never as an unhandled rejection that ends the process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBatchLoop } from '../dist/pipeline/batches/batch-loop.js';
import { StageClock } from '../dist/pipeline/batches/stage-clock.js';
import type { ExtractSettings } from '../dist/features/schema.js';
import type { FeatureExtractor } from '../dist/engines/engine.js';
import type { ImageDecoder } from '../dist/image/decoder.js';
import type { FeatureModel } from '../dist/pipeline/setup/feature-model.js';

const SIZE = { height: 2, width: 2 };
const SETTINGS: ExtractSettings = { model: 'stub', weightsDigest: 'sha256:stub', layer: 'features', pooled: false, pool: 'avg', preprocess: 'none', dim: 1, input: SIZE, resize: 'squash', cropFraction: 1, resizeKernel: 'linear', icc: 'ignore', precision: 'fp32', tta: 'none', augment: 'none' };

const decoder: ImageDecoder = {
  concurrency: 1,
  decodeFiles: async (files) => ({ ok: files.map((_, i) => i), pixels: files.map(() => Buffer.alloc(SIZE.height * SIZE.width * 3)), spans: [], failed: [] }),
  stats: async () => ({ processes: 0, perProcess: 1, decodeMs: 0 }) as never,
  close: async () => {},
};

/** An engine whose `failAt`-th run (from 1) rejects after `delayMs`, while the earlier runs are still pending. */
function failingEngine(failAt: number, delayMs: number): FeatureExtractor {
  let runs = 0;
  return {
    layers: ['features'], dim: 1, input: SIZE, pooled: false, pool: 'avg', inputType: 'float32',
    run: (_input: unknown, n: number) => {
      runs += 1;
      if (runs === failAt) return Promise.reject(new Error(`batch ${runs} failed`));
      return new Promise((resolve) => setTimeout(() => resolve(new Float32Array(n)), delayMs));
    },
    describe: () => ({ engine: 'onnx', version: 'stub', threads: 1 }),
    dispose: async () => {},
  } as unknown as FeatureExtractor;
}

test('a failing batch queued behind the running one rejects the loop (no unhandled rejection) after the rows before it', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  try {
    const extractor = failingEngine(2, 50);
    const featureModel = { extractor, settings: SETTINGS } as unknown as FeatureModel;
    const committed: number[] = [];
    const loop = runBatchLoop({
      files: ['a', 'b', 'c', 'd', 'e', 'f'], from: 0, batchSize: 2, featureModel, decoder, ahead: 2,
      clock: new StageClock(extractor, 2),
      commit: async (batch) => void committed.push(...batch.ok),
    });
    await assert.rejects(loop, /batch 2 failed/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(unhandled, []);
    assert.deepEqual(committed, [0, 1], 'the batch before the failure is committed');
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
