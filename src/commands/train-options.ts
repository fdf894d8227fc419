import { Option, type Command } from 'commander';
import { CLASSIFIERS, DEFAULT_FOLDS, KFOLD_MAX_ROWS, type ClassifierChoice, type TrainOptions } from '../classifiers/classifier.js';
import { CLASS_WEIGHTS, type ClassWeight } from '../classifiers/common/class-weights.js';
import { CV_SCORINGS, type CvScoring } from '../classifiers/common/cv-scoring.js';
import { SCALINGS } from '../classifiers/linalg/scaling.js';
import { LINEAR_DEFAULTS } from '../classifiers/linear/linear-model.js';
import { SVM_LOSSES, type SvmLoss } from '../classifiers/linear/linear-svm.js';
import { DEFAULT_GRID, formatGrid } from '../classifiers/selection/grid.js';
import { describeValidation, pointColumns, rankedResults } from '../classifiers/selection/table.js';
import type { ModelSelection } from '../classifiers/selection/types.js';
import { KERNELS } from '../classifiers/svc/kernel-matrix.js';
import type { SvmOptions } from '../classifiers/svc/svm.js';
import { finiteNumber, positiveInt, positiveNumber, seedOption } from '../util/validate.js';

/** Raw training flags as commander parses them (undefined = not given). */
export interface SvmFlags {
  classifier?: string;
  kernel?: SvmOptions['kernel'];
  C?: string;
  gamma?: string;
  scale?: SvmOptions['scale'];
  loss?: SvmLoss;
  probability?: boolean;
  classWeight?: ClassWeight;
  cv?: string;
  valSize?: string;
  grid?: string;
  scoring?: CvScoring;
  seed?: string;
  tol?: string;
  maxIter?: string;
}

/** Adds the classifier and model-selection options shared by `train` and `run` (`run` has its own --seed). */
export function addSvmOptions(cmd: Command, { seed = true } = {}): Command {
  cmd
    .option('--classifier <name>', `${CLASSIFIERS.join('|')}: auto chooses among svc (≤ 5000 training rows), linear-svm and logistic by cross-validation (default auto)`)
    .option('--cv <k>', `choose the settings by stratified k-fold cross-validation on the training features, then refit (default: ${DEFAULT_FOLDS} folds up to ${KFOLD_MAX_ROWS} rows, else successive halving on stratified 20 % holdouts)`)
    .option('--val-size <fraction>', 'choose the settings on one stratified held-out share of the training rows instead of k folds, then refit')
    .option('--grid <spec>', `svc grid searched, ";"-separated key=values (default "${formatGrid(DEFAULT_GRID)}"); its C and scale also replace the linear classifiers' C and scale grids`)
    .addOption(new Option('--scoring <metric>', 'what model selection maximises (default balanced_accuracy)').choices(CV_SCORINGS))
    .addOption(new Option('--kernel <kernel>', 'svc kernel; alone (without --cv/--val-size/--grid) a single svc fit (default linear)').choices(KERNELS))
    .option('-C, --C <value>', 'regularisation: cost of a margin violation (svc, linear-svm) or inverse L2 strength (logistic); alone, a single fit (default 1)')
    .option('--gamma <value>', "svc RBF width: a number, 'scale' (1/(D·var X)) or 'auto' (1/D) (default scale)")
    .addOption(new Option('--scale <how>', 'feature scaling fitted on the training set (default: chosen by cross-validation; none for a single fit)').choices(SCALINGS))
    .addOption(new Option('--loss <loss>', 'linear-svm loss (default squared_hinge, liblinear -s 1; hinge = -s 3)').choices(SVM_LOSSES))
    .option('--tol <value>', `linear classifiers' stopping tolerance (default ${LINEAR_DEFAULTS['linear-svm'].tol} for linear-svm: max−min projected gradient; ${LINEAR_DEFAULTS.logistic.tol} for logistic: max |gradient|)`)
    .option('--max-iter <n>', `linear classifiers' iteration cap; a fit that hits it warns (default ${LINEAR_DEFAULTS['linear-svm'].maxIter} passes for linear-svm, ${LINEAR_DEFAULTS.logistic.maxIter} L-BFGS iterations for logistic)`)
    .addOption(new Option('--class-weight <how>', "'balanced' weights each class by n/(classes·n_class), for skewed classes (default none)").choices(CLASS_WEIGHTS))
    .option('--probability', "svc: fit libsvm's Platt scaling so that predictions carry calibrated probabilities (logistic always has probabilities)");
  if (seed) cmd.option('--seed <n>', 'seed of the cross-validation folds and of the solvers (default: 0)');
  return cmd;
}

/** `--gamma`: a positive number, scale or auto. */
function gammaFrom(value: string): SvmOptions['gamma'] {
  return value === 'scale' || value === 'auto' ? value : positiveNumber('--gamma (or scale, auto)', value);
}

/** Maps the flags onto library training options (the library holds every default and policy). */
export function trainOptionsFrom(flags: SvmFlags): TrainOptions {
  const number = <T>(value: string | undefined, parse: (v: string) => T): T | undefined => (value === undefined ? undefined : parse(value));
  return {
    classifier: flags.classifier as ClassifierChoice | undefined,
    C: number(flags.C, (v) => positiveNumber('--C', v)),
    kernel: flags.kernel,
    gamma: number(flags.gamma, gammaFrom),
    scale: flags.scale,
    loss: flags.loss,
    folds: number(flags.cv, (v) => positiveInt('--cv', v)),
    valSize: number(flags.valSize, (v) => finiteNumber('--val-size', v)),
    grid: flags.grid,
    seed: number(flags.seed, (v) => seedOption('--seed', v)),
    scoring: flags.scoring,
    classWeight: flags.classWeight,
    probability: flags.probability,
    tol: number(flags.tol, (v) => finiteNumber('--tol', v)),
    maxIter: number(flags.maxIter, (v) => positiveInt('--max-iter', v)),
  };
}

/** Text table of a model selection, best first marked with `*`. */
export function formatSelection(selection: ModelSelection, limit = 10): string {
  const sorted = rankedResults(selection).map(({ result, index }) => ({ r: result, i: index }));
  const lines = [`${describeValidation(selection)} (${selection.scoring}, seed ${selection.seed}), ${selection.results.length} settings in ${selection.seconds.toFixed(1)} s:`];
  lines.push('  rank  classifier  kernel  C          gamma     scale     score            fit ms');
  for (const { r, i } of sorted.slice(0, limit)) {
    const p = pointColumns(r.params);
    const notes = [...(r.round ? [`round ${r.round}, ${r.trainRows} training rows`] : []), ...(r.converged === false ? ['hit the iteration cap'] : [])];
    const warn = notes.length ? `  (${notes.join('; ')})` : '';
    lines.push(
      `${i === selection.best ? '*' : ' '} ${String(r.rank).padStart(4)}  ${p.classifier.padEnd(10)}  ${p.kernel.padEnd(6)}  ${p.C.padEnd(9)}  ${p.gamma.padEnd(8)}  ${p.scale.padEnd(8)}  ${r.mean.toFixed(4)} ± ${r.std.toFixed(4)}  ${(r.fitSeconds * 1000).toFixed(1)}${warn}`,
    );
  }
  if (sorted.length > limit) lines.push(`  … ${sorted.length - limit} more in the classifier file's "selection"`);
  return lines.join('\n');
}
