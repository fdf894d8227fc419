import type { Command } from 'commander';
import { formatMetrics } from '../metrics/format.js';
import { colorEnabled } from '../util/log.js';
import { addGateOptions, checkGates, parseGates, type GateFlags } from './gates.js';
import { assertWritableFile } from '../util/fs.js';
import { addOutputOptions, loggerFor, printResult } from './options.js';

interface Flags extends GateFlags {
  json?: boolean;
  quiet?: boolean;
  normalize?: boolean;
  report?: string;
}

/** `cnnfeat eval <model.json> <features-dir>` */
export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description('score a trained classifier on a feature directory')
    .argument('<model.json>', 'classifier written by `cnnfeat train`')
    .argument('<features-dir>', 'feature directory made with the same model, layer and preprocessing')
    .option('--normalize', 'show the confusion matrix as row percentages')
    .option('--report <file.html>', 'also write a self-contained HTML report (heatmap, per-class table, CV table, misclassified images)');
  addGateOptions(addOutputOptions(cmd)).action(async (modelFile: string, featuresDir: string, flags: Flags) => {
    const gates = parseGates(flags);
    const logger = loggerFor(flags);
    const [{ loadClassifier }, { readFeatureSet }, { evaluateClassifier }] = await Promise.all([
      import('../classifiers/model-file.js'),
      import('../features/reader.js'),
      import('../pipeline/evaluate.js'),
    ]);
    if (flags.report) await assertWritableFile(flags.report, 'the report (--report)', 'report.html');
    const classifier = await loadClassifier(modelFile);
    const set = await readFeatureSet(featuresDir);
    const evaluation = await evaluateClassifier(classifier, set);
    const { metrics } = evaluation;
    if (flags.report) {
      const { writeReport } = await import('../report/report.js');
      await writeReport(flags.report, classifier, set, evaluation);
      logger.info(`wrote ${flags.report}`);
    }
    printResult(flags, metrics, () => formatMetrics(metrics, { normalize: flags.normalize, color: colorEnabled(process.stdout) }));
    checkGates(metrics, gates);
  });
}
