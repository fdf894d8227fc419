// Section "train" (issue 4): our SVM fit (linear, C=1) and the default cross-validation grid
// against scikit-learn's SVC(kernel='linear', C=1).fit on the same features, in the same run.
//
// Features: `--train-features <dir>` (a feature directory from `cnnfeat extract`, e.g. the
// CIFAR-10 5% train split); otherwise synthetic, seeded 2,500 × 2,048 ReLU-like features of
// 10 classes, so the section always runs. scikit-learn is skipped (reported) when
// /usr/bin/python3 or sklearn is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rng } from './random.mjs';

const PYTHON = '/usr/bin/python3';
const SYNTHETIC = { rows: 2500, dim: 2048, classes: 10 };

/** Synthetic CNN-like features: a sparse non-negative class prototype plus noise, clipped at 0. */
function syntheticFeatures({ rows, dim, classes }, seed = 42) {
  const rand = rng(seed);
  const prototypes = Array.from({ length: classes }, () => Float32Array.from({ length: dim }, () => (rand() < 0.3 ? 2 * rand() : 0)));
  const labels = Array.from({ length: rows }, (_, i) => i % classes);
  const X = new Float32Array(rows * dim);
  labels.forEach((c, i) => {
    const p = prototypes[c];
    for (let j = 0; j < dim; j++) X[i * dim + j] = Math.max(0, p[j] + 1.2 * (rand() + rand() - 1));
  });
  return { X, rows, dim, labels, classes: Array.from({ length: classes }, (_, c) => `class${c}`) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Times scikit-learn's SVC(kernel='linear', C=1).fit on the raw float32 matrix (median of `repeat`). */
function sklearnFit(binFile, rows, dim, labelsFile, repeat) {
  if (!existsSync(PYTHON)) return { skipped: `${PYTHON} not found` };
  const script = `
import json, sys, time
import numpy as np
try:
    from sklearn.svm import SVC
    import sklearn
except ImportError as e:
    print(json.dumps({"skipped": "scikit-learn not installed: %s" % e})); sys.exit(0)
X = np.fromfile(sys.argv[1], dtype=np.float32).reshape(int(sys.argv[2]), int(sys.argv[3]))
y = np.array(json.load(open(sys.argv[4])))
times = []
for _ in range(int(sys.argv[5])):
    clf = SVC(kernel="linear", C=1)
    t = time.perf_counter(); clf.fit(X, y); times.append(time.perf_counter() - t)
print(json.dumps({"seconds": sorted(times)[len(times)//2], "runs": times, "nSV": int(clf.n_support_.sum()),
                  "trainAccuracy": float((clf.predict(X) == y).mean()), "version": sklearn.__version__}))
`;
  const r = spawnSync(PYTHON, ['-c', script, binFile, String(rows), String(dim), labelsFile, String(repeat)], { encoding: 'utf8' });
  if (r.status !== 0) return { skipped: `python failed: ${(r.stderr || '').trim().split('\n').pop()}` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** @param {{ root: string, args: Record<string, any>, log: (m: string) => void }} ctx */
export async function bench({ root, args, log }) {
  const repeat = Math.max(1, Number(args.repeat ?? 3));
  const { trainSvm, predictSvm } = await import(path.join(root, 'dist', 'classifiers', 'svc', 'svm.js'));
  const { selectModel } = await import(path.join(root, 'dist', 'classifiers', 'selection', 'svc-search.js'));
  const { DEFAULT_GRID } = await import(path.join(root, 'dist', 'classifiers', 'selection', 'grid.js'));
  const featuresDir = typeof args['train-features'] === 'string' ? args['train-features'] : undefined;
  let data;
  let source;
  if (featuresDir) {
    const { readFeatureSet } = await import(path.join(root, 'dist', 'features', 'reader.js'));
    const set = await readFeatureSet(featuresDir);
    const classes = [...new Set(set.labels)].sort();
    data = { X: set.X, rows: set.rows, dim: set.dim, classes, labels: set.labels.map((l) => classes.indexOf(l)) };
    source = `${featuresDir} (${set.rows} × ${set.dim}, ${classes.length} classes)`;
  } else {
    data = syntheticFeatures(SYNTHETIC);
    source = `synthetic ${SYNTHETIC.rows} × ${SYNTHETIC.dim}, ${SYNTHETIC.classes} classes (seeded)`;
  }
  log(`train: features ${source}`);

  const linear = { kernel: 'linear', C: 1, gamma: 'scale', scale: 'none' };
  const fits = [];
  let model;
  for (let i = 0; i < repeat; i++) {
    const t = performance.now();
    model = await trainSvm(data.X, data.rows, data.dim, data.labels, data.classes, linear);
    fits.push((performance.now() - t) / 1000);
    log(`train: linear fit ${i + 1}/${repeat}: ${fits.at(-1).toFixed(2)} s`);
  }
  const ourFit = median(fits);
  const ourSv = Number(/total_sv (\d+)/.exec(model.libsvm)[1]);
  const { labels: predicted } = await predictSvm(model, data.X, data.rows, data.dim);
  const ourTrainAccuracy = predicted.filter((p, i) => p === data.labels[i]).length / data.rows;

  log('train: default CV grid (30 settings × 5 folds)');
  const t = performance.now();
  const selection = await selectModel(data.X, data.rows, data.dim, data.labels, data.classes.length, { grid: DEFAULT_GRID, folds: 5, seed: 0 });
  const cvSeconds = (performance.now() - t) / 1000;
  const best = selection.results[selection.best];

  log('train: scikit-learn SVC(kernel="linear", C=1).fit');
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'cnnfeat-bench-train-'));
  let sk;
  try {
    const bin = path.join(tmp, 'X.f32');
    const labelsFile = path.join(tmp, 'y.json');
    await fsp.writeFile(bin, Buffer.from(data.X.buffer, data.X.byteOffset, data.X.byteLength));
    await fsp.writeFile(labelsFile, JSON.stringify(data.labels));
    sk = sklearnFit(bin, data.rows, data.dim, labelsFile, repeat);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }

  const ratio = sk.seconds ? ourFit / sk.seconds : null;
  const rows = [
    ['features', source],
    ['cnnfeat linear fit (C=1, median)', `${ourFit.toFixed(2)} s  (${ourSv} SVs, train acc ${ourTrainAccuracy.toFixed(4)})`],
    [
      'scikit-learn SVC linear fit',
      sk.seconds ? `${sk.seconds.toFixed(2)} s  (${sk.nSV} SVs, train acc ${sk.trainAccuracy.toFixed(4)}, sklearn ${sk.version})` : `skipped: ${sk.skipped}`,
    ],
    ['fit time ratio (target ≤ 2×)', ratio ? `${ratio.toFixed(2)}×` : 'n/a'],
    [
      'default CV grid (30 × 5 folds)',
      `${cvSeconds.toFixed(1)} s (target < 60 s); best ${best.params.kernel} C=${best.params.C} ${best.params.scale}: ${best.mean.toFixed(4)} ± ${best.std.toFixed(4)}`,
    ],
  ];
  return {
    title: 'train: SVM fit and model selection vs scikit-learn',
    rows,
    json: {
      train: {
        features: source,
        cnnfeatLinearFitSeconds: ourFit,
        cnnfeatLinearFitRuns: fits,
        cnnfeatSupportVectors: ourSv,
        cnnfeatTrainAccuracy: ourTrainAccuracy,
        sklearn: sk,
        fitRatio: ratio,
        cvGridSeconds: cvSeconds,
        cvBest: { ...best.params, mean: best.mean, std: best.std },
      },
    },
  };
}
