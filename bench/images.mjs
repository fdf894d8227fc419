// Benchmark images: generated photos-like JPEGs, made once and kept in the temp folder, and
// subsets of datasets linked (not copied) into the temp folder.
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

/**
 * `count` 640×480 JPEGs (q90) in two class folders: smooth colour fields with texture and
 * edges, so that decoding costs what a camera photo of that size costs.
 */
export async function generatedImages(count = 256) {
  const dir = path.join(os.tmpdir(), `cnnfeat-bench-images-${count}-v1`);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  await fsp.rm(dir, { recursive: true, force: true });
  const width = 640;
  const height = 480;
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.alloc(width * height * 3);
    let s = i * 7919 + 17;
    const fx = 2 + (i % 7);
    const fy = 1 + (i % 5);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        s = (s * 1103515245 + 12345) & 0x7fffffff;
        const noise = ((s >> 16) % 41) - 20;
        const o = (y * width + x) * 3;
        pixels[o] = clamp(128 + 90 * Math.sin((fx * x) / width * Math.PI + i) + noise);
        pixels[o + 1] = clamp(128 + 90 * Math.cos((fy * y) / height * Math.PI + i / 3) + noise);
        pixels[o + 2] = clamp(((x ^ y) & 32 ? 200 : 60) + noise);
      }
    }
    const file = path.join(dir, i % 2 ? 'b' : 'a', `img${String(i).padStart(4, '0')}.jpg`);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
  }
  await fsp.writeFile(path.join(dir, '.complete'), '');
  return dir;
}

/** The first `perClass` files (sorted) of each class folder of `source`, as symbolic links in a temp folder. */
export async function linkedSubset(source, perClass, tag) {
  const dir = path.join(os.tmpdir(), `cnnfeat-bench-${tag}-${perClass}-v1`);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  await fsp.rm(dir, { recursive: true, force: true });
  for (const cls of (await fsp.readdir(source, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    await fsp.mkdir(path.join(dir, cls), { recursive: true });
    for (const name of (await fsp.readdir(path.join(source, cls))).sort().slice(0, perClass)) {
      await fsp.symlink(path.resolve(source, cls, name), path.join(dir, cls, name));
    }
  }
  await fsp.writeFile(path.join(dir, '.complete'), '');
  return dir;
}

function clamp(v) {
  return Math.max(0, Math.min(255, Math.round(v)));
}
