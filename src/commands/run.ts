import type { Command } from 'commander';
import { formatMetrics } from '../metrics/format.js';
import { RUN_DEFAULTS } from '../pipeline/setup/defaults.js';
import { colorEnabled } from '../util/log.js';
import { finiteNumber } from '../util/validate.js';
import { addGateOptions, checkGates, parseGates, type GateFlags } from './gates.js';
import { addExtractOptions, addOutputOptions, exitOnSignal, extractOptionsFrom, handleInterrupts, loggerFor, printResult, type ExtractFlags, type SignalExit } from './options.js';
import { formatSelection } from '../classifiers/selection/table.js';
import { addSvmOptions, trainOptionsFrom, type SvmFlags } from './train-options.js';

interface Flags extends ExtractFlags, SvmFlags, GateFlags {
  output: string;
  testSize?: string;
  seed?: string;
  json?: boolean;
  quiet?: boolean;
  report: boolean;
}

/** The flags of `run`'s own options, for messages (see TRAIN_FLAGS). */
export const RUN_FLAGS = { testSize: '--test-size', seed: '--seed' } as const;

/** `cnnfeat run <dataset-dir> -o <out>` */
export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('extract, train and evaluate in one go (train/ + test|val/ split if present, else stratified)')
    .argument('<dataset-dir>', 'folder with train/ and test/ (or val/) class folders, or just class folders')
    .requiredOption('-o, --output <dir>', 'output folder: train/, test/, model.json, metrics.json, report.html')
    .option('--test-size <fraction>', `held-out fraction when there is no given split (default: ${RUN_DEFAULTS.testSize})`)
    .option('--no-report', 'do not write report.html')
    .option('--seed <n>', `seed of the stratified split and of the cross-validation folds (default: ${RUN_DEFAULTS.seed})`);
  addGateOptions(addOutputOptions(addSvmOptions(addExtractOptions(cmd), { seed: false }))).action(async (datasetDir: string, flags: Flags) => {
    const logger = loggerFor(flags);
    const gates = parseGates(flags);
    const options = {
      train: trainOptionsFrom(flags),
      testSize: flags.testSize === undefined ? undefined : finiteNumber('--test-size', flags.testSize),
      seed: flags.seed === undefined ? undefined : finiteNumber('--seed', flags.seed),
      report: flags.report,
    };
    const [{ runPipeline }, { describeFitting }] = await Promise.all([import('../pipeline/run.js'), import('../pipeline/setup/feature-model.js')]);
    const interrupts = handleInterrupts(logger);
    let signals: SignalExit | undefined;
    const result = await runPipeline(datasetDir, flags.output, {
      ...extractOptionsFrom(flags, logger, interrupts.signal),
      ...options,
      onExtracted: () => {
        interrupts.release();
        signals = exitOnSignal(logger, 'the features are kept (train on them with `cnnfeat train`); no classifier file was written');
      },
      saving: (write) => signals!.finishing(write, `${flags.output}/model.json is written; the metrics and the report were not`),
    }).finally(() => {
      interrupts.release();
      signals?.release();
    });
    printResult(flags, result.metrics, () =>
      [
        `${result.split} split: ${result.train.rows} train / ${result.test.rows} test rows, ${result.train.dim}-d features; ${describeFitting(result.train.manifest.settings)}`,
        ...(result.selection ? [formatSelection(result.selection)] : []),
        formatMetrics(result.metrics, { color: colorEnabled(process.stdout) }),
        `wrote ${[result.modelFile, result.metricsFile, result.reportFile].filter(Boolean).join(', ')}`,
      ].join('\n'),
    );
    checkGates(result.metrics, gates);
  });
}
