import { CnnfeatError } from '../errors.js';

/** One part of a dataset split across machines: part `index` (0-based) of `count`. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** Environment variables that carry a worker's 0-based index, in the order they are read. */
export const SHARD_INDEX_VARIABLES = ['JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID'] as const;

/**
 * Reads the shard from `--shard i/n` or from `--shards n` plus the index a scheduler sets
 * (Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX; SLURM job arrays: SLURM_ARRAY_TASK_ID).
 * Indices are 0-based. Returns undefined when neither option is given.
 */
export function parseShard(shard: string | undefined, shards: string | undefined, env: NodeJS.ProcessEnv = process.env): ShardSpec | undefined {
  if (shard !== undefined && shards !== undefined) throw new CnnfeatError('--shard and --shards: give one of them, not both');
  if (shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(shard.trim());
    if (!m) throw new CnnfeatError(`--shard must be <index>/<count> with a 0-based index, e.g. 0/4, got "${shard}"`);
    return checked({ index: Number(m[1]), count: Number(m[2]) }, '--shard');
  }
  if (shards === undefined) return undefined;
  const count = Number(shards);
  if (!Number.isInteger(count) || count <= 0) throw new CnnfeatError(`--shards must be a positive integer, got "${shards}"`);
  const variable = SHARD_INDEX_VARIABLES.find((v) => (env[v] ?? '') !== '');
  if (!variable) {
    throw new CnnfeatError(`--shards ${count}: no worker index in ${SHARD_INDEX_VARIABLES.join(' or ')}; set one, or use --shard <index>/${count}`);
  }
  const value = env[variable]!;
  const index = /^\d+$/.test(value) ? Number(value) : NaN;
  return checked({ index, count }, `${variable}=${value} with --shards ${count}`);
}

function checked(spec: ShardSpec, what: string): ShardSpec {
  if (!Number.isInteger(spec.index) || spec.count <= 0 || spec.index >= spec.count) {
    throw new CnnfeatError(`${what}: the index must be a whole number from 0 to count−1 (0-based; for SLURM use --array=0-${Math.max(spec.count - 1, 0)})`);
  }
  return spec;
}

/**
 * The items of shard `index` of `count`: every count-th item starting at `index` (round robin
 * over the sorted list, so shard sizes differ by at most one and every class is spread over the
 * shards). Item `g` of the whole list is item `floor(g / count)` of shard `g mod count`.
 */
export function selectShard<T>(items: readonly T[], spec: ShardSpec): T[] {
  return items.filter((_, i) => i % spec.count === spec.index);
}
