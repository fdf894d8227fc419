import type { Command } from 'commander';
import { addOutputOptions, loggerFor, printResult } from './options.js';

interface Flags {
  output: string;
  overwrite?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** `cnnfeat merge <shard-dirs...> -o <features-dir>` */
export function register(program: Command): void {
  const cmd = program
    .command('merge')
    .description('join the shard directories of `extract --shard i/n` into one feature directory, as a single run writes it')
    .argument('<shard-dirs...>', 'every shard directory of one sharded extraction, in any order')
    .requiredOption('-o, --output <dir>', 'feature directory to write')
    .option('--overwrite', 'replace features already in the output directory');
  addOutputOptions(cmd).action(async (dirs: string[], flags: Flags) => {
    const logger = loggerFor(flags);
    const { mergeFeatureDirs } = await import('../features/merge.js');
    const manifest = await mergeFeatureDirs(dirs, flags.output, { overwrite: flags.overwrite, logger });
    const { rows, skipped } = manifest.counts;
    const shards = manifest.mergedFrom?.length ?? dirs.length;
    printResult(flags, { rows, dim: manifest.settings.dim, skipped: manifest.skipped, shards, outDir: flags.output }, () =>
      `${rows} rows × ${manifest.settings.dim} features from ${shards} shards → ${flags.output} (${skipped} skipped)`,
    );
  });
}
