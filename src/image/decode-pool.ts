/**
 * Decoding in child processes. One Node process does not decode fast enough to feed a GPU (sharp's
 * decodes in one process stop scaling at a few hundred images/s, whatever the thread count), while
 * separate processes scale with the cores. Each decoder process (decode-process.ts) gets requests
 * as JSON lines on its stdin, writes the pixels into a slot of a memory file shared with this
 * process and says so on a pipe (see decode-frames.ts).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readSync, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CnnfeatError, errorMessage, optionName } from '../errors.js';
import { DecodeError, type DecodeOptions } from './decode.js';
import { FrameKind, FrameReader, RESULTS_FD, SLOTS_FD, type DecodeRequest, type FrameHeader, type ProcessCost, type SystemErrorFields } from './decode-frames.js';
import { gatherDecoded, type DecodedFile, type DecodedFiles, type DecoderStats, type ImageDecoder } from './decoder.js';

const PROCESS_SCRIPT = fileURLToPath(new URL('./decode-process.js', import.meta.url));

/** How many decoder processes, and how they decode. */
export interface DecodePoolOptions {
  /** Decoder processes (at least 1). */
  processes: number;
  /** Images each process decodes at once (its libuv thread pool; default 1). */
  perProcess?: number;
}

/** A file waiting for, or being decoded by, a decoder process. */
interface Job {
  id: number;
  file: string;
  opts: DecodeOptions;
  /** Where its pixels go: its place in the batch's buffer. */
  target: Buffer;
  /** Its slot in the decoder's slots file, while a decoder holds it. */
  slot: number;
  /** Decoder processes that died while it was being decoded. */
  deaths: number;
  resolve(decoded: DecodedFile): void;
  reject(err: unknown): void;
}

/** A child decoder process and the jobs it holds. */
interface Decoder {
  child: ChildProcess;
  stdin: Writable;
  results: Readable;
  /** The file (already unlinked; its path kept for messages) its pixels are written to, slot i at i × slotBytes; and its free slots. */
  slotsFd: number;
  slotsFile: string;
  slotBytes: number;
  freeSlots: number[];
  jobs: Map<number, Job>;
  /** Holds a job that was in a process that died: it decodes that job alone. */
  isolating: boolean;
  exited: boolean;
  statsWaiters: Map<number, (cost: ProcessCost | null) => void>;
}

/**
 * When this many decoder processes have died without any decode in between, the pool gives up.
 * Two undecodable files held by one process end three: together, then each alone.
 */
const MAX_DEATHS_IN_A_ROW = 4;

/**
 * A pool of decoder processes. Files are decoded in the order they are asked for, each process
 * holding at most `perProcess + 1` of them (one waiting behind its decodes, so that it never
 * waits for the next request). A process that dies is replaced; its files are decoded again one
 * at a time, and a file that kills a decoder twice is reported as undecodable. `close()` ends the
 * processes; they also end by themselves when this process dies.
 */
export class DecodePool implements ImageDecoder {
  private readonly decoders: Decoder[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private restarts = 0;
  private deathsInARow = 0;
  private failure: CnnfeatError | null = null;
  private closing = false;
  private referenced = true;
  private readonly perProcess: number;
  private readonly killAll = () => {
    for (const d of this.decoders) d.child.kill('SIGKILL');
  };

  private processes = 0;

  constructor(opts: DecodePoolOptions) {
    this.perProcess = Math.max(1, opts.perProcess ?? 1);
    process.on('exit', this.killAll);
    try {
      this.grow(Math.max(1, opts.processes));
    } catch (err) {
      // The processes started before the one that failed would keep this process alive.
      this.closing = true;
      this.killAll();
      process.off('exit', this.killAll);
      throw err;
    }
    this.updateRef();
  }

  get concurrency(): number {
    return this.processes * this.perProcess;
  }

  /** Adds decoder processes up to `processes` (a pool never shrinks). */
  grow(processes: number): void {
    if (this.closing) return;
    for (; this.processes < processes; this.processes++) this.decoders.push(this.spawnDecoder());
    this.dispatch();
  }

  /** The decoder processes' ids (for tests and diagnostics). */
  get pids(): number[] {
    return this.decoders.map((d) => d.child.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Decodes `files`; their pixels are views of one buffer (one allocation per call, not per image). */
  async decodeFiles(files: readonly string[], opts: DecodeOptions): Promise<DecodedFiles> {
    const bytes = opts.width * opts.height * 3;
    const batch = Buffer.allocUnsafeSlow(files.length * bytes);
    return gatherDecoded(await Promise.allSettled(files.map((file, i) => this.decodeOne(file, opts, batch.subarray(i * bytes, (i + 1) * bytes)))));
  }

  private decodeOne(file: string, opts: DecodeOptions, target: Buffer): Promise<DecodedFile> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, file, opts, target, slot: -1, deaths: 0, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Hands waiting jobs to processes with room, the least busy first; a job that was in a dying
   * process goes alone to an idle one. Slots grow (only while their process holds no job) to the
   * largest image asked for.
   */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const job = this.queue[0]!;
      const live = this.decoders.filter((d) => !d.exited && !d.isolating);
      const decoder = job.deaths > 0 ? live.find((d) => d.jobs.size === 0) : live.sort((a, b) => a.jobs.size - b.jobs.size)[0];
      const bytes = job.target.length;
      if (!decoder || decoder.freeSlots.length === 0 || (bytes > decoder.slotBytes && decoder.jobs.size > 0)) break;
      this.queue.shift();
      decoder.slotBytes = Math.max(decoder.slotBytes, bytes);
      job.slot = decoder.freeSlots.pop()!;
      decoder.isolating = job.deaths > 0;
      decoder.jobs.set(job.id, job);
      this.write(decoder, { type: 'decode', id: job.id, file: job.file, opts: job.opts, offset: job.slot * decoder.slotBytes });
    }
    this.updateRef();
  }

  private write(decoder: Decoder, request: DecodeRequest): void {
    decoder.stdin.write(`${JSON.stringify(request)}\n`);
  }

  private spawnDecoder(): Decoder {
    const env = {
      ...process.env,
      UV_THREADPOOL_SIZE: String(this.perProcess),
      // sharp's advice for glibc: fewer malloc arenas keep a decoder's memory from fragmenting.
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
    };
    const slots = openSlotsFile();
    const stdio: StdioOptions = ['pipe', 'ignore', 'inherit'];
    stdio[RESULTS_FD] = 'pipe';
    stdio[SLOTS_FD] = slots.fd;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [PROCESS_SCRIPT], { stdio, env, windowsHide: true });
    } catch (err) {
      closeSync(slots.fd);
      throw err;
    }
    const decoder: Decoder = {
      child,
      stdin: child.stdin!,
      results: child.stdio[RESULTS_FD] as Readable,
      slotsFd: slots.fd,
      slotsFile: slots.file,
      slotBytes: 0,
      freeSlots: Array.from({ length: this.perProcess + 1 }, (_, i) => i),
      jobs: new Map(),
      isolating: false,
      exited: false,
      statsWaiters: new Map(),
    };
    const reader = new FrameReader((header, payload) => this.onFrame(decoder, header, payload));
    decoder.results.on('data', (chunk: Buffer) => reader.push(chunk));
    decoder.results.on('error', () => {});
    decoder.stdin.on('error', () => {});
    child.on('error', (err) => this.onExit(decoder, err.message));
    // 'close', not 'exit': every frame it sent has been read by then.
    child.on('close', (code, signal) => this.onExit(decoder, signal ? `killed by ${signal}` : `exit code ${code}`));
    if (!this.referenced) this.setRef(decoder, false);
    return decoder;
  }

  private onFrame(decoder: Decoder, header: FrameHeader, payload: Buffer): void {
    if (header.kind === FrameKind.Stats) {
      decoder.statsWaiters.get(header.id)?.(JSON.parse(payload.toString('utf8')) as ProcessCost);
      return;
    }
    const job = decoder.jobs.get(header.id);
    if (!job || decoder.exited) return;
    decoder.jobs.delete(header.id);
    decoder.isolating = false;
    this.deathsInARow = 0;
    const pid = decoder.child.pid ?? 0;
    if (header.kind === FrameKind.Pixels && header.length === job.target.length) {
      const pixels = job.target;
      for (let done = 0; done < pixels.length; ) done += readSync(decoder.slotsFd, pixels, done, pixels.length - done, job.slot * decoder.slotBytes + done);
      job.resolve({ pixels, span: { pid, startedAt: header.startedAt, finishedAt: header.finishedAt } });
    }
    else if (header.kind === FrameKind.Undecodable) job.reject(new DecodeError(job.file, payload.toString('utf8')));
    else if (header.kind === FrameKind.SystemError) job.reject(systemError(JSON.parse(payload.toString('utf8')) as SystemErrorFields));
    else if (header.kind === FrameKind.SlotsError) job.reject(slotsWriteError(decoder.slotsFile, payload.toString('utf8')));
    else job.reject(new Error(`${job.file}: decoder process: ${header.kind === FrameKind.Pixels ? `${header.length} bytes of pixels, not ${job.target.length}` : payload.toString('utf8')}`));
    decoder.freeSlots.push(job.slot);
    this.dispatch();
  }

  /** A decoder process ended (or could not start): its jobs are decoded again, elsewhere. */
  private onExit(decoder: Decoder, why: string): void {
    if (decoder.exited) return;
    decoder.exited = true;
    closeSync(decoder.slotsFd);
    for (const resolve of decoder.statsWaiters.values()) resolve(null);
    const index = this.decoders.indexOf(decoder);
    if (index >= 0) this.decoders.splice(index, 1);
    const orphans = [...decoder.jobs.values()];
    decoder.jobs.clear();
    if (this.closing) {
      for (const job of orphans) job.reject(closedError());
      return;
    }
    this.deathsInARow++;
    if (this.deathsInARow >= MAX_DEATHS_IN_A_ROW) {
      this.fail(new CnnfeatError(`decoder processes keep ending (${this.deathsInARow} in a row, the last: ${why}); decode in this process instead (${optionName('decoders', 0)})`), orphans);
      return;
    }
    for (const job of orphans) {
      job.deaths++;
      if (job.deaths >= 2) job.reject(new DecodeError(job.file, `its decoding ended the decoder process twice (${why})`));
    }
    this.queue.unshift(...orphans.filter((job) => job.deaths < 2));
    this.restarts++;
    try {
      this.decoders.push(this.spawnDecoder());
    } catch (err) {
      // Thrown from a child's 'close' handler, it would end this process.
      this.fail(err instanceof CnnfeatError ? err : new CnnfeatError(`cannot start another decoder process (${errorMessage(err)}); decode in this process instead (${optionName('decoders', 0)})`));
      return;
    }
    this.dispatch();
  }

  /** Gives up: `orphans`, the waiting decodes and any asked for later reject with `failure`. */
  private fail(failure: CnnfeatError, orphans: Job[] = []): void {
    this.failure = failure;
    for (const job of [...orphans, ...this.queue.splice(0)]) job.reject(failure);
    this.updateRef();
  }

  async stats(): Promise<DecoderStats> {
    const costs = await Promise.all(this.decoders.filter((d) => !d.exited).map((d) => this.costOf(d)));
    // Unknown when a process did not answer (the processes that died are not counted).
    const sum = (f: (c: ProcessCost) => number | null) => (costs.length === 0 || costs.some((c) => c === null || f(c) === null) ? null : costs.reduce((a, c) => a + f(c!)!, 0));
    const peakKb = sum((c) => c.peakRssKb);
    return {
      processes: this.processes,
      concurrency: this.concurrency,
      cpuMs: sum((c) => c.cpuMs),
      waitMs: sum((c) => c.waitMs),
      peakRssMB: peakKb === null ? null : Math.round(peakKb / 1024),
      restarts: this.restarts,
    };
  }

  /** A process's cost so far (null when it does not answer within 5 s). */
  private async costOf(decoder: Decoder): Promise<ProcessCost | null> {
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    const cost = await new Promise<ProcessCost | null>((resolve) => {
      timer = setTimeout(() => resolve(null), 5000);
      decoder.statsWaiters.set(id, resolve);
      this.updateRef();
      this.write(decoder, { type: 'stats', id });
    });
    clearTimeout(timer);
    decoder.statsWaiters.delete(id);
    this.updateRef();
    return cost;
  }

  /**
   * Ends the decoder processes and waits for them: they stop at once, and decodes still asked for
   * are rejected.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const job of this.queue.splice(0)) job.reject(closedError());
    this.updateRef(true);
    const ended = this.decoders.map(
      (d) =>
        new Promise<void>((resolve) => {
          d.child.once('close', () => resolve());
          d.stdin.end();
          setTimeout(() => d.child.kill('SIGKILL'), 2000).unref();
        }),
    );
    await Promise.all(ended);
    process.off('exit', this.killAll);
  }

  /**
   * Keeps this process alive while decodes are asked for (or the pool closes), and only then: an
   * idle pool must not hold a finished program open.
   */
  private updateRef(closing = false): void {
    const busy = closing || this.queue.length > 0 || this.decoders.some((d) => d.jobs.size > 0 || d.statsWaiters.size > 0);
    if (busy === this.referenced) return;
    this.referenced = busy;
    for (const d of this.decoders) this.setRef(d, busy);
  }

  private setRef(decoder: Decoder, on: boolean): void {
    for (const handle of [decoder.child, decoder.stdin, decoder.results] as unknown as { ref(): void; unref(): void }[]) {
      if (on) handle.ref();
      else handle.unref();
    }
  }
}

/** What decoding asked for after `close()` rejects with. */
function closedError(): CnnfeatError {
  return new CnnfeatError('the decode pool is closed; decode before closing it, or with a new pool');
}

/**
 * A new file for a decoder's pixel slots, in /dev/shm (memory) where it can be, else in the temp
 * folder; unlinked at once, so that it vanishes with the processes holding it, however they end.
 */
function openSlotsFile(): { fd: number; file: string } {
  const dir = slotsDir();
  const file = path.join(dir, `cnnfeat-decode-${process.pid}-${slotFiles++}`);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'w+', 0o600);
    unlinkSync(file);
    return { fd, file };
  } catch (err) {
    if (fd !== undefined) discardSlotsFile(fd, file);
    throw new CnnfeatError(`${dir}: cannot make the decoders' pixel file there (${errorMessage(err)}); set TMPDIR to a writable folder, or decode in this process (${optionName('decoders', 0)})`);
  }
}

/** Where pixel slot files go: /dev/shm when this process may write there, else the temp folder. */
function slotsDir(): string {
  const writable = (dir: string) => {
    try {
      accessSync(dir, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  return [SHM_DIR, os.tmpdir()].find(writable) ?? os.tmpdir();
}

/** Closes and removes a slots file that could not be unlinked as it was made (best effort: this is already a failure). */
function discardSlotsFile(fd: number, file: string): void {
  for (const step of [() => closeSync(fd), () => rmSync(file, { force: true })]) {
    try {
      step();
    } catch {
      // nothing more to do
    }
  }
}

/** A decoder could not write an image's pixels into its slots file (full, or over a size limit): what to do. */
function slotsWriteError(file: string, reason: string): CnnfeatError {
  const dir = path.dirname(file);
  const room = dir === SHM_DIR ? `give ${SHM_DIR} more room (e.g. docker run --shm-size=1g)` : `make room in ${dir} or set TMPDIR to a folder with room`;
  return new CnnfeatError(`${file}: a decoder process cannot write decoded pixels into this pixel file (${reason}); ${room}, or decode in this process (${optionName('decoders', 0)})`);
}

const SHM_DIR = '/dev/shm';
let slotFiles = 0;

/** A file-system error raised again as Node raised it in the decoder process. */
function systemError(fields: SystemErrorFields): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(fields.message);
  err.code = fields.code;
  if (fields.errno !== undefined) err.errno = fields.errno;
  if (fields.syscall !== undefined) err.syscall = fields.syscall;
  if (fields.path !== undefined) err.path = fields.path;
  return err;
}
