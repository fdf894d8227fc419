// Section "onnx-model" (issue 11): ResNet50 given as a .onnx file against the built-in path, on
// the same images, runs alternated in one session. The .onnx is the built-in's own cached export
// (the Keras→ONNX export the default path runs), or --onnx-model <file> (e.g. a torch.onnx.export
// of the same network) with --onnx-preprocess (default caffe, the built-in's).
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCnnfeat } from './child.mjs';
import { generatedImages } from './images.mjs';

const BATCH = 32;

/** @param {{ root: string, args: Record<string, any>, log: (m: string) => void }} ctx */
export async function bench({ root, args, log }) {
  const repeat = Number(args.repeat ?? 3);
  const dir = args.dir ?? (await generatedImages(256));
  const lib = await import(path.join(root, 'dist', 'index.js'));
  const builtIn = await lib.loadFeatureModel({ model: 'resnet50' }); // pulls and exports it when needed
  await builtIn.extractor.dispose();
  const file = args['onnx-model'] ? path.resolve(args['onnx-model']) : await cachedExport(lib.cacheDir(), builtIn.resolved.weightsDigest);
  const variants = [
    { name: 'built-in resnet50', args: [] },
    { name: `.onnx file (${path.basename(file)})`, args: ['--model', file, '--preprocess', args['onnx-preprocess'] ?? 'caffe'] },
  ];
  const runs = variants.map(() => []);
  for (let i = 0; i < repeat + 1; i++) {
    for (const k of i % 2 ? [1, 0] : [0, 1]) {
      const variant = variants[k];
      log(`${variant.name}: ${i === 0 ? 'warm-up (cuts the graph once)' : `run ${i}/${repeat}`}`);
      const result = await extractRun(root, dir, variant.args);
      if (i > 0) runs[k].push(result);
    }
  }
  const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const [base, onnx] = runs.map((r) => ({ imagesPerSecond: median(r.map((x) => x.imagesPerSecond)), wallSeconds: median(r.map((x) => x.wallSeconds)), dim: r[0].dim }));
  // The load of a shared machine changes between rounds: the ratio is taken within each round (the
  // two runs are back to back), then the median of those.
  const ratio = Math.round(median(runs[1].map((r, i) => r.imagesPerSecond / runs[0][i].imagesPerSecond)) * 100) / 100;
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  return {
    title: `onnx-model: ResNet50 from a .onnx file vs built-in, median of ${repeat} alternated run(s) (order swapped every round), ${os.availableParallelism()} cores, load ${load}`,
    rows: [
      ['images', `${dir} (batch ${BATCH})`],
      [variants[0].name, `${base.imagesPerSecond} img/s, ${base.wallSeconds.toFixed(1)} s wall, ${base.dim}-d`],
      [variants[1].name, `${onnx.imagesPerSecond} img/s, ${onnx.wallSeconds.toFixed(1)} s wall, ${onnx.dim}-d`],
      ['.onnx / built-in', `${ratio}  (median of per-round ratios; target ≈ 1: the same engine runs the same graph)`],
    ],
    json: { onnxModel: { file, builtInImagesPerSecond: base.imagesPerSecond, onnxImagesPerSecond: onnx.imagesPerSecond, onnxToBuiltIn: ratio, loadAverage: os.loadavg() } },
  };
}

/** The cached Keras→ONNX export of the built-in ResNet50 at avg_pool. */
async function cachedExport(cache, weightsDigest) {
  const dir = path.join(cache, 'onnx');
  for (const name of await fsp.readdir(dir)) {
    if (!name.endsWith('.json')) continue;
    const record = JSON.parse(await fsp.readFile(path.join(dir, name), 'utf8'));
    if (record.exporterVersion && record.weightsDigest === weightsDigest && record.layers.join() === 'avg_pool' && record.pool === 'avg') return path.join(dir, name.replace(/\.json$/, '.onnx'));
  }
  throw new Error(`no cached export of ResNet50 in ${dir}`);
}

/** One `cnnfeat extract` in a child process. */
async function extractRun(root, dir, extra) {
  const out = await fsp.mkdtemp(path.join(os.tmpdir(), 'cnnfeat-bench-out-'));
  try {
    const started = performance.now();
    const { result } = await runCnnfeat(root, ['extract', dir, '-o', out, '--quiet', '--batch-size', String(BATCH), ...extra]);
    return { ...result, wallSeconds: (performance.now() - started) / 1000 };
  } finally {
    await fsp.rm(out, { recursive: true, force: true });
  }
}
