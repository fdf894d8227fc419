import { promises as fsp } from 'node:fs';
import sharp from 'sharp';
import { errorMessage } from '../errors.js';
import { monotonicMs } from '../util/thread-times.js';
import type { IccMode } from './icc.js';
import { cropBox, type ResizeKernel, type ResizeMode } from './resize.js';

/** Target geometry and colour handling of decoded images. */
export interface DecodeOptions {
  width: number;
  height: number;
  /** squash: stretch to the size (Keras `target_size`); center-crop: cover then crop; letterbox: fit, pad black. */
  resize: ResizeMode;
  kernel: ResizeKernel;
  /** Embedded ICC profiles (default `ignore`; see ICC_MODES). */
  icc?: IccMode;
  /**
   * center-crop only: the share of the scaled image kept (default 1: the short side fills the
   * input; 0.875: torchvision's Resize(256) + CenterCrop(224)); see `cropBox`.
   */
  cropFraction?: number;
}

/** An image that could not be decoded; `reason` is a short human-readable cause. */
export class DecodeError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'DecodeError';
  }
}

/**
 * Largest image decoded, in pixels (16383 × 16383, sharp's own default, made explicit): a file
 * whose header claims more (a decompression bomb) is refused before any pixel memory is taken.
 * Large photos stay cheap: JPEGs are shrunk while decoding, and at most DECODE_CONCURRENCY images
 * are read and decoded at once.
 */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;

const FIT: Record<ResizeMode, 'fill' | 'cover' | 'contain'> = {
  squash: 'fill',
  'center-crop': 'cover',
  letterbox: 'contain',
};

/**
 * Decodes an image file to 8-bit sRGB pixels of exactly `width × height × 3` (HWC, RGB order).
 * EXIF orientation is applied; grayscale, CMYK, 16-bit and palette images are converted;
 * alpha is dropped (as PIL's `convert('RGB')` in Keras and torchvision); animations give
 * their first frame.
 * @throws DecodeError when the file's content is not a decodable image; file-system errors
 *   (missing file, permission, I/O) are thrown as they are, since skipping them would hide them.
 */
export async function decodeImage(file: string, opts: DecodeOptions): Promise<Buffer> {
  return (await decodeImageTimed(file, opts)).pixels;
}

/** A decoded image, and when its decoding started (after waiting for a slot) and ended, in ms of `monotonicMs()`. */
export interface TimedDecode {
  pixels: Buffer;
  startedAt: number;
  finishedAt: number;
}

/** `decodeImage`, timed. */
export async function decodeImageTimed(file: string, opts: DecodeOptions): Promise<TimedDecode> {
  await decodeSlots.acquire();
  try {
    const startedAt = monotonicMs();
    const pixels = await decodeNow(file, opts);
    return { pixels, startedAt, finishedAt: monotonicMs() };
  } finally {
    decodeSlots.release();
  }
}

/**
 * Bounds the images being read and decoded at once to the libuv thread pool size, where sharp
 * runs them anyway: beyond that, a batch of large photos would only hold their file bytes and
 * full-size pixels in memory while waiting for a thread (12 RGBA 6000×4000 PNGs in one batch:
 * 1.07 GB peak RSS unbounded).
 */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(count: number) {
    this.free = count;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot straight to the next waiter, so that no newcomer can jump in between. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** Images decoded at once (see Slots). */
export const DECODE_CONCURRENCY = Math.max(1, Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10) || 4);
const decodeSlots = new Slots(DECODE_CONCURRENCY);

async function decodeNow(file: string, opts: DecodeOptions): Promise<Buffer> {
  const bytes = await fsp.readFile(file).catch((err: NodeJS.ErrnoException) => {
    err.path ??= file;
    throw err;
  });
  try {
    const image = sharp(bytes, { pages: 1, limitInputPixels: MAX_INPUT_PIXELS, ignoreIcc: (opts.icc ?? 'ignore') === 'ignore' });
    const source = (await mayHaveAlpha(bytes, image)) ? await withoutAlpha(image) : image.autoOrient();
    const { data, info } = await fitted(source, opts)
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== opts.width || info.height !== opts.height) {
      throw new Error(`unexpected decoded shape ${info.width}x${info.height}x${info.channels}`);
    }
    return data;
  } catch (err) {
    throw new DecodeError(file, shortReason(errorMessage(err)));
  }
}

/** The resize (and, for a center-crop below fraction 1, the crop after it) that brings an image to the input size. */
function fitted(image: ReturnType<typeof sharp>, opts: DecodeOptions): ReturnType<typeof sharp> {
  const resize = { kernel: opts.kernel, background: { r: 0, g: 0, b: 0 } };
  const fraction = opts.cropFraction ?? 1;
  if (opts.resize !== 'center-crop' || fraction === 1) return image.resize(opts.width, opts.height, { ...resize, fit: FIT[opts.resize] });
  const box = cropBox(opts.width, opts.height, fraction);
  return image.resize(box.width, box.height, { ...resize, fit: 'cover' }).extract({ left: box.left, top: box.top, width: opts.width, height: opts.height });
}

/**
 * Whether the image has an alpha channel. JPEGs never do (libvips reads 1, 3 or 4 = CMYK bands
 * from them), so their header is not parsed a second time: that saves a round trip through the
 * thread pool per image (≈ 0.2 ms CPU of the ≈ 5 ms a photo's decoding costs).
 */
async function mayHaveAlpha(bytes: Buffer, image: ReturnType<typeof sharp>): Promise<boolean> {
  const jpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  return !jpeg && (await image.metadata()).hasAlpha;
}

/**
 * Drops alpha before resizing, as PIL's `convert('RGB')` does: resizing with alpha would
 * weight colours by it (premultiplied), changing the colours of translucent pixels.
 */
async function withoutAlpha(image: ReturnType<typeof sharp>): Promise<ReturnType<typeof sharp>> {
  const { data, info } = await image
    .autoOrient()
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
}

/**
 * sharp's messages can span lines, and libvips appends log lines of its own (whose order can
 * vary between concurrent decodes); keep the first specific line.
 */
function shortReason(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const specific = lines.find((l) => !/treated as error due to failOn/.test(l)) ?? lines[0] ?? 'unreadable image';
  if (/exceeds pixel limit/i.test(specific)) return `more than ${MAX_INPUT_PIXELS} pixels (16383²); not decoded (decompression bomb?)`;
  return specific.replace(/^Input (file|buffer) /i, '').slice(0, 200);
}
