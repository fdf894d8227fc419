import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp, { type Color } from 'sharp';
import { DecodeError, decodeImage, type DecodeOptions } from '../dist/image/decode.js';
import { preprocessInto } from '../dist/image/preprocess.js';
import { cropBox } from '../dist/image/resize.js';
import { tempDir, writeImage } from './helpers.js';

const SIZE: DecodeOptions = { width: 8, height: 8, resize: 'squash', kernel: 'linear' };

/** Mean RGB of decoded pixels. */
function meanRgb(buf: Uint8Array): number[] {
  const sum = [0, 0, 0];
  for (let i = 0; i < buf.length; i++) sum[i % 3] += buf[i]!;
  return sum.map((s) => s / (buf.length / 3));
}

const near = (actual: number[], expected: number[], tol: number, what: string) => {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tol, `${what}: ${actual} vs ${expected}`));
};

test('decode: every colour model comes out as 8-bit sRGB with 3 channels at the target size', async (t) => {
  const dir = await tempDir(t);
  const red = { r: 220, g: 20, b: 20 };
  const solid = (channels: 3 | 4, background: Color) => sharp({ create: { width: 20, height: 10, channels, background } });
  const files = {
    gray: await solid(3, { r: 128, g: 128, b: 128 }).grayscale().jpeg().toFile(path.join(dir, 'gray.jpg')).then(() => 'gray.jpg'),
    cmyk: await solid(3, red).toColourspace('cmyk').jpeg().toFile(path.join(dir, 'cmyk.jpg')).then(() => 'cmyk.jpg'),
    alpha: await solid(4, { ...red, alpha: 0.5 }).png().toFile(path.join(dir, 'alpha.png')).then(() => 'alpha.png'),
    sixteen: await solid(3, red).toColourspace('rgb16').png().toFile(path.join(dir, '16bit.png')).then(() => '16bit.png'),
    palette: await solid(4, { ...red, alpha: 1 }).png({ palette: true }).toFile(path.join(dir, 'palette.png')).then(() => 'palette.png'),
    webp: await solid(3, red).webp().toFile(path.join(dir, 'x.webp')).then(() => 'x.webp'),
    tiff: await solid(3, red).tiff().toFile(path.join(dir, 'x.tiff')).then(() => 'x.tiff'),
    gif: await solid(3, red).gif().toFile(path.join(dir, 'x.gif')).then(() => 'x.gif'),
  };
  const meta16 = await sharp(path.join(dir, '16bit.png')).metadata();
  assert.equal(meta16.depth, 'ushort', 'the fixture really is 16-bit');
  for (const [kind, name] of Object.entries(files)) {
    const pixels = await decodeImage(path.join(dir, name), SIZE);
    assert.equal(pixels.length, 8 * 8 * 3, kind);
    const mean = meanRgb(pixels);
    if (kind === 'gray') near(mean, [128, 128, 128], 3, kind);
    else if (kind === 'cmyk') near(mean, [220, 20, 20], 30, kind);
    else near(mean, [220, 20, 20], 12, kind);
  }
});

test('decode: alpha is dropped before resizing, as PIL convert("RGB") then resize', async (t) => {
  const dir = await tempDir(t);
  const [w, h] = [64, 48];
  const rgba = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([(i * 7) % 256, (i * 3) % 256, (i * 11) % 256, (i * 13) % 256], i * 4);
  const file = path.join(dir, 'translucent.png');
  await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).png().toFile(file);
  const rgb = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) rgb.set(rgba.subarray(i * 4, i * 4 + 3), i * 3);
  const expected = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).resize(16, 16, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
  const got = await decodeImage(file, { width: 16, height: 16, resize: 'squash', kernel: 'linear' });
  assert.ok(got.equals(expected));
});

test('decode: EXIF orientation 6 is applied (the image comes out upright)', async (t) => {
  const dir = await tempDir(t);
  // Stored landscape 40×20: left half red, right half blue. Orientation 6 means "rotate 90° clockwise to view".
  const raw = Buffer.alloc(40 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) raw.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
  const file = path.join(dir, 'rotated.jpg');
  await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(file);
  assert.equal((await sharp(file).metadata()).orientation, 6);
  const px = await decodeImage(file, { width: 20, height: 40, resize: 'squash', kernel: 'nearest' });
  const at = (x: number, y: number) => [...px.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3)];
  // Viewed upright (20 wide, 40 tall), the red half is on top and the blue half at the bottom.
  near(at(10, 5), [255, 0, 0], 40, 'top');
  near(at(10, 35), [0, 0, 255], 40, 'bottom');
});

test('decode: resize modes squash, center-crop and letterbox', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'wide.png');
  await sharp({ create: { width: 40, height: 10, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toFile(file);
  const squash = await decodeImage(file, { ...SIZE, resize: 'squash' });
  const crop = await decodeImage(file, { ...SIZE, resize: 'center-crop' });
  const box = await decodeImage(file, { ...SIZE, resize: 'letterbox' });
  near(meanRgb(squash), [255, 255, 255], 1, 'squash');
  near(meanRgb(crop), [255, 255, 255], 1, 'crop');
  near([...box.subarray(0, 3)], [0, 0, 0], 1, 'letterbox pads the top with black');
  near([...box.subarray((4 * 8 + 4) * 3, (4 * 8 + 4) * 3 + 3)], [255, 255, 255], 1, 'letterbox keeps the centre');
});

test('decode: center-crop at a crop fraction keeps the centre share of the short side (torchvision Resize + CenterCrop)', async (t) => {
  // torchvision's Resize(256) + CenterCrop(224) is fraction 0.875: scale to cover 256, take 224 at offset 16.
  assert.deepEqual(cropBox(224, 224, 0.875), { width: 256, height: 256, left: 16, top: 16 });
  // Non-square input: each side on its own; an odd margin is halved as Python's round does (22.5 → 22).
  assert.deepEqual(cropBox(224, 320, 0.875), { width: 256, height: 365, left: 16, top: 22 });
  assert.deepEqual(cropBox(224, 224, 1), { width: 224, height: 224, left: 0, top: 0 });
  // A 400×300 black photo with a white 200×200 square in the middle: x 100–300, y 50–250.
  const dir = await tempDir(t);
  const file = path.join(dir, 'square.png');
  const px = Buffer.alloc(400 * 300 * 3);
  for (let y = 50; y < 250; y++) px.fill(255, (y * 400 + 100) * 3, (y * 400 + 300) * 3);
  await sharp(px, { raw: { width: 400, height: 300, channels: 3 } }).png().toFile(file);
  const at = (buf: Buffer, x: number, y: number) => buf[(y * 8 + x) * 3]!;
  // Fraction 0.5: the middle 150×150 of the short side's 300×300 centre (x 125–275, y 75–225), all white.
  const half = await decodeImage(file, { ...SIZE, resize: 'center-crop', cropFraction: 0.5 });
  assert.ok(half.every((v) => v >= 250), `crop 0.5 sees only the white square: min ${Math.min(...half)}`);
  // Fraction 1: the whole 300×300 centre (x 50–350): black corners around the square.
  const whole = await decodeImage(file, { ...SIZE, resize: 'center-crop', cropFraction: 1 });
  for (const [x, y] of [[0, 0], [7, 0], [0, 7], [7, 7]] as const) assert.ok(at(whole, x, y) < 10, `crop 1, corner ${x},${y}: ${at(whole, x, y)}`);
  assert.ok(at(whole, 3, 3) > 245 && at(whole, 4, 4) > 245, 'crop 1: white centre');
  assert.ok((await decodeImage(file, { ...SIZE, resize: 'center-crop' })).equals(whole), 'the default fraction is 1');
});

test('decode: broken files raise DecodeError with a short reason', async (t) => {
  const dir = await tempDir(t);
  const good = path.join(dir, 'good.jpg');
  await writeImage(good, { width: 64, height: 64 });
  const bytes = await fsp.readFile(good);
  const cases = {
    'truncated.jpg': bytes.subarray(0, Math.floor(bytes.length / 2)),
    'empty.jpg': Buffer.alloc(0),
    'text.jpg': Buffer.from('this is not an image\n'),
    'random.png': Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 7919) & 255)),
  };
  for (const [name, content] of Object.entries(cases)) {
    await fsp.writeFile(path.join(dir, name), content);
    await assert.rejects(decodeImage(path.join(dir, name), SIZE), (e: unknown) => {
      assert.ok(e instanceof DecodeError, name);
      assert.ok(e.reason.length > 0 && !e.reason.includes('\n'), `${name}: ${e.reason}`);
      return true;
    });
  }
  // A file that cannot be read at all is not "undecodable": it is an error of its own.
  await assert.rejects(decodeImage(path.join(dir, 'missing.jpg'), SIZE), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && !(e instanceof DecodeError));
  // A JPEG named .png decodes by content.
  await fsp.writeFile(path.join(dir, 'really-jpeg.png'), bytes);
  assert.equal((await decodeImage(path.join(dir, 'really-jpeg.png'), SIZE)).length, 192);
});

test('preprocess: caffe, tf, torch and none give the Keras/torchvision values', () => {
  const px = Uint8Array.from([255, 128, 0]);
  const out = new Float32Array(4);
  preprocessInto(px, 'caffe', out, 1);
  near([...out.subarray(1)], [0 - 103.939, 128 - 116.779, 255 - 123.68], 1e-4, 'caffe is BGR minus mean');
  preprocessInto(px, 'tf', out, 0);
  near([...out.subarray(0, 3)], [1, 128 / 127.5 - 1, -1], 1e-6, 'tf');
  preprocessInto(px, 'torch', out, 0);
  near([...out.subarray(0, 3)], [(1 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0 - 0.406) / 0.225], 1e-5, 'torch');
  preprocessInto(px, 'none', out, 0);
  assert.deepEqual([...out.subarray(0, 3)], [255, 128, 0]);
});
