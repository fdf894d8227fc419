import type { Command } from 'commander';
import { parseShard } from '../dataset/shard.js';
import type { ExtractResult } from '../pipeline/extract.js';
import type { UpdateResult } from '../pipeline/update.js';
import { addExtractOptions, addOutputOptions, extractOptionsFrom, handleInterrupts, loggerFor, printResult, type ExtractFlags } from './options.js';

interface Flags extends ExtractFlags {
  output: string;
  update?: boolean;
  hash?: boolean;
  shard?: string;
  shards?: string;
  json?: boolean;
  quiet?: boolean;
  topFoldersAreClasses?: boolean;
}

/** The flags of `extract`'s own options, for messages (see EXTRACT_FLAGS). */
export const EXTRACT_COMMAND_FLAGS = { hash: '--hash', shard: '--shard', topFoldersAreClasses: '--top-folders-are-classes' } as const;

/** `cnnfeat extract <image-dir> -o <features-dir>` */
export function register(program: Command): void {
  const cmd = program
    .command('extract')
    .description('extract CNN features of every image under <image-dir>/<class>/ into a feature directory')
    .argument('<image-dir>', 'folder laid out as <class>/<image> (sub-folders allowed)')
    .requiredOption('-o, --output <dir>', 'feature directory to write (features.npy, samples.csv, manifest.json)');
  addOutputOptions(addExtractOptions(cmd))
    .option('--update', 'bring a finished feature directory up to date: only new or changed files are processed, rows of deleted files dropped')
    .option('--top-folders-are-classes', 'label rows by the top folders even when they look like a train/test split (train/, val/ with class folders)')
    .option('--hash', 'record (and with --update compare) a sha256 of each file instead of relying on size and modification time')
    .option('--shard <i/n>', 'extract only part i of n (0-based) of the sorted file list; join the parts with `cnnfeat merge`')
    .option('--shards <n>', 'like --shard, with the index from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID')
    .action(async (imageDir: string, flags: Flags) => {
      const logger = loggerFor(flags);
      const shard = parseShard(flags.shard, flags.shards);
      const interrupts = handleInterrupts(logger);
      const opts = { ...extractOptionsFrom(flags, logger, interrupts.signal), hash: flags.hash, shard, topFoldersAreClasses: flags.topFoldersAreClasses };
      const { describeFitting } = await import('../pipeline/setup/feature-model.js');
      const run: Promise<ExtractResult | UpdateResult> = flags.update
        ? import('../pipeline/update.js').then(({ updateFeatures }) => updateFeatures(imageDir, flags.output, opts))
        : import('../pipeline/extract.js').then(({ extractFeatures }) => extractFeatures(imageDir, flags.output, opts));
      const result = await run.finally(() => interrupts.release());
      const { rows, dim, skipped, imagesPerSecond, engine, manifest } = result;
      const update = 'update' in result ? result.update : undefined;
      const json = { rows, dim, skipped, imagesPerSecond, engine, outDir: flags.output, ...(update ? { update } : {}), ...(manifest.shard ? { shard: manifest.shard } : {}) };
      printResult(flags, json, () => {
        const changes = update ? `${update.added} added, ${update.changed} changed, ${update.removed} removed, ${update.kept} kept; ` : '';
        const part = manifest.shard ? `shard ${manifest.shard.index}/${manifest.shard.count}: ` : '';
        return `${part}${rows} rows × ${dim} features → ${flags.output} (${changes}${skipped.length} skipped, ${imagesPerSecond.toFixed(1)} img/s, ${engine}; ${describeFitting(manifest.settings)})`;
      });
    });
}
