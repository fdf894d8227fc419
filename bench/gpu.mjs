// Section "gpu" (issue 19): on the same photos, the raw engine on the CPU provider and on the GPU
// provider (fp32, fp16), their features compared, end-to-end `cnnfeat extract --device auto`
// (fp32, fp16), and the PyTorch GPU peer (../shared/bench/peer_torch_gpu.py) when torch with CUDA
// is there; ratios from the same run. One line and nothing else where no usable GPU is found.
//
//   --gpu-model <id|model.json|.onnx>  network (default resnet50; the device check passes a
//                                      torchvision ResNet50 exported on the GPU machine)
//   --gpu-preprocess <mode>            its normalisation (needed for a .onnx file)
//   --gpu-layer <name>                 where to cut it (default: its card's or the default cut)
//   --gpu-dir <images>                 photos (default: generated 640×480 JPEGs, --gpu-images of them)
//   --gpu-images <n>                   how many to generate (default 1024)
//   --gpu-raw-images <n>               pre-decoded images the raw engine runs (default 256)
//   --gpu-equality-model <model> [--gpu-equality-preprocess m] [--gpu-equality-layer l]
//                                      also compare GPU and CPU features of this model (real weights)
//   --gpu-peer <peer_torch_gpu.py>     the peer script (default ../shared/bench/peer_torch_gpu.py)
//   --gpu-software                     run on a software adapter (lavapipe) too: for testing this
//                                      section without a GPU; its figures are not GPU figures
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { run, runCnnfeat } from './child.mjs';
import { generatedImages } from './images.mjs';
import { decodeScaling, powersUpToCores } from './decode.mjs';

const PASSES = 3;

/** @param {{ root: string, args: Record<string, any>, log: (m: string) => void }} ctx */
export async function bench({ root, args, log }) {
  const lib = await import(path.join(root, 'dist', 'index.js'));
  const status = await lib.gpuStatus();
  const software = Boolean(args['gpu-software']);
  const gpuDevice = software ? 'webgpu' : 'gpu';
  const usable = status.webgpu?.ok && (!status.webgpu.software || software);
  const cuda = status.providers.some((p) => p.name === 'cuda' && p.installed) && status.devices.some((d) => d.vendor === 'nvidia');
  if (!usable && !cuda) {
    const why = status.webgpu?.ok ? `the only WebGPU adapter is ${status.webgpu.adapter} (--gpu-software runs on it anyway)` : (status.webgpu?.error ?? 'no GPU provider');
    return { title: `gpu: skipped, no usable GPU here: ${why}; device auto takes ${status.auto}`, rows: [], json: { gpu: { skipped: why } } };
  }
  const model = args['gpu-model'] ?? 'resnet50';
  const preprocess = args['gpu-preprocess'];
  const layer = args['gpu-layer'];
  const dir = args['gpu-dir'] ? path.resolve(args['gpu-dir']) : await generatedImages(Number(args['gpu-images'] ?? 1024));
  const files = (await lib.scanDataset(dir)).samples.map((s) => path.join(dir, s.relPath));
  const rawCount = Math.min(files.length, Number(args['gpu-raw-images'] ?? 256));
  const modelArgs = ['--model', model, ...(preprocess ? ['--preprocess', preprocess] : []), ...(layer ? ['--layer', layer] : [])];

  log(`gpu: raw engine on ${rawCount} pre-decoded images`);
  const raw = {};
  const rows = {};
  for (const [key, device, precision] of [['cpu', 'cpu', 'fp32'], ['gpu32', gpuDevice, 'fp32'], ['gpu16', gpuDevice, 'fp16']]) {
    const r = await rawEngine(root, lib, files.slice(0, rawCount), { model, preprocess, layer, device, precision }, PASSES);
    raw[key] = r.measured;
    rows[key] = r.rows;
  }
  const equality = {
    fp32: compareRows(rows.gpu32, rows.cpu, raw.cpu.dim),
    fp16: compareRows(rows.gpu16, rows.cpu, raw.cpu.dim),
  };
  const realModel = args['gpu-equality-model'] ? await realModelEquality(root, lib, files.slice(0, 32), args, gpuDevice) : null;

  const extract = {};
  for (const precision of ['fp32', 'fp16']) {
    log(`gpu: extract --device ${software ? 'webgpu' : 'auto'} --precision ${precision} on ${files.length} images`);
    extract[precision] = await extractRun(root, dir, [...modelArgs, '--device', software ? 'webgpu' : 'auto', '--precision', precision]);
  }
  const peer = await peerRuns(root, args, dir, log);
  log(`gpu: decode only, in this process and in 1…${os.availableParallelism()} decoder processes`);
  const decoding = await decodeScaling(root, dir, powersUpToCores());

  const ips = (x) => `${x.imagesPerSecond} img/s`;
  const ratio = (a, b) => (a && b ? round(a / b, 2) : '-');
  const adapter = `${raw.gpu32.provider} on ${raw.gpu32.adapter}`;
  const json = { gpu: { model, images: files.length, adapter, software: raw.gpu32.software, raw, equality, realModel, extract, peer, decoding, load: os.loadavg()[0] } };
  const result = [
    ['setup', `${model}, ${files.length} images in ${dir}, ${os.availableParallelism()} cores, load ${round(os.loadavg()[0], 2)}${raw.gpu32.software ? '; SOFTWARE ADAPTER: these are not GPU figures' : ''}`],
    ['raw CPU provider, fp32', `${ips(raw.cpu)} (batch ${raw.cpu.batch}, ${raw.cpu.threads} threads)`],
    [`raw GPU (${adapter}), fp32`, `${ips(raw.gpu32)} (batch ${raw.gpu32.batch}) = ${ratio(raw.gpu32.imagesPerSecond, raw.cpu.imagesPerSecond)}× the CPU provider`],
    ['raw GPU, fp16', `${ips(raw.gpu16)} (batch ${raw.gpu16.batch}) = ${ratio(raw.gpu16.imagesPerSecond, raw.gpu32.imagesPerSecond)}× fp32`],
    ['GPU fp32 rows vs CPU rows', `min cosine ${equality.fp32.minCosine}, max rel. diff ${equality.fp32.maxRelative.toExponential(1)} (target ≥ 0.9999, ≤ 1e-3)`],
    ['GPU fp16 rows vs CPU fp32 rows', `min cosine ${equality.fp16.minCosine} (target ≥ 0.999)`],
    ...(realModel ? [[`${realModel.model}: GPU vs CPU`, `fp32 min cosine ${realModel.fp32.minCosine}, max rel. diff ${realModel.fp32.maxRelative.toExponential(1)}; fp16 min cosine ${realModel.fp16.minCosine}`]] : []),
    ...['fp32', 'fp16'].map((p) => [`extract --device ${software ? 'webgpu' : 'auto'}, ${p}`, `${ips(extract[p])} (${extract[p].device}; ${extract[p].wallSeconds} s wall) = ${ratio(extract[p].imagesPerSecond, (p === 'fp32' ? raw.gpu32 : raw.gpu16).imagesPerSecond)}× the raw GPU engine`]),
    ...['fp32', 'fp16'].map((p) => [
      `PyTorch GPU peer, ${p}`,
      peer[p] ? `${peer[p].img_per_s} img/s (decode alone ${peer[p].decode_only_img_per_s}); extract / peer = ${ratio(extract[p].imagesPerSecond, peer[p].img_per_s)} (target ≥ 0.8)` : `not run (${peer.why})`,
    ]),
    ...decoding.lines.map((l) => [
      `decode only, ${l.label}`,
      `${l.imagesPerSecond} img/s${l.scaling === null ? '' : ` = ${l.scaling}× ${l.processes} × one process's rate (target ≥ 0.7 at ${os.availableParallelism()})`}; decoder CPU ${l.decoderCpuMs ?? '-'} ms/img, this process ${l.mainCpuMs}`,
    ]),
  ];
  return { title: `gpu: raw engine, features and end-to-end extract on the GPU against the CPU provider and PyTorch`, rows: result, json };
}

/**
 * The engine alone on pre-decoded images, batched as `extract` batches them: its rows (of the
 * first pass, which also warms up: first-run allocations, GPU shader compilation) and the median
 * images/s of `passes` more.
 */
async function rawEngine(root, lib, files, opts, passes) {
  const { decodeFiles, decodeOptionsOf, toInput } = await import(path.join(root, 'dist', 'pipeline', 'batches', 'batch.js'));
  const fm = await lib.loadFeatureModel(opts);
  try {
    const d = fm.extractor.describe();
    const batch = fm.extractor.batchSize ?? 32;
    const { pixels } = await decodeFiles(files, decodeOptionsOf(fm.settings));
    const batches = [];
    for (let i = 0; i < pixels.length; i += batch) batches.push(pixels.slice(i, i + batch));
    const pass = async () => {
      const out = [];
      const inputs = batches.map((b) => toInput(b, fm.settings, undefined, fm.extractor.inputType));
      const started = performance.now();
      for (let i = 0; i < inputs.length; i++) out.push(await fm.extractor.run(inputs[i], batches[i].length, { transfer: true }));
      return { seconds: (performance.now() - started) / 1000, out };
    };
    const first = await pass();
    const times = [];
    for (let i = 0; i < passes; i++) times.push((await pass()).seconds);
    const rows = new Float32Array(pixels.length * fm.settings.dim);
    first.out.reduce((offset, r) => (rows.set(r, offset), offset + r.length), 0);
    const measured = { imagesPerSecond: passes > 0 ? round(pixels.length / median(times)) : null, batch, threads: d.threads, provider: d.provider, adapter: d.adapter, software: /software/i.test(d.adapter ?? ''), dim: fm.settings.dim };
    return { measured, rows };
  } finally {
    await fm.extractor.dispose();
  }
}

/** Row-wise agreement of two feature matrices: smallest cosine, largest |a − b| / max |b| over rows. */
function compareRows(a, b, dim) {
  let minCosine = 1;
  let maxRelative = 0;
  for (let r = 0; r * dim < b.length; r++) {
    const x = a.subarray(r * dim, (r + 1) * dim);
    const y = b.subarray(r * dim, (r + 1) * dim);
    let dot = 0, nx = 0, ny = 0, diff = 0, big = 0;
    for (let i = 0; i < dim; i++) {
      dot += x[i] * y[i];
      nx += x[i] * x[i];
      ny += y[i] * y[i];
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
      big = Math.max(big, Math.abs(y[i]));
    }
    minCosine = Math.min(minCosine, dot / Math.sqrt(nx * ny));
    maxRelative = Math.max(maxRelative, diff / big);
  }
  return { minCosine: Number(minCosine.toFixed(6)), maxRelative: Number(maxRelative.toExponential(2)) };
}

/** GPU against CPU rows of `--gpu-equality-model` (a real network, e.g. MobileNet) on a few photos. */
async function realModelEquality(root, lib, files, args, gpuDevice) {
  const model = args['gpu-equality-model'];
  const opts = { model, preprocess: args['gpu-equality-preprocess'], layer: args['gpu-equality-layer'] };
  const rows = {};
  let dim = 0;
  for (const [key, device, precision] of [['cpu', 'cpu', 'fp32'], ['fp32', gpuDevice, 'fp32'], ['fp16', gpuDevice, 'fp16']]) {
    const r = await rawEngine(root, lib, files, { ...opts, device, precision }, 0);
    rows[key] = r.rows;
    dim = r.measured.dim;
  }
  return { model: path.basename(path.dirname(model)) || model, images: files.length, fp32: compareRows(rows.fp32, rows.cpu, dim), fp16: compareRows(rows.fp16, rows.cpu, dim) };
}

/** One `cnnfeat extract` in a child process: its images/s and the device its manifest records. */
async function extractRun(root, dir, more) {
  const out = await fsp.mkdtemp(path.join(os.tmpdir(), 'cnnfeat-bench-gpu-'));
  try {
    const started = performance.now();
    const { result } = await runCnnfeat(root, ['extract', dir, '-o', out, '--quiet', ...more]);
    const manifest = JSON.parse(await fsp.readFile(path.join(out, 'manifest.json'), 'utf8'));
    const e = manifest.engine;
    return { imagesPerSecond: round(result.imagesPerSecond), wallSeconds: round((performance.now() - started) / 1000), device: `${e.device}, ${e.provider} on ${e.adapter}`, deviceReason: e.deviceReason, stages: manifest.timings.stages };
  } finally {
    await fsp.rm(out, { recursive: true, force: true });
  }
}

/** The PyTorch GPU peer on the same images, fp32 and fp16, when python3 has torch with CUDA. */
async function peerRuns(root, args, dir, log) {
  const script = path.resolve(args['gpu-peer'] ?? path.join(root, '..', 'shared', 'bench', 'peer_torch_gpu.py'));
  if (!existsSync(script)) return { why: `${script} not found` };
  let python = null;
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    try {
      const { stdout } = await promisify(execFile)(candidate, ['-c', 'import torch, torchvision; print(torch.cuda.is_available())']);
      if (stdout.trim() === 'True') python = candidate;
      break;
    } catch {
      // try the next interpreter
    }
  }
  if (!python) return { why: 'python3 with torch, torchvision and CUDA not found' };
  const peer = {};
  for (const precision of ['fp32', 'fp16']) {
    log(`gpu: PyTorch GPU peer, ${precision}`);
    const { stdout } = await run(python, [script, dir, '--precision', precision, '--workers', String(os.availableParallelism())]);
    peer[precision] = JSON.parse(stdout.trim().split('\n').pop());
  }
  return peer;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const round = (x, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
