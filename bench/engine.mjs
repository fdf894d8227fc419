// Section "engine" (issue 3): raw engine vs end-to-end `extract` vs the PyTorch peer, same images.
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { run, runCnnfeat } from './child.mjs';
import { generatedImages } from './images.mjs';

const BATCH = 32;
const PEER_BATCH = 8; // the peer's best batch on 2 cores
const RAW_IMAGES = 64;

/** @param {{ root: string, args: Record<string, any>, log: (m: string) => void }} ctx */
export async function bench({ root, args, log }) {
  const repeat = Number(args.repeat ?? 1);
  const engine = args.engine ?? 'auto';
  const sets = [{ name: args.dir ? path.basename(path.resolve(args.dir)) : 'generated 256 × 640×480 JPEG', dir: args.dir ?? (await generatedImages(256)) }];
  const hymenoptera = path.join(root, '..', 'shared', 'datasets', 'hymenoptera');
  if (!args.dir && existsSync(hymenoptera)) sets.push({ name: 'hymenoptera (397 photos)', dir: hymenoptera });

  const lib = await import(path.join(root, 'dist', 'index.js'));
  const modelDir = path.dirname((await lib.resolveModel('resnet50')).modelFile);
  const peer = args['no-peer'] ? null : await peerCommand(root);
  const results = [];
  for (const set of sets) {
    try {
      results.push(await measureSet(root, lib, set, { engine, repeat, peer, modelDir, log }));
    } catch (err) {
      log(`${set.name}: failed: ${err.message}`);
    }
  }
  if (results.length === 0) return { title: 'engine: every image set failed (see above)', rows: [], json: {} };
  const rows = results.flatMap((r) => [
    [`${r.dataset}`, `${r.images} images, engine ${r.engine}, batch ${BATCH}, ${os.availableParallelism()} cores`],
    ['  raw engine (pre-decoded)', `${r.rawImagesPerSecond} img/s`],
    ['  extract end-to-end', `${r.extractImagesPerSecond} img/s  (${r.extractWallSeconds} s wall incl. start-up)`],
    ['  extract / raw', `${r.extractToRaw}  (target ≥ 0.9)`],
    ['  PyTorch peer', r.peerImagesPerSecond === null ? `not run (${args['no-peer'] ? '--no-peer' : peer ? 'failed' : 'python3 with torch not found'})` : `${r.peerImagesPerSecond} img/s (batch ${PEER_BATCH})`],
    ['  extract / peer', r.extractToPeer === null ? '-' : `${r.extractToPeer}  (target ≥ 1.5)`],
    ['  peak RSS of extract', `${r.peakRssMB} MB  (target ≤ 1536)`],
  ]);
  return { title: `engine: ResNet50 avg_pool, median of ${repeat} run(s)`, rows, json: { ...results[0], datasets: results } };
}

/** Raw engine, `extract` and the peer on one image set. */
async function measureSet(root, lib, set, { engine, repeat, peer, modelDir, log }) {
  log(`${set.name}: raw engine`);
  const raw = await rawEngine(root, lib, set.dir, engine);
  const extract = [];
  const peerRuns = [];
  for (let i = 0; i < repeat; i++) {
    log(`${set.name}: extract (run ${i + 1}/${repeat})`);
    extract.push(await extractRun(root, set.dir, engine));
    if (peer) {
      log(`${set.name}: PyTorch peer (run ${i + 1}/${repeat})`);
      const result = await peerRun(peer, set.dir, modelDir).catch((err) => log(`peer failed: ${err.message}`));
      if (result) peerRuns.push(result);
    }
  }
  const extractIps = median(extract.map((e) => e.imagesPerSecond));
  const peerIps = peerRuns.length > 0 ? median(peerRuns.map((p) => p.img_per_s_total)) : null;
  return {
    dataset: set.name,
    images: extract[0].rows,
    engine: raw.engine,
    rawImagesPerSecond: round(raw.imagesPerSecond),
    extractImagesPerSecond: round(extractIps),
    extractToRaw: round(extractIps / raw.imagesPerSecond, 3),
    peerImagesPerSecond: peerIps === null ? null : round(peerIps),
    extractToPeer: peerIps === null ? null : round(extractIps / peerIps, 3),
    peakRssMB: Math.round(Math.max(...extract.map((e) => e.peakRssMB))),
    extractWallSeconds: round(median(extract.map((e) => e.wallSeconds))),
  };
}

/** Images/s of the engine alone on pre-decoded, preprocessed batches (median of 3 passes). */
async function rawEngine(root, lib, dir, engine) {
  const { decodeFiles, decodeOptionsOf, toInput } = await import(path.join(root, 'dist', 'pipeline', 'batch.js'));
  const fm = await lib.loadFeatureModel({ engine });
  try {
    const files = (await lib.scanDataset(dir)).samples.slice(0, RAW_IMAGES).map((s) => path.join(dir, s.relPath));
    const decoded = await decodeFiles(files, decodeOptionsOf(fm.settings));
    const batches = [];
    for (let i = 0; i < decoded.pixels.length; i += BATCH) batches.push(toInput(decoded.pixels.slice(i, i + BATCH), fm.settings));
    const n = decoded.pixels.length;
    const rates = [];
    for (let pass = 0; pass < 3; pass++) {
      const started = performance.now();
      for (const b of batches) await fm.extractor.run(b, b.length / (fm.settings.input.height * fm.settings.input.width * 3));
      rates.push(n / ((performance.now() - started) / 1000));
    }
    return { imagesPerSecond: median(rates), engine: fm.extractor.describe().engine };
  } finally {
    await fm.extractor.dispose();
  }
}

/** One `cnnfeat extract` in a child process: its own images/s and peak RSS. */
async function extractRun(root, dir, engine) {
  const out = await fsp.mkdtemp(path.join(os.tmpdir(), 'cnnfeat-bench-out-'));
  try {
    const started = performance.now();
    const { result, peakRssMB } = await runCnnfeat(root, ['extract', dir, '-o', out, '--quiet', '--engine', engine, '--batch-size', String(BATCH)]);
    return { ...result, peakRssMB, wallSeconds: (performance.now() - started) / 1000 };
  } finally {
    await fsp.rm(out, { recursive: true, force: true });
  }
}

/** The PyTorch peer's command, when python3 with torch is installed. */
async function peerCommand(root) {
  const script = path.join(root, '..', 'shared', 'bench', 'peer_torch.py');
  if (!existsSync(script)) return null;
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      await promisify(execFile)(python, ['-c', 'import torch, PIL, numpy']);
      return { python, script };
    } catch {
      // try the next interpreter
    }
  }
  return null;
}

async function peerRun(peer, dir, modelDir) {
  const out = await fsp.mkdtemp(path.join(os.tmpdir(), 'cnnfeat-bench-peer-'));
  try {
    const args = [peer.script, dir, path.join(out, 'peer'), '--model-dir', modelDir, '--batch', String(PEER_BATCH), '--threads', String(os.availableParallelism())];
    const { stdout } = await run(peer.python, args);
    return JSON.parse(stdout.trim().split('\n').pop());
  } finally {
    await fsp.rm(out, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const round = (x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
