import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { NPY_HEADER_BYTES, npyHeader, readNpy } from '../dist/features/npy.js';
import { FeatureWriter } from '../dist/features/writer.js';
import { featureDirState, manifestFor, type ExtractSettings, type FeatureManifest, type Plan } from '../dist/features/schema.js';
import { readFeatureSet } from '../dist/features/reader.js';
import { parseCsv, csvField } from '../dist/features/csv.js';
import { tempDir } from './helpers.js';

const settings: ExtractSettings = {
  model: 'tiny', weightsDigest: 'sha256:00', layer: 'features', pooled: true, pool: 'avg', preprocess: 'none', dim: 3,
  input: { height: 32, width: 32 }, resize: 'squash', cropFraction: 1, resizeKernel: 'linear', icc: 'ignore', precision: 'fp32', tta: 'none', augment: 'none',
};
const plan = (n: number): Plan => ({
  imageRoot: '/images',
  classes: ['a', 'b'],
  settings,
  files: Array.from({ length: n }, (_, i) => ({ relPath: `${i % 2 ? 'b' : 'a'}/img ${i},"q".jpg`, label: i % 2 ? 'b' : 'a' })),
  ignored: [],
});
const rowsFor = (from: number, count: number) => Float32Array.from({ length: count * 3 }, (_, k) => from * 3 + k + 0.5);

/** The manifest an extraction would write when `writer` is done. */
function manifestOfWriter(writer: FeatureWriter): FeatureManifest {
  const engine = { engine: 'tfjs-cpu', version: '4.22.0', threads: 1 } as const;
  return manifestFor(writer.plan, { rows: writer.rows, skipped: writer.skipped, engine, seconds: 1, imagesPerSecond: 1, resumed: writer.resumed });
}

test('npy: header is 128 bytes, 64-aligned, and round-trips', async (t) => {
  const dir = await tempDir(t);
  const header = npyHeader(5, 7);
  assert.equal(header.length, NPY_HEADER_BYTES);
  assert.equal(header.length % 64, 0);
  assert.equal(header[header.length - 1], 0x0a);
  const data = Float32Array.from({ length: 35 }, (_, i) => i - 17.25);
  const file = path.join(dir, 'm.npy');
  await fsp.writeFile(file, Buffer.concat([header, Buffer.from(data.buffer)]));
  const m = await readNpy(file);
  assert.deepEqual([m.rows, m.cols], [5, 7]);
  assert.deepEqual([...m.data], [...data]);
  await fsp.writeFile(file, Buffer.concat([header, Buffer.from(data.buffer).subarray(0, 50)]));
  await assert.rejects(readNpy(file), /truncated/);
  await fsp.writeFile(file, 'nope');
  await assert.rejects(readNpy(file), /not a \.npy file/);
});

test('npy: numpy.load reads the file, when python3 with numpy is installed', async (t) => {
  const python = ['/usr/bin/python3', 'python3'].find((p) => {
    try {
      execFileSync(p, ['-c', 'import numpy'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!python) return t.skip('numpy not installed');
  const dir = await tempDir(t);
  const file = path.join(dir, 'm.npy');
  await fsp.writeFile(file, Buffer.concat([npyHeader(2, 3), Buffer.from(Float32Array.from([1, 2, 3, 4, 5, 6.5]).buffer)]));
  const out = execFileSync(python, ['-c', `import numpy as np; x = np.load(${JSON.stringify(file)}); print(x.dtype, x.shape, x.flags['C_CONTIGUOUS'], x.sum())`]);
  assert.equal(out.toString().trim(), 'float32 (2, 3) True 21.5');
});

test('csv: quoting round-trips commas, quotes and non-ASCII', () => {
  const fields = ['plain', 'a,b', 'say "hi"', 'ünïcødé', 'line\nbreak'];
  const text = fields.map(csvField).join(',') + '\n';
  assert.deepEqual(parseCsv(text), [fields]);
});

test('store: a crash after unflushed writes resumes from the checkpoint with no duplicate or missing row', async (t) => {
  const dir = await tempDir(t);
  const p = plan(6);
  const w = await FeatureWriter.create(dir, p);
  await w.commit(rowsFor(0, 2), p.files.slice(0, 2), [], 2, 1);
  await w.commit(rowsFor(2, 1), p.files.slice(2, 3), [{ path: p.files[3].relPath, reason: 'broken' }], 4, 2);
  await w.close();
  // Simulate a kill in the middle of the next batch: rows and sample lines written, checkpoint not.
  await fsp.appendFile(path.join(dir, 'features.npy'), Buffer.from(rowsFor(99, 2).buffer));
  await fsp.appendFile(path.join(dir, 'samples.csv'), '3,half-written');
  assert.equal(await featureDirState(dir), 'partial');
  await assert.rejects(readFeatureSet(dir), /--resume/);

  await assert.rejects(FeatureWriter.resume(dir, { ...p, settings: { ...settings, layer: 'other' } }), /started with layer features \(now other\); add --layer features to continue it/);
  await assert.rejects(FeatureWriter.resume(dir, { ...p, imageRoot: '/elsewhere' }), /started on \/images/);
  await assert.rejects(FeatureWriter.resume(dir, plan(7)), /image list changed/);
  const r = await FeatureWriter.resume(dir, p);
  assert.equal(r.next, 4);
  assert.equal(r.rows, 3);
  await r.commit(rowsFor(3, 2), p.files.slice(4, 6), [], 6, 3);
  await r.finish(manifestOfWriter(r));
  assert.equal(await featureDirState(dir), 'complete');

  const set = await readFeatureSet(dir);
  assert.equal(set.rows, 5);
  assert.deepEqual([...set.X], [...rowsFor(0, 5)]);
  assert.deepEqual(set.paths, [0, 1, 2, 4, 5].map((i) => p.files[i].relPath));
  assert.deepEqual(set.labels, ['a', 'b', 'a', 'a', 'b']);
  assert.deepEqual(set.manifest.skipped, [{ path: p.files[3].relPath, reason: 'broken' }]);
  const names = (await fsp.readdir(dir)).sort();
  assert.deepEqual(names, ['features.npy', 'manifest.json', 'samples.csv'], 'checkpoint files are removed when done');
});

/** Starts an extraction of `p` in `dir`, checkpoints its first two rows, and closes it (as if killed). */
async function interruptedAfterTwoRows(dir: string, p: Plan): Promise<void> {
  const w = await FeatureWriter.create(dir, p);
  await w.commit(rowsFor(0, 2), p.files.slice(0, 2), [], 2, 1);
  await w.close();
}

test('store: a checkpoint longer than the data files is refused, not padded with zeros', async (t) => {
  const dir = await tempDir(t);
  const p = plan(4);
  await interruptedAfterTwoRows(dir, p);
  await fsp.truncate(path.join(dir, 'features.npy'), 128 + 4);
  await assert.rejects(FeatureWriter.resume(dir, p), /shorter than its last checkpoint/);
});

test('store: killed right after the plan was written, the directory is unfinished and resumes from zero', async (t) => {
  const dir = await tempDir(t);
  const p = plan(2);
  await fsp.writeFile(path.join(dir, '.cnnfeat-plan.json'), JSON.stringify(p));
  assert.equal(await featureDirState(dir), 'partial');
  const r = await FeatureWriter.resume(dir, p);
  assert.equal(r.next, 0);
  await r.commit(rowsFor(0, 2), p.files, [], 2, 1);
  await r.finish(manifestOfWriter(r));
  assert.equal((await readFeatureSet(dir)).rows, 2);
});

test('store: starting over never leaves the previous checkpoint beside the new plan', async (t) => {
  const dir = await tempDir(t);
  await interruptedAfterTwoRows(dir, plan(4));
  const fresh = { ...plan(3), imageRoot: '/other' };
  const again = await FeatureWriter.create(dir, fresh);
  await again.close();
  const resumed = await FeatureWriter.resume(dir, fresh);
  assert.equal(resumed.rows, 0);
  assert.equal(resumed.next, 0);
  await resumed.close();
});

test('store: inconsistent files are reported, not silently read', async (t) => {
  const dir = await tempDir(t);
  const p = plan(2);
  const w = await FeatureWriter.create(dir, p);
  await w.commit(rowsFor(0, 2), p.files, [], 2, 1);
  await w.finish(manifestOfWriter(w));
  const csv = path.join(dir, 'samples.csv');
  const text = await fsp.readFile(csv, 'utf8');
  await fsp.writeFile(csv, text.split('\n').slice(0, 2).join('\n') + '\n');
  await assert.rejects(readFeatureSet(dir), /samples\.csv 1 rows/);
  assert.equal(await featureDirState(path.join(dir, 'none')), 'empty');
});
