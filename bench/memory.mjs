// Bench section "memory": peak RSS of `cnnfeat extract` over 1,000 and 10,000 generated images,
// each run in its own process. Extraction streams (batches are written and dropped), so the peak
// must stay flat as the image count grows.
//
//   node bench/memory.mjs [--sizes 1000,10000] [--model tiny|resnet50|<model.json>] [--batch-size 32]
//   npm run bench -- --only memory --memory-sizes=1000,10000 --memory-model=resnet50
//
// The default model is the tiny test network, so the section takes minutes; `--model resnet50`
// measures the real network (hours on the WebAssembly backend at 10,000 images).
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { runCnnfeat } from './child.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** @param {{ root: string, args: Record<string, unknown>, log: (msg: string) => void }} ctx */
export async function bench(ctx) {
  const arg = (name, fallback) => ctx.args[name] ?? ctx.args[name.replace(/-(.)/g, (_, c) => c.toUpperCase())] ?? fallback;
  const sizes = String(arg('memory-sizes', arg('sizes', '1000,10000'))).split(',').map(Number);
  const modelArg = String(arg('memory-model', arg('model', 'tiny')));
  const batchSize = String(arg('batch-size', '32'));
  const work = path.join(os.tmpdir(), 'cnnfeat-bench-memory');
  await fsp.mkdir(work, { recursive: true });
  const modelFlags = await modelOptions(modelArg, work, ctx.root);
  const runs = [];
  for (const n of sizes) {
    const images = await ensureImages(path.join(work, `images-${n}`), n, ctx.log);
    const out = path.join(work, `features-${n}`);
    await fsp.rm(out, { recursive: true, force: true });
    ctx.log(`memory: extracting ${n} images (${modelArg}) in a child process…`);
    const started = Date.now();
    const { peakRssMB, result } = await runCnnfeat(ctx.root, ['extract', images, '-o', out, '--quiet', '--batch-size', batchSize, ...modelFlags]).catch((err) => {
      ctx.log(`memory: ${err.message}`);
      return { peakRssMB: NaN, result: { rows: 0, imagesPerSecond: 0 } };
    });
    const seconds = (Date.now() - started) / 1000;
    runs.push({ images: n, rows: result.rows, maxRssMB: Math.round(peakRssMB * 10) / 10, seconds: Math.round(seconds * 10) / 10, imagesPerSecond: result.imagesPerSecond });
    await fsp.rm(out, { recursive: true, force: true });
  }
  const first = runs[0];
  const last = runs.at(-1);
  const rows = runs.map((r) => [`peak RSS, ${r.images.toLocaleString('en')} images`, `${r.maxRssMB} MB (${r.seconds} s, ${r.imagesPerSecond} img/s)`]);
  if (runs.length > 1) rows.push([`peak RSS ratio ${last.images}/${first.images} images`, `${(last.maxRssMB / first.maxRssMB).toFixed(2)}×`]);
  return {
    title: `Memory: peak RSS of extract vs image count (${modelArg} model, batch ${batchSize})`,
    rows,
    json: { memory: { model: modelArg, batchSize: Number(batchSize), runs, ratio: runs.length > 1 ? last.maxRssMB / first.maxRssMB : 1 } },
  };
}

async function modelOptions(model, work, root) {
  if (model === 'tiny') {
    const { makeTinyModel } = await import(path.join(root, 'dist-test', 'helpers.js'));
    return ['--model', await makeTinyModel(path.join(work, 'tiny-model')), '--preprocess', 'none'];
  }
  return ['--model', model];
}

/** `n` small distinct JPEGs in two classes, generated once and reused. */
async function ensureImages(dir, n, log) {
  const count = async () => (await Promise.all(['a', 'b'].map((c) => fsp.readdir(path.join(dir, c)).then((f) => f.length, () => 0)))).reduce((x, y) => x + y, 0);
  if ((await count()) === n) return dir;
  log(`memory: generating ${n} images in ${dir}…`);
  await fsp.rm(dir, { recursive: true, force: true });
  await Promise.all(['a', 'b'].map((c) => fsp.mkdir(path.join(dir, c), { recursive: true })));
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const pixels = Buffer.alloc(48 * 48 * 3);
      let s = i * 2654435761 + 1;
      for (let k = 0; k < pixels.length; k++) {
        s = (s * 1103515245 + 12345) & 0x7fffffff;
        pixels[k] = (s >> 16) & 0xff;
      }
      await sharp(pixels, { raw: { width: 48, height: 48, channels: 3 } }).jpeg().toFile(path.join(dir, i % 2 ? 'a' : 'b', `${String(i).padStart(6, '0')}.jpg`));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return dir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) if (argv[i].startsWith('--')) args[argv[i].slice(2)] = argv[i + 1]?.startsWith('--') ? true : argv[++i];
  const result = await bench({ root: path.resolve(HERE, '..'), args, log: (m) => process.stderr.write(`${m}\n`) });
  console.log(result.title);
  for (const [label, value] of result.rows) console.log(`  ${label.padEnd(36)} ${value}`);
  console.log(JSON.stringify(result.json));
}
