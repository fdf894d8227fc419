import { CnnfeatError } from '../errors.js';
import type { Dataset } from '../dataset/scan.js';
import { fileKeys } from '../dataset/file-keys.js';
import { selectShard, type ShardSpec } from '../dataset/shard.js';
import type { PlannedFile, ShardInfo } from '../features/schema.js';
import { sha256OfText } from '../util/hash.js';

/**
 * The files an extraction of `dataset` visits, in order, each with its size and mtime (and
 * sha256 with `hash`), restricted to one shard when asked.
 */
export async function planFiles(dataset: Dataset, opts: { hash?: boolean; shard?: ShardSpec }): Promise<{ files: PlannedFile[]; shard?: ShardInfo }> {
  let samples = dataset.samples;
  let shard: ShardInfo | undefined;
  if (opts.shard) {
    const { index, count } = opts.shard;
    if (count > samples.length) {
      throw new CnnfeatError(`--shard ${index}/${count}: ${dataset.root} has only ${samples.length} images; use at most ${samples.length} shards`);
    }
    shard = { index, count, total: samples.length, of: listDigest(dataset) };
    samples = selectShard(samples, opts.shard);
  }
  const keys = await fileKeys(dataset.root, samples.map((s) => s.relPath), { hash: opts.hash });
  return { files: samples.map((s, i) => ({ relPath: s.relPath, label: s.label, ...keys[i]! })), ...(shard ? { shard } : {}) };
}

/**
 * `sha256:` of a dataset's classes, paths and labels (not its location, which can differ
 * between the machines that run the shards of one job).
 */
export function listDigest(dataset: Pick<Dataset, 'classes' | 'samples'>): string {
  const covered = JSON.stringify({ classes: dataset.classes, files: dataset.samples.map((s) => [s.relPath, s.label]) });
  return `sha256:${sha256OfText(covered)}`;
}
