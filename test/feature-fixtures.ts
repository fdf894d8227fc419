// Shared fixtures of the classifier tests: seeded synthetic feature matrices (blobs), and feature
// directories made of them through the real writer, as `cnnfeat extract` leaves them.
import { manifestFor, type Plan } from '../dist/features/schema.js';
import { FeatureWriter } from '../dist/features/writer.js';
import { rng } from './helpers.js';

/** Rows of labelled features. */
export interface Blobs {
  /** Row-major `n` × `d`. */
  X: Float32Array;
  /** Class index of each row. */
  y: number[];
  n: number;
  d: number;
  /** `c0`, `c1`, … */
  classes: string[];
}

export interface BlobOptions {
  /** Rows, classes round-robin from `firstClass` (default 90). */
  n?: number;
  /** Rows of each class instead, class by class. */
  counts?: number[];
  firstClass?: number;
  d?: number;
  k?: number;
  /** Spread of the class centres relative to the noise: small values overlap. */
  sep?: number;
  seed?: number;
  /** Each value is `offset + gain · (centre + noise)`, times (1 + j) in column j with `widen` (so that scalings matter). */
  offset?: number;
  gain?: number;
  widen?: boolean;
}

/** A seeded source of blobs: `k` class centres, then as many sets of rows around them as asked for. */
function blobSource({ d = 6, k = 3, sep = 2, seed = 1, offset = 0, gain = 1, widen = false }: BlobOptions) {
  const rand = rng(seed);
  // A sum of three uniforms: bell-shaped, standard deviation 0.5.
  const g = () => rand() + rand() + rand() - 1.5;
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => g() * sep));
  const classes = Array.from({ length: k }, (_, c) => `c${c}`);
  return ({ n = 90, counts, firstClass = 0 }: BlobOptions): Blobs => {
    const y = counts ? counts.flatMap((count, c) => Array<number>(count).fill(c)) : Array.from({ length: n }, (_, i) => (i + firstClass) % k);
    const X = new Float32Array(y.length * d);
    y.forEach((c, i) => {
      for (let j = 0; j < d; j++) X[i * d + j] = offset + gain * (centres[c]![j]! + g()) * (widen ? 1 + j : 1);
    });
    return { X, y, n: y.length, d, classes };
  };
}

/** Seeded blobs: `k` overlapping classes in `d` dimensions (see {@link BlobOptions}). */
export function blobs(options: BlobOptions = {}): Blobs {
  return blobSource(options)(options);
}

/** A training and a held-out set of the same classes: the held-out rows drawn after the training rows. */
export function blobSets(options: BlobOptions & { heldOut: number }): { train: Blobs; test: Blobs } {
  const draw = blobSource(options);
  return { train: draw(options), test: draw({ ...options, n: options.heldOut, counts: undefined }) };
}

/**
 * Writes a finished feature directory of the rows through the real writer (plan, checkpointed
 * rows, manifest), as `cnnfeat extract` would have written it from images `<class>/<row>.jpg`.
 */
export async function writeFeatureDir(dir: string, data: Blobs): Promise<void> {
  const files = data.y.map((c, i) => ({ relPath: `${data.classes[c]}/${i}.jpg`, label: data.classes[c]! }));
  const plan: Plan = {
    imageRoot: dir,
    classes: data.classes,
    settings: { model: 'generated', weightsDigest: 'sha256:generated', layer: 'features', pooled: false, pool: 'avg', preprocess: 'none', dim: data.d, input: { height: 8, width: 8 }, resize: 'squash', cropFraction: 1, resizeKernel: 'linear', icc: 'ignore', precision: 'fp32', tta: 'none', augment: 'none' },
    files,
    ignored: [],
  };
  const writer = await FeatureWriter.create(dir, plan);
  await writer.commit(data.X, files, [], files.length, 0);
  await writer.finish(manifestFor(plan, { rows: data.n, skipped: [], engine: { engine: 'onnx', version: 'test', threads: 1 }, seconds: 0, imagesPerSecond: 0, resumed: false }));
}
