// Section "decode" (issue 19): decode-only images/s (decode + resize to 224×224, no inference) in
// this process and in 1…N decoder processes, with the CPU each image costs, on the same images.
import os from 'node:os';
import path from 'node:path';
import { defaultImageSets } from './engine.mjs';

const PASSES = 3;
const BATCH = 32;

/** @param {{ root: string, args: Record<string, any>, log: (m: string) => void }} ctx */
export async function bench({ root, args, log }) {
  const sets = await defaultImageSets(root, args);
  const counts = args['decode-processes'] ? String(args['decode-processes']).split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 0) : powersUpToCores();
  const results = [];
  for (const set of sets) {
    log(`decode: ${set.name}`);
    results.push({ dataset: set.name, load: loadAverage(), ...(await decodeScaling(root, set.dir, counts)) });
  }
  const rows = results.flatMap((r) => [
    [r.dataset, `${r.images} images → 224×224, ${os.availableParallelism()} cores, load average ${r.load}; median of ${PASSES} passes, ${BATCH} images asked for at a time`],
    ...r.lines.map((l) => [
      `  ${l.label}`,
      `${String(l.imagesPerSecond).padStart(7)} img/s  ${l.scaling === null ? '' : `${l.scaling}× of ${l.processes} × one process's rate  `}CPU ms/img: decoders ${l.decoderCpuMs ?? '-'}, this process ${l.mainCpuMs}`,
    ]),
  ]);
  return { title: 'decode: decode-only images/s by decoder processes (target on a 16-core machine: ≥ 0.7 × cores × one process)', rows, json: { decode: results } };
}

/** 1, 2, 4, … decoder processes up to the cores. */
export function powersUpToCores() {
  const counts = [];
  for (let n = 1; n < os.availableParallelism(); n *= 2) counts.push(n);
  return [...counts, os.availableParallelism()];
}

/**
 * Decode-only rates of the images under `dir`: in this process (libuv's pool at its size here), and
 * with each of `counts` decoder processes (one decode at a time each, the extraction default).
 * Exported for the GPU section, which reports the same lines beside the GPU's rate.
 */
export async function decodeScaling(root, dir, counts) {
  const { DecodePool } = await import(path.join(root, 'dist', 'image', 'decode-pool.js'));
  const { inProcessDecoder } = await import(path.join(root, 'dist', 'image', 'decoder.js'));
  const { DECODE_DEFAULTS } = await import(path.join(root, 'dist', 'pipeline', 'setup', 'defaults.js'));
  const lib = await import(path.join(root, 'dist', 'index.js'));
  const dataset = await lib.scanDataset(dir);
  const files = dataset.samples.map((s) => path.join(dataset.root, s.relPath));
  const opts = { width: 224, height: 224, resize: 'squash', kernel: 'linear', icc: 'ignore' };
  const lines = [];
  lines.push({ label: `this process (${inProcessDecoder.concurrency} at once)`, processes: 0, ...(await measure(inProcessDecoder, files, opts)) });
  let one = null;
  for (const processes of counts.filter((n) => n > 0)) {
    const pool = new DecodePool({ processes, perProcess: DECODE_DEFAULTS.perProcess });
    try {
      const rate = await measure(pool, files, opts);
      one ??= rate.imagesPerSecond;
      lines.push({ label: `${processes} decoder process${processes > 1 ? 'es' : ''}`, processes, ...rate, scaling: round(rate.imagesPerSecond / (processes * one), 2) });
    } finally {
      await pool.close();
    }
  }
  return { images: files.length, lines: lines.map((l) => ({ scaling: null, ...l })) };
}

/** The median of a few passes over the files, asked for BATCH at a time with two batches in flight (as extract asks). */
async function measure(decoder, files, opts) {
  await decoder.decodeFiles(files.slice(0, BATCH), opts); // processes started, code warm
  const passes = [];
  for (let p = 0; p < PASSES; p++) {
    const before = await decoder.stats();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const inFlight = [];
    for (let i = 0; i < files.length; i += BATCH) {
      inFlight.push(decoder.decodeFiles(files.slice(i, i + BATCH), opts));
      if (inFlight.length >= 2) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - started) / 1000;
    const main = process.cpuUsage(cpu);
    const after = await decoder.stats();
    passes.push({
      imagesPerSecond: round(files.length / seconds, 1),
      decoderCpuMs: after.cpuMs === null ? null : round((after.cpuMs - before.cpuMs) / files.length, 2),
      mainCpuMs: round((main.user + main.system) / 1000 / files.length, 2),
    });
  }
  passes.sort((a, b) => a.imagesPerSecond - b.imagesPerSecond);
  return passes[Math.floor(PASSES / 2)];
}

const loadAverage = () => round(os.loadavg()[0], 2);
const round = (x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
