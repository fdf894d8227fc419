/**
 * A small pool of worker threads running fit tasks in parallel (svc fold tasks, linear-SVM
 * class paths), or the main thread when one thread is asked for.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { CnnfeatError, ExitCode, optionFlagNames } from '../../errors.js';
import { runFoldTask, type FoldScore, type FoldTask } from '../svc/fold-task.js';
import { loadLibsvm } from '../svc/libsvm.js';
import { runSvmPathTask, type SvmPathResult, type SvmPathTask } from '../linear/svm-path-task.js';

/** Tasks the pool runs, and their results. */
export type PoolTask = { kind: 'svc'; task: FoldTask } | { kind: 'svm-path'; task: SvmPathTask };
type ResultOf<T extends PoolTask> = T extends { kind: 'svc' } ? FoldScore[] : SvmPathResult[];
/** Progress of a path task: C index and passes done. */
export type PassProgress = (c: number, iteration: number) => void;

interface Pending {
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
  onPass?: PassProgress;
}

/** Runs a task in this thread (the pool's own without workers, and each worker's). */
export async function runTask(task: PoolTask, onPass?: PassProgress): Promise<unknown> {
  if (task.kind === 'svc') return runFoldTask(await loadLibsvm(), task.task);
  return runSvmPathTask(task.task, onPass);
}

/** Default number of fit threads: the cores, at most 4 (each holds a problem in wasm memory). */
export function defaultFitThreads(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/** Runs fit tasks (svc fold tasks, linear-SVM path tasks) on `threads` threads; {@link FitPool.close} when done. */
export class FitPool {
  private readonly idle: Worker[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /** Set when a worker died: no further task can run. */
  private failure: CnnfeatError | undefined;

  private constructor(private readonly workers: Worker[]) {
    this.idle.push(...workers);
    for (const w of workers) {
      w.on('message', (msg: { id: number; result?: unknown; error?: string; exitCode?: number; pass?: [number, number] }) => {
        const p = this.pending.get(msg.id);
        if (msg.pass) {
          p?.onPass?.(...msg.pass);
          return;
        }
        this.pending.delete(msg.id);
        this.release(w);
        if (msg.error !== undefined) p?.reject(new CnnfeatError(`training: ${msg.error}`, msg.exitCode ?? ExitCode.internal));
        else p?.resolve(msg.result!);
      });
      w.on('error', (err) => this.fail(new CnnfeatError(`training worker failed: ${err.message}`, 1)));
      w.on('exit', (code) => {
        if (!this.closing) this.fail(new CnnfeatError(`training worker exited (code ${code})`, 1));
      });
    }
  }

  /** A pool of `threads` workers (none for 1: tasks then run in the calling thread). */
  static create(threads: number): FitPool {
    const file = new URL('./worker.js', import.meta.url);
    const workerData = { optionFlags: optionFlagNames() };
    return new FitPool(threads > 1 ? Array.from({ length: threads }, () => new Worker(file, { workerData })) : []);
  }

  /** Number of tasks that can run at once. */
  get size(): number {
    return Math.max(1, this.workers.length);
  }

  private closing = false;

  /** Runs every task, at most {@link size} at once; results in task order. */
  async all<T extends PoolTask>(tasks: T[], onPass?: (task: number, c: number, iteration: number) => void): Promise<ResultOf<T>[]> {
    const out = new Array<ResultOf<T>>(tasks.length);
    const running: Promise<void>[] = [];
    let failure: unknown;
    for (let t = 0; t < tasks.length && failure === undefined; t++) {
      await this.ready();
      const fit = this.run(tasks[t]!, onPass ? (c, it) => onPass(t, c, it) : undefined).then((r) => {
        out[t] = r;
      });
      fit.catch((err: unknown) => (failure ??= err));
      running.push(fit);
    }
    await Promise.allSettled(running);
    if (failure !== undefined) throw failure;
    return out;
  }

  /** Fails every pending task and wakes whoever waits for a worker. */
  private fail(error: CnnfeatError): void {
    this.failure ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    for (const wake of this.waiting.splice(0)) wake();
  }

  private release(w: Worker): void {
    this.idle.push(w);
    this.waiting.shift()?.();
  }

  /** Resolves once a worker is free (immediately without workers). */
  async ready(): Promise<void> {
    while (this.workers.length > 0 && this.idle.length === 0 && !this.failure) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    if (this.failure) throw this.failure;
  }

  /**
   * Runs a task on a free worker (call {@link ready} first to bound the tasks in flight).
   * Large arrays (`K`, the feature matrix) should live in SharedArrayBuffers, so that they are
   * not copied.
   */
  async run<T extends PoolTask>(task: T, onPass?: PassProgress): Promise<ResultOf<T>> {
    if (this.workers.length === 0) return (await runTask(task, onPass)) as ResultOf<T>;
    await this.ready();
    const worker = this.idle.shift()!;
    const id = this.nextId++;
    return new Promise<ResultOf<T>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, onPass });
      worker.postMessage({ id, task });
    });
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
