/**
 * A small pool of worker threads running cross-validation fold tasks in parallel, or the main
 * thread when one thread is asked for.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { CnnfeatError, ExitCode } from '../errors.js';
import { runFoldTask, type FoldScore, type FoldTask } from './cv-task.js';
import { loadLibsvm } from './libsvm.js';

interface Pending {
  resolve: (r: FoldScore[]) => void;
  reject: (e: Error) => void;
}

/** Default number of fit threads: the cores, at most 4 (each holds a problem in wasm memory). */
export function defaultFitThreads(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/** Runs fold tasks on `threads` threads; {@link FitPool.close} when done. */
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
      w.on('message', (msg: { id: number; result?: FoldScore[]; error?: string; exitCode?: number }) => {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        this.release(w);
        if (msg.error !== undefined) p?.reject(new CnnfeatError(`cross-validation: ${msg.error}`, msg.exitCode ?? ExitCode.internal));
        else p?.resolve(msg.result!);
      });
      w.on('error', (err) => this.fail(new CnnfeatError(`cross-validation worker failed: ${err.message}`, 1)));
      w.on('exit', (code) => {
        if (!this.closing) this.fail(new CnnfeatError(`cross-validation worker exited (code ${code})`, 1));
      });
    }
  }

  /** A pool of `threads` workers (none for 1: tasks then run in the calling thread). */
  static create(threads: number): FitPool {
    const file = new URL('./cv-worker.js', import.meta.url);
    return new FitPool(threads > 1 ? Array.from({ length: threads }, () => new Worker(file)) : []);
  }

  /** Number of tasks that can run at once. */
  get size(): number {
    return Math.max(1, this.workers.length);
  }

  private closing = false;

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
   * `task.K` should live in a SharedArrayBuffer, so that it is not copied.
   */
  async run(task: FoldTask): Promise<FoldScore[]> {
    if (this.workers.length === 0) return runFoldTask(await loadLibsvm(), task);
    await this.ready();
    const worker = this.idle.shift()!;
    const id = this.nextId++;
    return new Promise<FoldScore[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, task });
    });
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
