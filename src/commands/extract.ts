import type { Command } from 'commander';
import { extractFeatures } from '../pipeline/extract.js';
import { addExtractOptions, addOutputOptions, extractOptionsFrom, handleInterrupts, loggerFor, printResult, type ExtractFlags } from './options.js';

interface Flags extends ExtractFlags {
  output: string;
  json?: boolean;
  quiet?: boolean;
}

/** `cnnfeat extract <image-dir> -o <features-dir>` */
export function register(program: Command): void {
  const cmd = program
    .command('extract')
    .description('extract CNN features of every image under <image-dir>/<class>/ into a feature directory')
    .argument('<image-dir>', 'folder laid out as <class>/<image> (sub-folders allowed)')
    .requiredOption('-o, --output <dir>', 'feature directory to write (features.npy, samples.csv, manifest.json)');
  addOutputOptions(addExtractOptions(cmd)).action(async (imageDir: string, flags: Flags) => {
    const logger = loggerFor(flags);
    const interrupts = handleInterrupts(logger);
    const result = await extractFeatures(imageDir, flags.output, extractOptionsFrom(flags, logger, interrupts.signal)).finally(() =>
      interrupts.release(),
    );
    const { rows, dim, skipped, imagesPerSecond, engine } = result;
    printResult(flags, { rows, dim, skipped, imagesPerSecond, engine, outDir: flags.output }, () =>
      `${rows} rows × ${dim} features → ${flags.output} (${skipped.length} skipped, ${imagesPerSecond.toFixed(1)} img/s, ${engine})`,
    );
  });
}
