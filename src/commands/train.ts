import type { Command } from 'commander';
import { saveClassifier } from '../classifiers/model-file.js';
import { readFeatureSet } from '../features/store.js';
import { trainClassifier } from '../pipeline/train.js';
import { addOutputOptions, loggerFor, printResult } from './options.js';
import { addSvmOptions, svmOptionsFrom, type SvmFlags } from './train-options.js';

interface Flags extends SvmFlags {
  output: string;
  json?: boolean;
  quiet?: boolean;
}

/** `cnnfeat train <features-dir> -o <model.json>` */
export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train an SVM classifier on a feature directory')
    .argument('<features-dir>', 'feature directory written by `cnnfeat extract`')
    .requiredOption('-o, --output <model.json>', 'classifier file to write');
  addOutputOptions(addSvmOptions(cmd)).action(async (featuresDir: string, flags: Flags) => {
    const logger = loggerFor(flags);
    const options = svmOptionsFrom(flags);
    const set = await readFeatureSet(featuresDir);
    logger.info(`Training a ${options.kernel} SVM on ${set.rows} × ${set.dim} features…`);
    const classifier = await trainClassifier(set, options);
    await saveClassifier(flags.output, classifier);
    const summary = {
      output: flags.output,
      classes: classifier.classes,
      rows: set.rows,
      svm: classifier.svm.options,
      seconds: classifier.trainedOn.seconds,
    };
    printResult(flags, summary, () =>
      `trained on ${set.rows} rows, ${classifier.classes.length} classes in ${summary.seconds.toFixed(1)} s → ${flags.output}`,
    );
  });
}
