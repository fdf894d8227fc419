import type { Command } from 'commander';
import { saveClassifier, type ClassifierFile } from '../classifiers/model-file.js';
import { readFeatureSet } from '../features/reader.js';
import { describeSvm } from '../classifiers/svm.js';
import { trainWithLogger } from '../pipeline/train.js';
import { addOutputOptions, loggerFor, printResult } from './options.js';
import { addSvmOptions, formatSelection, trainOptionsFrom, type SvmFlags } from './train-options.js';

interface Flags extends SvmFlags {
  output: string;
  json?: boolean;
  quiet?: boolean;
}

/** The `--json` / text summary of a training. */
export function trainingSummary(classifier: ClassifierFile) {
  return {
    classes: classifier.classes,
    rows: classifier.trainedOn.rows,
    svm: classifier.svm.options,
    seconds: classifier.trainedOn.seconds,
    fitSeconds: classifier.trainedOn.fitSeconds,
    ...(classifier.selection ? { selection: classifier.selection } : {}),
  };
}

/** `cnnfeat train <features-dir> -o <model.json>` */
export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train an SVM classifier on a feature directory (settings chosen by cross-validation unless --kernel/--C are given)')
    .argument('<features-dir>', 'feature directory written by `cnnfeat extract`')
    .requiredOption('-o, --output <model.json>', 'classifier file to write');
  addOutputOptions(addSvmOptions(cmd)).action(async (featuresDir: string, flags: Flags) => {
    const logger = loggerFor(flags);
    const options = trainOptionsFrom(flags);
    const set = await readFeatureSet(featuresDir);
    const classifier = await trainWithLogger(set, options, logger);
    await saveClassifier(flags.output, classifier);
    const summary = { output: flags.output, ...trainingSummary(classifier) };
    printResult(flags, summary, () => {
      const chosen = `SVM (${describeSvm(classifier.svm.options)})`;
      return [
        ...(classifier.selection ? [formatSelection(classifier.selection)] : []),
        `trained an ${chosen} on ${set.rows} rows, ${classifier.classes.length} classes in ${summary.seconds.toFixed(1)} s (final fit ${(summary.fitSeconds ?? 0).toFixed(1)} s) → ${flags.output}`,
      ].join('\n');
    });
  });
}
