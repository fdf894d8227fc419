/**
 * Runs an ONNX session off the main thread: onnxruntime-node's `run` blocks the thread that
 * calls it, and the main thread must stay free to feed sharp the next batch meanwhile.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { currentThreadId, monotonicMs, processThreadIds, threadNames, threadsTimes } from '../../util/thread-times.js';
import { softwareRasterizerRuns } from '../device/facts.js';
import type { SessionRequest, SessionResponse, SessionSetup } from './protocol.js';

const setup = workerData as SessionSetup;
const port = parentPort!;
const reply = (msg: SessionResponse, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

const threadsBefore = new Set(processThreadIds());
const providers: Record<SessionSetup['provider'], ort.InferenceSession.ExecutionProviderConfig> = {
  cpu: 'cpu',
  webgpu: 'webgpu',
  cuda: { name: 'cuda', deviceId: setup.deviceId },
};
const session = ort.InferenceSession.create(setup.file, {
  executionProviders: [providers[setup.provider]],
  intraOpNumThreads: setup.threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
  // Idle intra-op threads sleep instead of spinning, leaving the cores to sharp's decoding of the
  // next batch (measured: extract/raw 0.87 with spinning, 0.95 without, on 2 cores).
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});
/** This thread and onnxruntime's intra-op pool (the threads the session started), for CPU accounting. */
const inferenceThreads = session.then(() => {
  const started = processThreadIds().filter((id) => !threadsBefore.has(id)).slice(-(setup.threads - 1));
  const self = currentThreadId();
  return self === null ? [] : [self, ...(setup.threads > 1 ? started : [])];
});
session.then(
  () => reply({ type: 'ready', rasterizerThreads: softwareRasterizerRuns(threadNames()) }),
  (err: unknown) => reply({ type: 'error', id: -1, message: String((err as Error)?.message ?? err) }),
);

// Requests are handled one after the other: a batch queued behind a running one starts (and is
// timed) when that one has replied.
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: SessionRequest) => {
  queue = queue.then(() => handle(msg)).catch(() => port.close());
});

async function handle(msg: SessionRequest): Promise<void> {
  if (msg.type === 'release') {
    await (await session).release();
    port.close();
    return;
  }
  try {
    const [n, height, width] = msg.dims;
    const values = msg.batch.subarray(0, n * height * width * 3);
    const input = values instanceof Uint8Array ? new ort.Tensor('uint8', values, msg.dims) : new ort.Tensor('float32', values, msg.dims);
    const threads = await inferenceThreads;
    const before = threadsTimes(threads);
    const startedAt = monotonicMs();
    const { features } = await (await session).run({ input });
    const finishedAt = monotonicMs();
    const after = threadsTimes(threads);
    const out = features!.data as Float32Array;
    const data = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : out.slice();
    const timing = {
      startedAt,
      finishedAt,
      cpuMs: before && after ? after.cpuMs - before.cpuMs : null,
      cpuWaitMs: before && after ? after.waitMs - before.waitMs : null,
    };
    const back = msg.batch.byteOffset === 0 && msg.batch.byteLength === msg.batch.buffer.byteLength ? [msg.batch.buffer as ArrayBuffer] : [];
    reply({ type: 'result', id: msg.id, features: data, timing, batch: msg.batch }, [data.buffer as ArrayBuffer, ...back]);
  } catch (err) {
    reply({ type: 'error', id: msg.id, message: String((err as Error)?.message ?? err) });
  }
}
