// Section "engine" (issues 3, 13): raw engine vs end-to-end `extract` vs the PyTorch peer, same
// images, with where extract's time goes (manifest.json timings.stages).
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { run, runCnnfeat } from './child.mjs';
import { generatedImages, linkedSubset } from './images.mjs';

const BATCH = 32;
const PEER_BATCH = 8; // the peer's best batch on 2 cores
const RAW_IMAGES = 64;
const RAW_PASSES = 3;
const CIFAR_PER_CLASS = 32;

/** @param {{ root: string, args: Record<string, any>, log: (m: string) => void }} ctx */
export async function bench({ root, args, log }) {
  const repeat = Number(args.repeat ?? 1);
  const engine = args.engine ?? 'auto';
  const sets = await defaultImageSets(root, args);
  const lib = await import(path.join(root, 'dist', 'index.js'));
  const modelDir = path.dirname((await lib.resolveModel('resnet50')).modelFile);
  const peer = args['no-peer'] ? null : await peerCommand(root);
  const results = [];
  for (const set of sets) {
    try {
      results.push(await measureSet(root, lib, set, { engine, repeat, peer, modelDir, log, decoders: args.decoders }));
    } catch (err) {
      log(`${set.name}: failed: ${err.message}`);
    }
  }
  if (results.length === 0) return { title: 'engine: every image set failed (see above)', rows: [], json: {} };
  const rows = results.flatMap((r) => [
    [`${r.dataset}`, `${r.images} images, engine ${r.engine}, batch ${BATCH}, ${os.availableParallelism()} cores, load average ${r.load.before} → ${r.load.after}`],
    ['  raw engine (pre-decoded)', `${r.rawImagesPerSecond} img/s  (per repeat: ${r.rawPerRepeat.join(', ')})`],
    ['  extract end-to-end', `${r.extractImagesPerSecond} img/s  (per repeat: ${r.extractPerRepeat.join(', ')}; ${r.extractWallSeconds} s wall incl. start-up)`],
    ['  extract / raw', `${r.extractToRaw}  (target ≥ 0.9; per repeat: ${r.extractToRawPerRepeat.join(', ')})`],
    ['  … after the first batch', r.extractSteadyToRaw === null ? '-' : `${r.extractSteadyToRaw}  (${r.extractSteadyImagesPerSecond} img/s: without filling the pipeline, the first batch's run and the last write)`],
    ['  PyTorch peer', r.peerImagesPerSecond === null ? `not run (${args['no-peer'] ? '--no-peer' : peer ? 'failed' : 'python3 with torch not found'})` : `${r.peerImagesPerSecond} img/s (batch ${PEER_BATCH})`],
    ['  extract / peer', r.extractToPeer === null ? '-' : `${r.extractToPeer}  (target ≥ 1.5)`],
    ['  extract / raw vs its ceiling', r.ceiling === null ? '-' : `ceiling ${r.ceiling} (inference CPU / (inference + decode + main CPU), median run); extract / raw ÷ ceiling ${r.toCeiling}  (target ≥ 0.95; per repeat: ${r.toCeilingPerRepeat.join(', ')})`],
    ['  peak RSS of extract', `${r.peakRssMB} MB  (target ≤ 1536${r.decoderPeakRssMB ? `; its decoder processes' peaks add ${r.decoderPeakRssMB} MB, of which the node and library code they share is counted in each` : ''})`],
    ...stageRows(r),
  ]);
  return { title: `engine: ResNet50 avg_pool, median of ${repeat} run(s)`, rows, json: { ...results[0], datasets: results } };
}

/**
 * `--dir` alone, else the default sets that exist: generated photos, hymenoptera (its train/ and
 * val/ folders as classes), a CIFAR-10 subset. `extraArgs` are what `extract` needs to take the set.
 */
export async function defaultImageSets(root, args) {
  if (args.dir) return [{ name: path.basename(path.resolve(args.dir)), dir: args.dir, extraArgs: [] }];
  const shared = path.join(root, '..', 'shared', 'datasets');
  const sets = [{ name: 'generated 256 × 640×480 JPEG', dir: await generatedImages(256), extraArgs: [] }];
  if (existsSync(path.join(shared, 'hymenoptera'))) sets.push({ name: 'hymenoptera (397 photos)', dir: path.join(shared, 'hymenoptera'), extraArgs: ['--top-folders-are-classes'] });
  const cifar = path.join(shared, 'cifar10-10k', 'test');
  if (existsSync(cifar)) sets.push({ name: `CIFAR-10 ${CIFAR_PER_CLASS * 10} × 32×32 JPEG`, dir: await linkedSubset(cifar, CIFAR_PER_CLASS, 'cifar10'), extraArgs: [] });
  return sets;
}

/**
 * Raw engine, `extract` and the peer on one image set; each repeat measures the raw engine right
 * before its `extract` run, so that both see the same machine load.
 */
async function measureSet(root, lib, set, { engine, repeat, peer, modelDir, log, decoders }) {
  const load = { before: loadAverage() };
  const raw = await rawEngine(root, lib, set.dir, engine);
  const rawRuns = [];
  const extract = [];
  const peerRuns = [];
  try {
    for (let i = 0; i < repeat; i++) {
      log(`${set.name}: raw engine (run ${i + 1}/${repeat})`);
      rawRuns.push(await raw.measure());
      log(`${set.name}: extract (run ${i + 1}/${repeat})`);
      extract.push(await extractRun(root, set.dir, engine, [...set.extraArgs, ...(decoders === undefined ? [] : ['--decoders', String(decoders)])]));
      if (peer) {
        log(`${set.name}: PyTorch peer (run ${i + 1}/${repeat})`);
        const result = await peerRun(peer, set.dir, modelDir).catch((err) => log(`peer failed: ${err.message}`));
        if (result) peerRuns.push(result);
      }
    }
  } finally {
    await raw.dispose();
  }
  load.after = loadAverage();
  const rawIps = median(rawRuns.map((r) => r.imagesPerSecond));
  const extractIps = median(extract.map((e) => e.imagesPerSecond));
  const peerIps = peerRuns.length > 0 ? median(peerRuns.map((p) => p.img_per_s_total)) : null;
  const typical = extract.find((e) => e.imagesPerSecond === extractIps);
  const typicalRaw = rawRuns.find((r) => r.imagesPerSecond === rawIps);
  const steady = median(extract.map((e) => steadyRate(e.stages) ?? NaN));
  const ceilings = extract.map((e) => ceilingOf(e.stages));
  const toCeiling = extract.map((e, i) => (ceilings[i] === null ? NaN : e.imagesPerSecond / rawRuns[i].imagesPerSecond / ceilings[i]));
  return {
    dataset: set.name,
    images: extract[0].rows,
    engine: raw.engine,
    load,
    rawImagesPerSecond: round(rawIps),
    extractImagesPerSecond: round(extractIps),
    extractToRaw: round(extractIps / rawIps, 3),
    extractSteadyImagesPerSecond: Number.isNaN(steady) ? null : round(steady),
    extractSteadyToRaw: Number.isNaN(steady) ? null : round(steady / rawIps, 3),
    rawPerRepeat: rawRuns.map((r) => round(r.imagesPerSecond)),
    extractPerRepeat: extract.map((e) => round(e.imagesPerSecond)),
    extractToRawPerRepeat: extract.map((e, i) => round(e.imagesPerSecond / rawRuns[i].imagesPerSecond, 3)),
    peerImagesPerSecond: peerIps === null ? null : round(peerIps),
    extractToPeer: peerIps === null ? null : round(extractIps / peerIps, 3),
    ceiling: ceilingOf(typical.stages) === null ? null : round(ceilingOf(typical.stages), 3),
    toCeiling: Number.isNaN(median(toCeiling)) ? null : round(median(toCeiling), 3),
    toCeilingPerRepeat: toCeiling.map((x) => round(x, 3)),
    peakRssMB: Math.round(Math.max(...extract.map((e) => e.peakRssMB))),
    decoderPeakRssMB: Math.max(0, ...extract.map((e) => e.stages?.decoders?.peakRssMB ?? 0)),
    extractWallSeconds: round(median(extract.map((e) => e.wallSeconds))),
    rawInference: typicalRaw.perImage,
    stages: typical.stages ?? null,
  };
}

/**
 * The engine alone on pre-decoded, preprocessed batches of the set's first images, handed over
 * like `extract` hands them (transferred, not copied); `measure()` is the median of a few passes.
 */
async function rawEngine(root, lib, dir, engine) {
  const { decodeFiles, decodeOptionsOf, toInput } = await import(path.join(root, 'dist', 'pipeline', 'batches', 'batch.js'));
  const fm = await lib.loadFeatureModel({ engine });
  const files = (await lib.scanDataset(dir)).samples.slice(0, RAW_IMAGES).map((s) => path.join(dir, s.relPath));
  const decoded = await decodeFiles(files, decodeOptionsOf(fm.settings));
  const n = decoded.pixels.length;
  const pass = async () => {
    const batches = [];
    for (let i = 0; i < n; i += BATCH) batches.push(decoded.pixels.slice(i, i + BATCH));
    const inputs = batches.map((b) => toInput(b, fm.settings, undefined, fm.extractor.inputType));
    const before = fm.extractor.timings?.();
    const started = performance.now();
    for (let i = 0; i < inputs.length; i++) await fm.extractor.run(inputs[i], batches[i].length, { transfer: true });
    const seconds = (performance.now() - started) / 1000;
    return { imagesPerSecond: n / seconds, perImage: perImage(before, fm.extractor.timings?.(), n) };
  };
  return {
    engine: fm.extractor.describe().engine,
    async measure() {
      const passes = [];
      for (let i = 0; i < RAW_PASSES; i++) passes.push(await pass());
      const ips = median(passes.map((p) => p.imagesPerSecond));
      return passes.find((p) => p.imagesPerSecond === ips);
    },
    dispose: () => fm.extractor.dispose(),
  };
}

/**
 * What extract / raw can reach when inference and decoding share the CPU cores (a CPU engine): the
 * share of the CPU time inference gets, inference / (inference + decode + main). Null without CPU times.
 */
function ceilingOf(st) {
  const cpu = st?.cpu;
  if (!cpu || cpu.inference === null) return null;
  return cpu.inference / (cpu.inference + cpu.decodeAndOther + (cpu.decoders ?? 0) + cpu.main);
}

/**
 * Images/s of an extraction once its pipeline is full: the images after the first batch over the
 * time from the first batch's features to the last ones (null without stage timings).
 */
function steadyRate(st) {
  if (!st?.engine?.firstBatch || st.images <= st.engine.firstBatch.images) return null;
  const seconds = st.seconds - st.engine.beforeFirstBatch - st.engine.firstBatch.inference - st.engine.afterLastBatch;
  return (st.images - st.engine.firstBatch.images) / seconds;
}

/** Engine time per image between two timings snapshots, in ms (null fields when not measured). */
function perImage(a, b, n) {
  if (!a || !b) return null;
  const per = (x, y) => (x === null || y === null ? null : round((y - x) / n, 1));
  const cores = a.inferenceCpuMs === null || b.inferenceCpuMs === null ? null : round((b.inferenceCpuMs - a.inferenceCpuMs) / (b.inferenceMs - a.inferenceMs));
  return { inferenceMs: per(a.inferenceMs, b.inferenceMs), cpuMs: per(a.inferenceCpuMs, b.inferenceCpuMs), waitedForCoreMs: per(a.inferenceCpuWaitMs, b.inferenceCpuWaitMs), coresBusy: cores };
}

/** The per-stage table of the median `extract` run, beside the raw engine's own per-image costs. */
function stageRows(r) {
  const st = r.stages;
  if (!st) return [['  stages of extract', 'not recorded (older cnnfeat?)']];
  const ms = (seconds) => `${round((seconds * 1000) / st.images, 1)}`.padStart(6);
  const line = (label, seconds, note = '') => [`    ${label}`, `${ms(seconds)} ms/img  ${String(round(seconds, 2)).padStart(6)} s${note ? `  ${note}` : ''}`];
  const rawInf = r.rawInference;
  const rows = [
    ['  stages of extract (median run)', `${st.images} images in ${st.batches} batches of ≤ ${st.batchSize}, ${round(st.seconds, 2)} s from first decode to last checkpoint; threads: inference ${st.threads.inference}, decoder processes ${st.threads.decoderProcesses ?? 0}, decodes at once ${st.threads.decodeConcurrency}, libvips ${st.threads.libvips}`],
    ['   main thread (adds up to the total)', ''],
    line('waiting for decoded batch', st.main.waitDecode),
    line('preprocessing into batch', st.main.preprocess),
    line('waiting for the engine', st.main.waitEngine),
    line('writes + checkpoints', st.main.write),
    line('other', st.main.other),
    ['   engine (inference + idle = total)', ''],
    line('inference', st.engine.inference, rawInf?.inferenceMs != null ? `raw engine: ${rawInf.inferenceMs} ms/img` : ''),
    line('idle (no batch to run)', st.engine.idle, `utilization ${st.engine.utilization}`),
    line('…of it before the first batch', st.engine.beforeFirstBatch),
    line('…of it after the last batch', st.engine.afterLastBatch),
    ...(st.engine.firstBatch
      ? [[`    first batch's inference`, `${round(st.engine.firstBatch.inference, 2)} s for ${st.engine.firstBatch.images} images (${round((st.engine.firstBatch.inference * 1000) / st.engine.firstBatch.images, 1)} ms/img; incl. first-run allocations)`]]
      : []),
    line('hand-over to worker', st.engine.handover),
    line('features back to main', st.engine.return),
    ['   decoding (overlaps inference)', ''],
    line('decode spans, summed', st.decode),
  ];
  if (st.cpu) {
    const rawCores = rawInf?.coresBusy != null ? `; the raw engine's inference keeps ${rawInf.coresBusy} busy` : '';
    rows.push(['   CPU time by thread group', `process ${round(st.cpu.process, 2)} s = ${round(st.cpu.process / st.seconds, 2)} cores busy of ${os.availableParallelism()}${rawCores}`]);
    if (st.cpu.inference !== null) rows.push(line('inference threads', st.cpu.inference, rawInf?.cpuMs != null ? `raw engine: ${rawInf.cpuMs} ms/img` : ''));
    if (st.cpu.inferenceWaitedForCore !== null) rows.push(line('…ready but waiting for a core', st.cpu.inferenceWaitedForCore, rawInf?.waitedForCoreMs != null ? `raw engine: ${rawInf.waitedForCoreMs} ms/img` : ''));
    rows.push(line('main thread', st.cpu.main));
    rows.push(line(st.cpu.decoders == null ? 'decode, I/O, GC helpers' : 'I/O, GC helpers, receiving pixels', st.cpu.decodeAndOther));
    if (st.cpu.decoders != null) {
      rows.push(line('decoder processes', st.cpu.decoders));
      if (st.cpu.decodersWaitedForCore != null) rows.push(line('…ready but waiting for a core', st.cpu.decodersWaitedForCore));
    }
  }
  return rows;
}

/** One `cnnfeat extract` in a child process: its own images/s, stages and peak RSS (its decoder processes' included). */
async function extractRun(root, dir, engine, extraArgs) {
  const out = await fsp.mkdtemp(path.join(os.tmpdir(), 'cnnfeat-bench-out-'));
  try {
    const started = performance.now();
    const { result, peakRssMB } = await runCnnfeat(root, ['extract', dir, '-o', out, '--quiet', '--engine', engine, '--batch-size', String(BATCH), ...extraArgs]);
    const wallSeconds = (performance.now() - started) / 1000;
    const manifest = JSON.parse(await fsp.readFile(path.join(out, 'manifest.json'), 'utf8'));
    return { ...result, stages: manifest.timings.stages, peakRssMB, wallSeconds };
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

const loadAverage = () => round(os.loadavg()[0], 2);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const round = (x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
