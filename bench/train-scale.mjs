// Section "train-scale" (issue 10): the linear classifiers at 10k and 50k rows × 2,048-d, 10 classes,
// against scikit-learn's LinearSVC and LogisticRegression(lbfgs) on the same matrices, same run:
// time, test accuracy and peak RSS of one linear-svm fit and one logistic fit at one C, of
// `cnnfeat train` with its defaults (selection + refit), and of the two scikit-learn fits.
//
// Features: `--scale-features <train-dir>,<test-dir>` or $CNNFEAT_BENCH_SCALE_FEATURES (two feature
// directories of `cnnfeat extract`, e.g. the CIFAR-10 10k train and test splits). Training
// matrices hold the real training rows, and above their count within-class mixes of two real
// rows (see drawRows); the test directory is the test matrix.
// Without them: synthetic CNN-like features. `--scale-sizes 10000,50000` (default).
// `--scale-c <C>` (default 1) and `--scale-scale <none|standard|l2>` (default l2) are the one-C
// setting of both libraries (scikit-learn gets the same rows l2-normalised when l2).
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rng } from './random.mjs';
import { runCnnfeat } from './child.mjs';

const PYTHON = '/usr/bin/python3';

/** Synthetic CNN-like rows: sparse non-negative class prototypes plus noise, clipped at 0. */
function synthetic(rows, dim, classes, seed) {
  const rand = rng(seed);
  const protoRand = rng(7);
  const prototypes = Array.from({ length: classes }, () => Float32Array.from({ length: dim }, () => (protoRand() < 0.3 ? 2 * protoRand() : 0)));
  const labels = Array.from({ length: rows }, (_, i) => i % classes);
  const X = new Float32Array(rows * dim);
  labels.forEach((c, i) => {
    const p = prototypes[c];
    for (let j = 0; j < dim; j++) X[i * dim + j] = Math.max(0, p[j] + 1.5 * (rand() + rand() - 1));
  });
  return { X, labels, dim, classes: Array.from({ length: classes }, (_, c) => `class${c}`) };
}

/**
 * `rows` training rows from a real matrix: the real rows themselves when there are enough,
 * else the real rows plus new ones, each a random mix λa + (1−λ)b (λ uniform) of two real rows
 * of the same class. (Copies of real rows, even jittered, would fall on both sides of a
 * validation split and reward the least regularised settings.)
 */
function drawRows(source, rows, seed) {
  const { X, labels, dim } = source;
  const n = labels.length;
  if (rows <= n) return { X: X.subarray(0, rows * dim), labels: labels.slice(0, rows), dim, classes: source.classes };
  const byClass = new Map();
  labels.forEach((c, i) => byClass.set(c, [...(byClass.get(c) ?? []), i]));
  const rand = rng(seed);
  const out = new Float32Array(rows * dim);
  out.set(X.subarray(0, n * dim));
  const outLabels = [...labels];
  for (let r = n; r < rows; r++) {
    const c = labels[Math.floor(rand() * n)];
    const members = byClass.get(c);
    const a = members[Math.floor(rand() * members.length)];
    const b = members[Math.floor(rand() * members.length)];
    const lambda = rand();
    for (let j = 0; j < dim; j++) out[r * dim + j] = lambda * X[a * dim + j] + (1 - lambda) * X[b * dim + j];
    outLabels.push(c);
  }
  return { X: out, labels: outLabels, dim, classes: source.classes };
}

/** Writes a feature directory `cnnfeat train/eval` read (settings copied from a real manifest, or generated). */
async function writeFeatureDir(dir, data, settings) {
  const { npyHeader } = await import('../dist/features/npy.js');
  const n = data.labels.length;
  await fsp.mkdir(dir, { recursive: true });
  const fh = await fsp.open(path.join(dir, 'features.npy'), 'w');
  await fh.write(npyHeader(n, data.dim));
  await fh.write(new Uint8Array(data.X.buffer, data.X.byteOffset, data.X.byteLength));
  await fh.close();
  const names = data.labels.map((c) => data.classes[c]);
  await fsp.writeFile(path.join(dir, 'samples.csv'), `row,path,label\n${names.map((c, i) => `${i},${c}/${i}.jpg,${c}`).join('\n')}\n`);
  const perClass = Object.fromEntries(data.classes.map((c) => [c, names.filter((x) => x === c).length]));
  await fsp.writeFile(
    path.join(dir, 'manifest.json'),
    JSON.stringify({
      format: 'cnnfeat-features',
      formatVersion: 1,
      tool: { name: 'cnnfeat', version: 'bench' },
      createdAt: new Date().toISOString(),
      imageRoot: dir,
      settings,
      engine: { engine: 'onnx', version: 'bench', threads: 1 },
      classes: data.classes,
      counts: { rows: n, planned: n, skipped: 0, perClass },
      planDigest: 'sha256:bench',
      skipped: [],
      ignored: [],
      timings: { seconds: 0, imagesPerSecond: 0, resumed: false },
    }),
  );
}

/** scikit-learn LinearSVC and LogisticRegression(lbfgs) fits, each in its own process (peak RSS). */
function sklearnFit(kind, files, C, scale) {
  if (!existsSync(PYTHON)) return { skipped: `${PYTHON} not found` };
  const script = `
import json, sys, time, re
import numpy as np
try:
    import sklearn
    from sklearn.svm import LinearSVC
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize, StandardScaler
except ImportError as e:
    print(json.dumps({"skipped": "scikit-learn not installed: %s" % e})); sys.exit(0)
kind, xtr, ytr, xte, yte, d, C, scale = sys.argv[1:9]
d = int(d); C = float(C)
X = np.fromfile(xtr, dtype=np.float32).reshape(-1, d); y = np.array(json.load(open(ytr)))
Xt = np.fromfile(xte, dtype=np.float32).reshape(-1, d); yt = np.array(json.load(open(yte)))
t = time.perf_counter()
if scale == "l2":
    X = normalize(X); Xt = normalize(Xt)
elif scale == "standard":
    s = StandardScaler().fit(X); X = s.transform(X); Xt = s.transform(Xt)
clf = LinearSVC(C=C) if kind == "LinearSVC" else LogisticRegression(C=C, solver="lbfgs", max_iter=100)
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    clf.fit(X, y)
    converged = not any("converge" in str(x.message).lower() for x in w)
seconds = time.perf_counter() - t
acc = float((clf.predict(Xt) == yt).mean())
hwm = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": seconds, "accuracy": acc, "peakRssMB": hwm / 1024, "converged": converged, "iterations": int(np.max(clf.n_iter_)), "version": sklearn.__version__}))
`;
  const r = spawnSync(PYTHON, ['-c', script, kind, files.xtr, files.ytr, files.xte, files.yte, String(files.dim), String(C), scale], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return { skipped: `python failed: ${(r.stderr || '').trim().split('\n').pop()}` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** `cnnfeat train` + `eval` in child processes: training seconds, test accuracy, peak RSS of train, what was chosen. */
async function cnnfeatFit(root, trainDir, testDir, out, args) {
  const started = performance.now();
  const { result, peakRssMB } = await runCnnfeat(root, ['train', trainDir, '-o', out, '--quiet', ...args]);
  const seconds = (performance.now() - started) / 1000;
  const { result: metrics } = await runCnnfeat(root, ['eval', out, testDir, '--quiet']);
  const o = result.options;
  // Time of the training itself (reading the features and starting node are not counted, as
  // scikit-learn's time is its fit alone); wall time of the whole command beside it.
  return { seconds: result.seconds, wallSeconds: seconds, accuracy: metrics.accuracy, peakRssMB, chosen: `${result.classifier} C=${o.C} ${o.scale}`, solver: result.solver, selectionSeconds: result.selection?.seconds };
}

const fmt = (r) => (r.skipped ? `skipped: ${r.skipped}` : `${r.seconds.toFixed(1)} s, acc ${r.accuracy.toFixed(4)}, peak RSS ${Math.round(r.peakRssMB)} MB${r.chosen ? `, ${r.chosen}` : ''}${r.converged === false || r.solver?.converged === false ? ' (hit the iteration cap)' : ''}`);

/** @param {{ root: string, args: Record<string, any>, log: (m: string) => void }} ctx */
export async function bench({ root, args, log }) {
  const sizes = String(args['scale-sizes'] ?? '10000,50000').split(',').map(Number);
  const C = Number(args['scale-c'] ?? 1);
  const scale = String(args['scale-scale'] ?? 'l2');
  const given = args['scale-features'] ?? process.env.CNNFEAT_BENCH_SCALE_FEATURES;
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'cnnfeat-bench-scale-'));
  const rows = [];
  const json = { sizes: [] };
  try {
    let source;
    let testData;
    let settings;
    let what;
    if (given) {
      const [trainDir, testDir] = String(given).split(',');
      const { readFeatureSet } = await import('../dist/features/reader.js');
      const tr = await readFeatureSet(trainDir);
      const te = await readFeatureSet(testDir);
      const classes = tr.manifest.classes;
      source = { X: tr.X, labels: tr.labels.map((l) => classes.indexOf(l)), dim: tr.dim, classes };
      testData = { X: te.X, labels: te.labels.map((l) => classes.indexOf(l)), dim: te.dim, classes };
      settings = tr.manifest.settings;
      what = `${trainDir} (${tr.rows} × ${tr.dim}; larger sizes add within-class mixes of its rows), test ${testDir} (${te.rows} rows)`;
    } else {
      source = null;
      testData = synthetic(2000, 2048, 10, 99);
      settings = { model: 'synthetic', weightsDigest: 'sha256:synthetic', layer: 'synthetic', pooled: false, pool: 'avg', preprocess: 'none', dim: 2048, input: { height: 1, width: 1 }, resize: 'squash', resizeKernel: 'linear' };
      what = 'synthetic CNN-like features (10 classes, 2,048-d), test 2,000 rows';
    }
    log(`train-scale: ${what}`);
    rows.push(['features', what]);
    const testDir = path.join(tmp, 'test');
    await writeFeatureDir(testDir, testData, settings);
    const xte = path.join(tmp, 'xte.f32');
    const yte = path.join(tmp, 'yte.json');
    await fsp.writeFile(xte, new Uint8Array(testData.X.buffer, testData.X.byteOffset, testData.X.byteLength));
    await fsp.writeFile(yte, JSON.stringify(testData.labels));
    for (const n of sizes) {
      const data = source ? drawRows(source, n, n) : synthetic(n, 2048, 10, n);
      const trainDir = path.join(tmp, `train-${n}`);
      await writeFeatureDir(trainDir, data, settings);
      const files = { xtr: path.join(tmp, `x-${n}.f32`), ytr: path.join(tmp, `y-${n}.json`), xte, yte, dim: data.dim };
      await fsp.writeFile(files.xtr, new Uint8Array(data.X.buffer, data.X.byteOffset, data.X.byteLength));
      await fsp.writeFile(files.ytr, JSON.stringify(data.labels));
      const matrixMB = (n * data.dim * 4) / 2 ** 20;
      const load = os.loadavg()[0].toFixed(1);
      const entry = { rows: n, matrixMB, load1: Number(load) };
      const one = ['--C', String(C), '--scale', scale];
      log(`train-scale ${n}: cnnfeat linear-svm C=${C} ${scale}`);
      entry.linearSvm = await cnnfeatFit(root, trainDir, testDir, path.join(tmp, 'svm.json'), ['--classifier', 'linear-svm', ...one]);
      log(`train-scale ${n}: scikit-learn LinearSVC`);
      entry.linearSvc = sklearnFit('LinearSVC', files, C, scale);
      log(`train-scale ${n}: cnnfeat logistic C=${C} ${scale}`);
      entry.logistic = await cnnfeatFit(root, trainDir, testDir, path.join(tmp, 'lr.json'), ['--classifier', 'logistic', ...one]);
      log(`train-scale ${n}: scikit-learn LogisticRegression(lbfgs)`);
      entry.logisticRegression = sklearnFit('LogisticRegression', files, C, scale);
      log(`train-scale ${n}: cnnfeat train with defaults`);
      entry.defaults = await cnnfeatFit(root, trainDir, testDir, path.join(tmp, 'auto.json'), []);
      await fsp.rm(files.xtr, { force: true });
      await fsp.rm(trainDir, { recursive: true, force: true });
      const ratio = (a, b) => (a.seconds && b.seconds ? `${(a.seconds / b.seconds).toFixed(2)}×` : 'n/a');
      const budget = `${Math.round(2.5 * matrixMB + 300)} MB`;
      rows.push(
        [`${n} rows (${Math.round(matrixMB)} MB matrix, load ${load})`, ''],
        [`  cnnfeat linear-svm (C=${C}, ${scale})`, fmt(entry.linearSvm)],
        ['  scikit-learn LinearSVC', fmt(entry.linearSvc)],
        ['  linear-svm / LinearSVC time (target ≤ 1×)', ratio(entry.linearSvm, entry.linearSvc)],
        [`  cnnfeat logistic (C=${C}, ${scale})`, fmt(entry.logistic)],
        ['  scikit-learn LogisticRegression(lbfgs)', fmt(entry.logisticRegression)],
        ['  logistic / LogisticRegression time (target ≤ 1×)', ratio(entry.logistic, entry.logisticRegression)],
        ['  cnnfeat train, defaults (selection + refit)', `${fmt(entry.defaults)} (target ≤ 300 s; RSS budget ${budget})`],
      );
      json.sizes.push(entry);
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  return { title: 'train-scale: linear classifiers at size vs scikit-learn (same matrices, same run)', rows, json: { trainScale: json } };
}
