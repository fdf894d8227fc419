// Generator of a corpus of odd and broken image files, as people's photo folders hold them.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { writeImage, type Rgb } from './helpers.js';

/** What `extract` must do with a corpus entry. */
export type Outcome = 'row' | 'skipped' | 'ignored' | 'none' | 'empty';

/** One entry of the corpus: its path under the root, what it is, and what `extract` must do with it. */
export interface CorpusEntry {
  path: string;
  what: string;
  outcome: Outcome;
}

/**
 * Writes the corpus under `root` (classes `cats` and `dogs`, plus an empty class folder `empty`
 * when `emptyClass`) and returns its table: every entry with what `extract` must do with it —
 * `row` (exactly one feature row), `skipped` (listed in manifest.json with a reason), `ignored`
 * (passed over by the scan, listed with a reason) or `none` (not an image name: silently not read); the empty class folder's outcome is `empty` (a warning; a class without rows in manifest.json).
 */
export async function makeCorpus(root: string, { emptyClass = true } = {}): Promise<CorpusEntry[]> {
  const table: CorpusEntry[] = [];
  const add = (rel: string, what: string, outcome: Outcome) => table.push({ path: rel, what, outcome });
  const file = (rel: string) => path.join(root, rel);
  const write = async (rel: string, bytes: Buffer | string) => {
    await fsp.mkdir(path.dirname(file(rel)), { recursive: true });
    await fsp.writeFile(file(rel), bytes);
  };
  const jpeg = await sharp(noise(64, 48, [180, 120, 60], 1), { raw: { width: 64, height: 48, channels: 3 } }).jpeg().toBuffer();

  await write('cats/truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  add('cats/truncated.jpg', 'truncated JPEG', 'skipped');
  await write('cats/zero-bytes.jpg', Buffer.alloc(0));
  add('cats/zero-bytes.jpg', 'zero-byte file', 'skipped');
  await write('cats/text.jpg', 'this is a text file, not a JPEG\n');
  add('cats/text.jpg', 'text named .jpg', 'skipped');
  await write('cats/random.png', noise(50, 50, [128, 128, 128], 7));
  add('cats/random.png', 'random bytes named .png', 'skipped');
  await write('cats/jpeg-named.png', jpeg);
  add('cats/jpeg-named.png', 'a JPEG named .png', 'row');
  await write('cats/cmyk.jpg', await sharp(noise(40, 30, [30, 160, 200], 2), { raw: { width: 40, height: 30, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer());
  add('cats/cmyk.jpg', 'CMYK JPEG', 'row');
  await write('cats/gray.jpg', await sharp(noise(40, 30, [100, 100, 100], 3), { raw: { width: 40, height: 30, channels: 3 } }).greyscale().jpeg().toBuffer());
  add('cats/gray.jpg', 'grayscale JPEG', 'row');
  await write('cats/deep16.png', await sharp(noise(40, 30, [90, 200, 40], 4), { raw: { width: 40, height: 30, channels: 3 } }).toColourspace('rgb16').png().toBuffer());
  add('cats/deep16.png', '16-bit PNG', 'row');
  const rgba = withAlpha(noise(40, 30, [220, 80, 160], 5), 40 * 30);
  await write('cats/palette-alpha.png', await sharp(rgba, { raw: { width: 40, height: 30, channels: 4 } }).png({ palette: true }).toBuffer());
  add('cats/palette-alpha.png', 'palette PNG with transparency', 'row');
  await write('cats/rgba.png', await sharp(rgba, { raw: { width: 40, height: 30, channels: 4 } }).png().toBuffer());
  add('cats/rgba.png', 'RGBA PNG', 'row');
  await write('cats/animated.gif', await animatedGif());
  add('cats/animated.gif', 'animated GIF (3 frames)', 'row');
  await write('cats/exif-orientation-6.jpg', await orientation6Jpeg());
  add('cats/exif-orientation-6.jpg', 'EXIF orientation 6 JPEG (upright: top red, bottom blue)', 'row');
  await write('cats/one-pixel.png', await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 10, g: 200, b: 30 } } }).png().toBuffer());
  add('cats/one-pixel.png', '1×1 image', 'row');
  await write('cats/big-6000x4000.jpg', await sharp({ create: { width: 6000, height: 4000, channels: 3, background: { r: 120, g: 90, b: 200 } } }).jpeg().toBuffer());
  add('cats/big-6000x4000.jpg', '6000×4000 JPEG', 'row');
  await write('cats/bomb.png', decompressionBomb(40000, 40000));
  add('cats/bomb.png', 'decompression bomb (PNG header of 40000×40000)', 'skipped');
  await write('cats/photo.webp', await sharp(noise(40, 30, [60, 60, 220], 6), { raw: { width: 40, height: 30, channels: 3 } }).webp().toBuffer());
  add('cats/photo.webp', 'WebP', 'row');
  await write('cats/scan.tiff', await sharp(noise(40, 30, [200, 200, 60], 8), { raw: { width: 40, height: 30, channels: 3 } }).tiff().toBuffer());
  add('cats/scan.tiff', 'TIFF', 'row');
  await writeImage(file('cats/UPPER.JPG'), { seed: 9 });
  add('cats/UPPER.JPG', 'upper-case extension', 'row');
  await writeImage(file('cats/name with spaces.jpg'), { seed: 10 });
  add('cats/name with spaces.jpg', 'name with spaces', 'row');
  await writeImage(file('cats/café ñandú Ωmega 猫.png'), { seed: 11, format: 'png' });
  add('cats/café ñandú Ωmega 猫.png', 'non-ASCII name', 'row');
  await writeImage(file('cats/comma, "quote".jpg'), { seed: 12 });
  add('cats/comma, "quote".jpg', 'comma and quotes in the name (CSV quoting)', 'row');
  await writeImage(file('cats/nested/deeper/inner.jpg'), { seed: 13 });
  add('cats/nested/deeper/inner.jpg', 'nested sub-folders inside a class', 'row');
  await writeImage(file('cats/x.jpg/inside.png'), { seed: 14, format: 'png' });
  add('cats/x.jpg', 'a directory named x.jpg', 'none');
  add('cats/x.jpg/inside.png', 'an image inside the directory named x.jpg', 'row');
  await write('cats/.DS_Store', Buffer.from([0, 0, 0, 1, 66, 117, 100, 49]));
  add('cats/.DS_Store', '.DS_Store', 'none');
  await write('cats/Thumbs.db', Buffer.alloc(512, 0xd0));
  add('cats/Thumbs.db', 'Thumbs.db', 'none');
  await write('cats/notes.txt', 'labelled by hand\n');
  add('cats/notes.txt', '.txt file', 'none');
  await fsp.symlink('..', file('cats/loop'));
  add('cats/loop', 'symlink loop (cats/loop -> ..)', 'ignored');

  for (let i = 0; i < 3; i++) {
    await writeImage(file(`dogs/dog${i}.jpg`), { rgb: [40, 60, 210], seed: 100 + i });
    add(`dogs/dog${i}.jpg`, 'plain JPEG', 'row');
  }
  await fsp.symlink('.', file('dogs/self'));
  add('dogs/self', 'symlink to its own folder (dogs/self -> .)', 'ignored');
  if (emptyClass) {
    await fsp.mkdir(file('empty'), { recursive: true });
    add('empty', 'empty class folder', 'empty');
  }
  return table;
}

/** Pixels of one colour with a little deterministic noise. */
function noise(width: number, height: number, rgb: Rgb, seed: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  let s = seed * 7919 + 3;
  for (let i = 0; i < pixels.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    pixels[i] = Math.max(0, Math.min(255, rgb[i % 3]! + ((s >> 16) % 21) - 10));
  }
  return pixels;
}

/** RGB → RGBA with a left-to-right alpha ramp (some pixels fully transparent). */
function withAlpha(rgb: Buffer, n: number): Buffer {
  const out = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    rgb.copy(out, i * 4, i * 3, i * 3 + 3);
    out[i * 4 + 3] = (i % 40) * 6;
  }
  return out;
}

async function animatedGif(): Promise<Buffer> {
  const colours: Rgb[] = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
  const frames = await Promise.all(
    colours.map((rgb, i) => sharp(noise(32, 24, rgb, 20 + i), { raw: { width: 32, height: 24, channels: 3 } }).png().toBuffer()),
  );
  return sharp(frames, { join: { animated: true } }).gif({ delay: 100, loop: 0 }).toBuffer();
}

/**
 * A JPEG stored sideways with EXIF orientation 6 (rotate 90° clockwise to display): the stored
 * pixels are red on the left and blue on the right, so upright the top is red, the bottom blue.
 */
export async function orientation6Jpeg(): Promise<Buffer> {
  const width = 60;
  const height = 30;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set(x < width / 2 ? [230, 20, 20] : [20, 20, 230], (y * width + x) * 3);
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
}

/** A valid PNG whose header claims `width × height` RGB pixels, with a tiny (short) image stream. */
export function decompressionBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const idat = zlib.deflateSync(Buffer.alloc(1 + width * 3 * 4));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
