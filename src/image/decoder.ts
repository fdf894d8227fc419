/** Decoding lists of files, in this process or in decoder processes (decode-pool.ts), behind one interface. */
import { DECODE_CONCURRENCY, DecodeError, decodeImageTimed, type DecodeOptions } from './decode.js';

/** When one image was decoded, and by which process (ms on the machine's monotonic clock, `monotonicMs()`). */
export interface DecodeSpan {
  pid: number;
  startedAt: number;
  finishedAt: number;
}

/** Result of decoding a list of files: pixels of those that decoded, reasons for the others. */
export interface DecodedFiles {
  /** Indices (into the input list) of the files that decoded, in order. */
  ok: number[];
  /** Their pixels: 8-bit RGB, HWC, one buffer per image. */
  pixels: Buffer[];
  /** When and where each of them was decoded. */
  spans: DecodeSpan[];
  failed: { index: number; reason: string }[];
}

/** How decoding was arranged, and what it cost. */
export interface DecoderStats {
  /** Decoder processes (0: decoded in this process's libuv thread pool). */
  processes: number;
  /** Images decoded at once, over all processes. */
  concurrency: number;
  /** CPU ms of the decoder processes once started (null: decoded in this process, or not measured). */
  cpuMs: number | null;
  /** ms their threads were ready to run but waited for a core (null: unknown). */
  waitMs: number | null;
  /** Peak resident memory of the decoder processes, summed (null: decoded in this process). */
  peakRssMB: number | null;
  /** Decoder processes that died and were replaced. */
  restarts: number;
}

/** What a decoder did between two `stats()` (the arrangement and peak memory as at `b`). */
export function statsBetween(a: DecoderStats, b: DecoderStats): DecoderStats {
  const diff = (x: number | null, y: number | null) => (x === null || y === null ? null : y - x);
  return { ...b, cpuMs: diff(a.cpuMs, b.cpuMs), waitMs: diff(a.waitMs, b.waitMs), restarts: b.restarts - a.restarts };
}

/** Decodes lists of image files to the pixels of a DecodeOptions geometry. */
export interface ImageDecoder {
  /** Images decoded at once. */
  readonly concurrency: number;
  /**
   * Decodes `files`. Undecodable content is reported per file; a file that cannot be read at all
   * (missing, permission, I/O error) rejects the whole call.
   */
  decodeFiles(files: readonly string[], opts: DecodeOptions): Promise<DecodedFiles>;
  /** The arrangement and what it cost so far. */
  stats(): Promise<DecoderStats>;
  /** Ends the decoder processes, if any. */
  close(): Promise<void>;
}

/** One file decoded: its pixels and span. */
export interface DecodedFile {
  pixels: Buffer;
  span: DecodeSpan;
}

/**
 * Gathers per-file outcomes in list order: DecodeErrors become per-file failures, anything else
 * (a file-system error) is thrown.
 */
export function gatherDecoded(results: PromiseSettledResult<DecodedFile>[]): DecodedFiles {
  const out: DecodedFiles = { ok: [], pixels: [], spans: [], failed: [] };
  results.forEach((r, index) => {
    if (r.status === 'fulfilled') {
      out.ok.push(index);
      out.pixels.push(r.value.pixels);
      out.spans.push(r.value.span);
    } else if (r.reason instanceof DecodeError) {
      out.failed.push({ index, reason: r.reason.reason });
    } else {
      throw r.reason;
    }
  });
  return out;
}

/** Decodes in this process: sharp in libuv's thread pool, DECODE_CONCURRENCY images at once. */
export const inProcessDecoder: ImageDecoder = {
  concurrency: DECODE_CONCURRENCY,
  async decodeFiles(files, opts) {
    const decodeOne = async (file: string): Promise<DecodedFile> => {
      const { pixels, startedAt, finishedAt } = await decodeImageTimed(file, opts);
      return { pixels, span: { pid: process.pid, startedAt, finishedAt } };
    };
    return gatherDecoded(await Promise.allSettled(files.map(decodeOne)));
  },
  stats: () => Promise.resolve({ processes: 0, concurrency: DECODE_CONCURRENCY, cpuMs: null, waitMs: null, peakRssMB: null, restarts: 0 }),
  close: () => Promise.resolve(),
};
