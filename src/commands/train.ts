import type { Command } from 'commander';
import type { ClassifierFile } from '../classifiers/model-file.js';
import { classifierOf, describeModel } from '../classifiers/classifier.js';
import { assertWritableFile } from '../util/fs.js';
import { addOutputOptions, exitOnSignal, loggerFor, printResult } from './options.js';
import { formatSelection } from '../classifiers/selection/table.js';
import { addSvmOptions, trainOptionsFrom, type SvmFlags } from './train-options.js';

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
    classifier: classifierOf(classifier.model),
    options: classifier.model.options,
    ...(classifier.model.type === 'linear' ? { solver: classifier.model.solver } : {}),
    seconds: classifier.trainedOn.seconds,
    fitSeconds: classifier.trainedOn.fitSeconds,
    ...(classifier.selection ? { selection: classifier.selection } : {}),
  };
}

/** `cnnfeat train <features-dir> -o <model.json>` */
export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a classifier on a feature directory (classifier and settings chosen by cross-validation unless --C/--kernel is given)')
    .argument('<features-dir>', 'feature directory written by `cnnfeat extract`')
    .requiredOption('-o, --output <model.json>', 'classifier file to write');
  addOutputOptions(addSvmOptions(cmd)).action(async (featuresDir: string, flags: Flags) => {
    const logger = loggerFor(flags);
    const options = trainOptionsFrom(flags);
    const [{ saveClassifier }, { readFeatureSet }, { trainWithLogger }] = await Promise.all([
      import('../classifiers/model-file.js'),
      import('../features/reader.js'),
      import('../pipeline/train.js'),
    ]);
    await assertWritableFile(flags.output, 'the classifier file (-o)', 'model.json');
    const set = await readFeatureSet(featuresDir, { shared: true });
    const signals = exitOnSignal(logger);
    const classifier = await trainWithLogger(set, options, logger);
    await signals.finishing(() => saveClassifier(flags.output, classifier), `${flags.output} is written`).finally(() => signals.release());
    const summary = { output: flags.output, ...trainingSummary(classifier) };
    printResult(flags, summary, () => {
      return [
        ...(classifier.selection ? [formatSelection(classifier.selection)] : []),
        `trained ${describeModel(classifier.model)} on ${set.rows} rows, ${classifier.classes.length} classes in ${summary.seconds.toFixed(1)} s (final fit ${(summary.fitSeconds ?? 0).toFixed(1)} s) → ${flags.output}`,
      ].join('\n');
    });
  });
}
