/**
 * What a decoder process (decode-process.ts) and its pool (decode-pool.ts) say to each other.
 * Requests go to the process's stdin as JSON lines; results come back on its fd 3 as binary
 * frames. Pixels do not cross that pipe: the decoder writes them into a slot of a file of its own
 * (fd 4, in /dev/shm where there is one: memory) with one system call, and the pool reads them from
 * there with one more, straight into the buffer it hands on. Through a pipe, whose 64 kB capacity
 * splits an image into several writes and wake-ups, they cost several times more CPU.
 */
import type { DecodeOptions } from './decode.js';

/** The descriptor of the results pipe in the decoder process. */
export const RESULTS_FD = 3;
/** The descriptor of the pixel slots file in the decoder process. */
export const SLOTS_FD = 4;

/** A request on the decoder's stdin, one JSON line each; `offset` is where in the slots file the pixels go. */
export type DecodeRequest = { type: 'decode'; id: number; file: string; opts: DecodeOptions; offset: number } | { type: 'stats'; id: number };

/** What a result frame carries. */
export const enum FrameKind {
  /** The pixels are in the request's slot; `length` is their byte count, and there is no payload. */
  Pixels = 0,
  /** The content is not a decodable image: the payload is the reason (UTF-8). */
  Undecodable = 1,
  /** The file could not be read: the payload is SystemErrorFields as JSON. */
  SystemError = 2,
  /** Anything else (a bug): the payload is the message. */
  Failure = 3,
  /** Answer to a stats request: the payload is ProcessCost as JSON. */
  Stats = 4,
  /** The image decoded but its pixels could not be written into the slots file: the payload is the error's message. */
  SlotsError = 5,
}

/** A file-system error's fields, enough to raise it again in the pool's process. */
export interface SystemErrorFields {
  message: string;
  code: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** CPU and core-wait ms of a decoder process since it was ready, and its peak resident memory. */
export interface ProcessCost {
  cpuMs: number;
  waitMs: number | null;
  peakRssKb: number;
}

/** Bytes of a frame header: id, kind, length (uint32 each), 4 unused, startedAt and finishedAt (float64 each), little-endian. */
const HEADER_BYTES = 32;

/** What a result frame's header says; the payload of `length` bytes follows it (none for Pixels). */
export interface FrameHeader {
  /** The request's id. */
  id: number;
  kind: FrameKind;
  /** Payload bytes; for Pixels, the pixel bytes written into the slot. */
  length: number;
  /** When the decode started and ended (ms on the machine's monotonic clock; 0 when it failed). */
  startedAt: number;
  finishedAt: number;
}

/** The 32 bytes of a frame header, as `FrameReader` reads them. */
export function encodeHeader(h: FrameHeader): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES);
  b.writeUInt32LE(h.id, 0);
  b.writeUInt32LE(h.kind, 4);
  b.writeUInt32LE(h.length, 8);
  b.writeUInt32LE(0, 12);
  b.writeDoubleLE(h.startedAt, 16);
  b.writeDoubleLE(h.finishedAt, 24);
  return b;
}

function decodeHeader(b: Buffer): FrameHeader {
  return { id: b.readUInt32LE(0), kind: b.readUInt32LE(4) as FrameKind, length: b.readUInt32LE(8), startedAt: b.readDoubleLE(16), finishedAt: b.readDoubleLE(24) };
}

const EMPTY = Buffer.alloc(0);

/** Reassembles frames from the chunks a pipe delivers. */
export class FrameReader {
  private readonly header = Buffer.allocUnsafe(HEADER_BYTES);
  private headerFilled = 0;
  private current: FrameHeader | null = null;
  private payload: Buffer = Buffer.alloc(0);
  private payloadFilled = 0;

  constructor(private readonly onFrame: (header: FrameHeader, payload: Buffer) => void) {}

  /** Takes the next chunk read from the pipe, handing each frame it completes to `onFrame`, in order. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (!this.current) {
        const n = Math.min(HEADER_BYTES - this.headerFilled, chunk.length - at);
        chunk.copy(this.header, this.headerFilled, at, at + n);
        this.headerFilled += n;
        at += n;
        if (this.headerFilled < HEADER_BYTES) return;
        this.current = decodeHeader(this.header);
        this.headerFilled = 0;
        this.payload = this.current.kind === FrameKind.Pixels ? EMPTY : Buffer.allocUnsafe(this.current.length);
        this.payloadFilled = 0;
      } else {
        const n = Math.min(this.payload.length - this.payloadFilled, chunk.length - at);
        chunk.copy(this.payload, this.payloadFilled, at, at + n);
        this.payloadFilled += n;
        at += n;
      }
      if (this.current && this.payloadFilled === this.payload.length) {
        const done = this.current;
        this.current = null;
        this.onFrame(done, this.payload);
      }
    }
  }
}
