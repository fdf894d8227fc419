/**
 * A decoder process of the decode pool (decode-pool.ts): reads requests, one JSON line each, on
 * stdin; decodes with sharp (UV_THREADPOOL_SIZE images at once); writes each result as a frame on
 * fd 3. It ends when its stdin ends: the pool closed it, or the pool's process died (even by
 * SIGKILL, the kernel then closes the pipe's other end). Interrupt signals are the pool process's
 * to handle: it checkpoints the batch these decodes belong to, then closes the pool.
 */
import { readFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import { errorMessage } from '../errors.js';
import { processTimes, timesBetween } from '../util/thread-times.js';
import { DecodeError, decodeImageTimed } from './decode.js';
import { encodeHeader, FrameKind, RESULTS_FD, SLOTS_FD, type DecodeRequest, type FrameHeader, type ProcessCost, type SystemErrorFields } from './decode-frames.js';

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});

const results = new net.Socket({ fd: RESULTS_FD, readable: false, writable: true });
results.on('error', () => process.exit(0)); // the pool's process is gone
const readyAt = processTimes();
const readyCpu = process.cpuUsage();

/** Sends a frame with a (small) payload. */
function send(header: Omit<FrameHeader, 'length'>, payload: Buffer): void {
  results.write(Buffer.concat([encodeHeader({ ...header, length: payload.length }), payload]));
}

/** CPU (and, on Linux, core-wait) time of every thread of this process since it was ready; its peak RSS. */
function cost(): ProcessCost {
  const peakRssKb = peakRssKbOfThisProcess();
  const times = timesBetween(readyAt, processTimes());
  if (times) return { cpuMs: times.cpuMs, waitMs: times.waitMs, peakRssKb };
  const { user, system } = process.cpuUsage(readyCpu);
  return { cpuMs: (user + system) / 1000, waitMs: null, peakRssKb };
}

/** The high-water mark of this process's resident memory (Linux's VmHWM; elsewhere the maximum RSS). */
function peakRssKbOfThisProcess(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

async function handle(request: DecodeRequest): Promise<void> {
  if (request.type === 'stats') {
    send({ id: request.id, kind: FrameKind.Stats, startedAt: 0, finishedAt: 0 }, Buffer.from(JSON.stringify(cost())));
    return;
  }
  const started = { id: request.id, startedAt: 0, finishedAt: 0 };
  const decoded = await decodeImageTimed(request.file, request.opts).catch((err: unknown) => sendFailure(started, err));
  if (!decoded) return;
  const { pixels, startedAt, finishedAt } = decoded;
  try {
    for (let done = 0; done < pixels.length; ) done += writeSync(SLOTS_FD, pixels, done, pixels.length - done, request.offset + done);
  } catch (err) {
    // Not the image file's fault: the slots file is full (a small /dev/shm) or over a size limit.
    return send({ ...started, kind: FrameKind.SlotsError }, Buffer.from(errorMessage(err)));
  }
  results.write(encodeHeader({ id: request.id, kind: FrameKind.Pixels, length: pixels.length, startedAt, finishedAt }));
}

/** Reports a decode that failed: undecodable content, a file-system error, or anything else (see FrameKind). */
function sendFailure(started: Omit<FrameHeader, 'kind' | 'length'>, err: unknown): void {
  if (err instanceof DecodeError) return send({ ...started, kind: FrameKind.Undecodable }, Buffer.from(err.reason));
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && e.syscall) {
    const fields: SystemErrorFields = { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path };
    return send({ ...started, kind: FrameKind.SystemError }, Buffer.from(JSON.stringify(fields)));
  }
  send({ ...started, kind: FrameKind.Failure }, Buffer.from(errorMessage(err)));
}

let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop()!;
  for (const line of lines) if (line) void handle(JSON.parse(line) as DecodeRequest);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
