import type { Command } from 'commander';
import { loadClassifier } from '../classifiers/model-file.js';
import { readFeatureSet } from '../features/store.js';
import { formatMetrics } from '../metrics/format.js';
import { evaluateClassifier } from '../pipeline/evaluate.js';
import { colorEnabled } from '../util/log.js';
import { addGateOptions, checkGates, parseGates } from './gates.js';
import { addOutputOptions, printResult } from './options.js';

interface Flags {
  json?: boolean;
  quiet?: boolean;
  normalize?: boolean;
  minAccuracy?: string;
}

/** `cnnfeat eval <model.json> <features-dir>` */
export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description('score a trained classifier on a feature directory')
    .argument('<model.json>', 'classifier written by `cnnfeat train`')
    .argument('<features-dir>', 'feature directory made with the same model, layer and preprocessing')
    .option('--normalize', 'show the confusion matrix as row percentages');
  addGateOptions(addOutputOptions(cmd)).action(async (modelFile: string, featuresDir: string, flags: Flags) => {
    const gates = parseGates(flags);
    const classifier = await loadClassifier(modelFile);
    const { metrics } = await evaluateClassifier(classifier, await readFeatureSet(featuresDir));
    printResult(flags, metrics, () => formatMetrics(metrics, { normalize: flags.normalize, color: colorEnabled(process.stdout) }));
    checkGates(metrics, gates);
  });
}
