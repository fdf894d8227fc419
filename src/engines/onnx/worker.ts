/**
 * Runs an ONNX session off the main thread: onnxruntime-node's `run` blocks the thread that
 * calls it, and the main thread must stay free to feed sharp the next batch meanwhile.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { SessionRequest, SessionResponse, SessionSetup } from './protocol.js';

const setup = workerData as SessionSetup;
const port = parentPort!;
const reply = (msg: SessionResponse, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

const session = ort.InferenceSession.create(setup.file, {
  intraOpNumThreads: setup.threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
});
session.then(
  () => reply({ type: 'ready' }),
  (err: unknown) => reply({ type: 'error', id: -1, message: String((err as Error)?.message ?? err) }),
);

port.on('message', async (msg: SessionRequest) => {
  if (msg.type === 'release') {
    await (await session).release();
    port.close();
    return;
  }
  try {
    const [n, height, width] = msg.dims;
    const input = new ort.Tensor('float32', msg.batch.subarray(0, n * height * width * 3), msg.dims);
    const { features } = await (await session).run({ input });
    const out = features!.data as Float32Array;
    const data = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : out.slice();
    reply({ type: 'result', id: msg.id, features: data }, [data.buffer as ArrayBuffer]);
  } catch (err) {
    reply({ type: 'error', id: msg.id, message: String((err as Error)?.message ?? err) });
  }
});
