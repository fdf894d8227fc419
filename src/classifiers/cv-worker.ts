/**
 * Worker thread of the cross-validation pool: runs fold tasks on its own libsvm instance
 * (libsvm-js is single-threaded wasm; two workers use two cores).
 */
import { parentPort } from 'node:worker_threads';
import { CnnfeatError, ExitCode, errorMessage } from '../errors.js';
import { runFoldTask, type FoldTask } from './cv-task.js';
import { loadLibsvm } from './libsvm.js';

parentPort?.on('message', async ({ id, task }: { id: number; task: FoldTask }) => {
  try {
    const result = runFoldTask(await loadLibsvm(), task);
    parentPort?.postMessage({ id, result });
  } catch (err) {
    parentPort?.postMessage({ id, error: errorMessage(err), exitCode: err instanceof CnnfeatError ? err.exitCode : ExitCode.internal });
  }
});
