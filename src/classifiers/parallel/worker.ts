/**
 * Worker thread of the fit pool: runs svc fold tasks on its own libsvm instance (libsvm-js is
 * single-threaded wasm) and linear-SVM class paths on the shared feature matrix.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CnnfeatError, ExitCode, errorMessage, nameOptionsByFlag } from '../../errors.js';
import { runTask, type PoolTask } from './fit-pool.js';

// Messages name options as the main thread's do (the CLI's flags there).
nameOptionsByFlag((workerData as { optionFlags?: Record<string, string> } | undefined)?.optionFlags ?? {});

/** Least time between two progress messages of a task. */
const PROGRESS_MS = 500;

parentPort?.on('message', async ({ id, task }: { id: number; task: PoolTask }) => {
  try {
    let last = 0;
    const result = await runTask(task, (c, iteration) => {
      const now = performance.now();
      if (now - last < PROGRESS_MS) return;
      last = now;
      parentPort?.postMessage({ id, pass: [c, iteration] });
    });
    parentPort?.postMessage({ id, result });
  } catch (err) {
    parentPort?.postMessage({ id, error: errorMessage(err), exitCode: err instanceof CnnfeatError ? err.exitCode : ExitCode.internal });
  }
});
