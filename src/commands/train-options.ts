import { Option, type Command } from 'commander';
import { checkTrainOptions, CLASSIFIERS, TRAIN_DEFAULTS, type ClassifierChoice, type TrainOptions } from '../classifiers/classifier.js';
import { CLASS_WEIGHTS, type ClassWeight } from '../classifiers/common/class-weights.js';
import { CV_SCORINGS, type CvScoring } from '../classifiers/common/cv-scoring.js';
import { SCALINGS } from '../classifiers/linalg/scaling.js';
import { SVM_LOSSES, type SvmLoss } from '../classifiers/linear/linear-svm.js';
import { formatGrid } from '../classifiers/selection/grid.js';
import { parseGamma, type SvmOptions } from '../classifiers/svc/svm.js';
import { KERNELS } from '../classifiers/svc/kernel-matrix.js';
import { finiteNumber } from '../util/validate.js';

/**
 * The flag of each training option, for messages: the library names its options (`valSize`), the
 * CLI its flags (`--val-size`), see `nameOptionsByFlag`.
 */
export const TRAIN_FLAGS = {
  classifier: '--classifier',
  C: '--C',
  kernel: '--kernel',
  gamma: '--gamma',
  scale: '--scale',
  loss: '--loss',
  folds: '--cv',
  valSize: '--val-size',
  grid: '--grid',
  seed: '--seed',
  scoring: '--scoring',
  classWeight: '--class-weight',
  probability: '--probability',
  tol: '--tol',
  maxIter: '--max-iter',
} as const satisfies Partial<Record<keyof TrainOptions, string>>;

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

/** Adds the classifier and model-selection options shared by `train` and `run` (`run` has its own --seed); `--help` shows TRAIN_DEFAULTS. */
export function addSvmOptions(cmd: Command, { seed = true } = {}): Command {
  const D = TRAIN_DEFAULTS;
  const solver = D.solver;
  cmd
    .option('--classifier <name>', `${CLASSIFIERS.join('|')}: auto chooses among svc (≤ ${D.svcMaxRows} training rows), linear-svm and logistic by cross-validation (default: ${D.classifier})`)
    .option('--cv <k>', `choose the settings by stratified k-fold cross-validation on the training features, then refit (default: ${D.folds} folds up to ${D.kfoldMaxRows} rows, else successive halving on stratified ${Math.round(D.valSize * 100)} % holdouts)`)
    .option('--val-size <fraction>', 'choose the settings on one stratified held-out share of the training rows instead of k folds, then refit')
    .option('--grid <spec>', `svc grid searched, ";"-separated key=values (default: ${formatGrid(D.grid)}); its C and scale also replace the linear classifiers' C and scale grids`)
    .addOption(new Option('--scoring <metric>', `what model selection maximises (default: ${D.scoring})`).choices(CV_SCORINGS))
    .addOption(new Option('--kernel <kernel>', `svc kernel; alone (without --cv/--val-size/--grid) a single svc fit (default: ${D.kernel})`).choices(KERNELS))
    .option('-C, --C <value>', `regularisation: cost of a margin violation (svc, linear-svm) or inverse L2 strength (logistic); alone, a single fit (default: ${D.C})`)
    .option('--gamma <value>', `svc RBF width: a number, 'scale' (1/(D·var X)) or 'auto' (1/D) (default: ${D.gamma})`)
    .addOption(new Option('--scale <how>', `feature scaling fitted on the training set (default: chosen by cross-validation; ${D.scale} for a single fit)`).choices(SCALINGS))
    .addOption(new Option('--loss <loss>', `linear-svm loss: squared_hinge is liblinear -s 1, hinge -s 3 (default: ${D.loss})`).choices(SVM_LOSSES))
    .option('--tol <value>', `linear classifiers' stopping tolerance (default: ${solver['linear-svm'].tol} for linear-svm: max−min projected gradient; ${solver.logistic.tol} for logistic: max |gradient|)`)
    .option('--max-iter <n>', `linear classifiers' iteration cap; a fit that hits it warns (default: ${solver['linear-svm'].maxIter} passes for linear-svm, ${solver.logistic.maxIter} L-BFGS iterations for logistic)`)
    .addOption(new Option('--class-weight <how>', `'balanced' weights each class by n/(classes·n_class), for skewed classes (default: ${D.classWeight})`).choices(CLASS_WEIGHTS))
    .option('--probability', "svc: fit libsvm's Platt scaling so that predictions carry calibrated probabilities (logistic always has probabilities)");
  if (seed) cmd.option('--seed <n>', `seed of the cross-validation folds and of the solvers (default: ${D.seed})`);
  return cmd;
}

/** `--gamma`: a number, or one of the rules (scale, auto); anything else fails as any number flag does. */
function gammaFrom(value: string): SvmOptions['gamma'] {
  return parseGamma(value) ?? finiteNumber('--gamma', value);
}

/**
 * Maps the flags onto library training options, numbers parsed, and has the library check them
 * at once (its messages name the flags, see TRAIN_FLAGS).
 */
export function trainOptionsFrom(flags: SvmFlags): TrainOptions {
  const number = (flag: string, value: string | undefined): number | undefined => (value === undefined ? undefined : finiteNumber(flag, value));
  const options: TrainOptions = {
    classifier: flags.classifier as ClassifierChoice | undefined,
    C: number('--C', flags.C),
    kernel: flags.kernel,
    gamma: flags.gamma === undefined ? undefined : gammaFrom(flags.gamma),
    scale: flags.scale,
    loss: flags.loss,
    folds: number('--cv', flags.cv),
    valSize: number('--val-size', flags.valSize),
    grid: flags.grid,
    seed: number('--seed', flags.seed),
    scoring: flags.scoring,
    classWeight: flags.classWeight,
    probability: flags.probability,
    tol: number('--tol', flags.tol),
    maxIter: number('--max-iter', flags.maxIter),
  };
  checkTrainOptions(options);
  return options;
}
