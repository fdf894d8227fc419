import { Option, type Command } from 'commander';
import { CLASS_WEIGHTS, KERNELS, type ClassWeight, type SvmOptions } from '../classifiers/svm.js';
import { SCALINGS } from '../classifiers/scaling.js';
import { CV_SCORINGS, DEFAULT_GRID, formatGrid, parseGrid, rankedResults, type CvScoring, type Grid, type ModelSelection } from '../classifiers/model-selection.js';
import { CnnfeatError } from '../errors.js';
import { positiveInt, positiveNumber, seedOption } from '../util/validate.js';
import { DEFAULT_SVM, type TrainOptions } from '../pipeline/train.js';

/** Raw SVM flags as commander parses them (undefined = not given). */
export interface SvmFlags {
  kernel?: SvmOptions['kernel'];
  C?: string;
  gamma?: string;
  scale?: SvmOptions['scale'];
  probability?: boolean;
  classWeight: ClassWeight;
  cv?: string;
  grid?: string;
  scoring: CvScoring;
  seed: string;
}

/** Adds the SVM and model-selection options shared by `train` and `run` (`run` has its own --seed). */
export function addSvmOptions(cmd: Command, { seed = true } = {}): Command {
  cmd
    .option('--cv <k>', 'choose kernel/C/gamma/scaling by stratified k-fold cross-validation on the training features, then refit (default: 5 folds unless --kernel or --C is given)')
    .option('--grid <spec>', `grid searched by --cv, ";"-separated key=values (default "${formatGrid(DEFAULT_GRID)}")`)
    .addOption(new Option('--scoring <metric>', 'what --cv maximises').choices(CV_SCORINGS).default('balanced_accuracy'))
    .addOption(new Option('--kernel <kernel>', `SVM kernel; alone (without --cv) a single fit (default ${DEFAULT_SVM.kernel})`).choices(KERNELS))
    .option('-C, --C <value>', `SVM regularisation: cost of a margin violation; alone (without --cv) a single fit (default ${DEFAULT_SVM.C})`)
    .option('--gamma <value>', "RBF width: a number, 'scale' (1/(D·var X)) or 'auto' (1/D) (default scale)")
    .addOption(new Option('--scale <how>', `feature scaling fitted on the training set (default ${DEFAULT_SVM.scale} for a single fit)`).choices(SCALINGS))
    .addOption(new Option('--class-weight <how>', "'balanced' weights each class's C by n/(classes·n_class), for skewed classes").choices(CLASS_WEIGHTS).default('none'))
    .option('--probability', "fit libsvm's Platt scaling so that predictions carry calibrated probabilities");
  if (seed) cmd.option('--seed <n>', 'seed of the cross-validation folds', '0');
  return cmd;
}

/** `--gamma`: a positive number, scale or auto. */
function gammaFrom(value: string): SvmOptions['gamma'] {
  return value === 'scale' || value === 'auto' ? value : positiveNumber('--gamma (or scale, auto)', value);
}

/** The grid of `--grid`, with the axes given by --kernel/--C/--gamma/--scale fixed to those values. */
function gridFrom(flags: SvmFlags): Grid {
  const grid = flags.grid === undefined ? { ...DEFAULT_GRID } : parseGrid(flags.grid);
  if (flags.kernel) grid.kernel = [flags.kernel];
  if (flags.C !== undefined) grid.C = [positiveNumber('--C', flags.C)];
  if (flags.gamma !== undefined) grid.gamma = [gammaFrom(flags.gamma)];
  if (flags.scale) grid.scale = [flags.scale];
  return grid;
}

/**
 * Maps SVM flags to training options, validating numbers. Cross-validation when --cv or
 * --grid is given, or when neither --kernel nor --C is (the default); a single fit otherwise.
 */
export function trainOptionsFrom(flags: SvmFlags): TrainOptions {
  const select = flags.cv !== undefined || flags.grid !== undefined || (flags.kernel === undefined && flags.C === undefined);
  const classWeight = flags.classWeight;
  const probability = Boolean(flags.probability);
  if (!select) {
    return {
      svm: {
        kernel: flags.kernel ?? DEFAULT_SVM.kernel,
        C: flags.C === undefined ? DEFAULT_SVM.C : positiveNumber('--C', flags.C),
        gamma: flags.gamma === undefined ? DEFAULT_SVM.gamma : gammaFrom(flags.gamma),
        scale: flags.scale ?? DEFAULT_SVM.scale,
        probability,
        classWeight,
      },
    };
  }
  const folds = flags.cv === undefined ? 5 : positiveInt('--cv', flags.cv);
  if (folds < 2) throw new CnnfeatError(`--cv must be at least 2 folds, got ${flags.cv}`);
  const seed = seedOption('--seed', flags.seed);
  return { selection: { grid: gridFrom(flags), folds, seed, scoring: flags.scoring, classWeight, probability } };
}

/** Text table of a model selection, best first marked with `*`. */
export function formatSelection(selection: ModelSelection, limit = 10): string {
  const sorted = rankedResults(selection).map(({ result, index }) => ({ r: result, i: index }));
  const lines = [`${selection.folds}-fold cross-validation (${selection.scoring}, seed ${selection.seed}), ${selection.results.length} settings in ${selection.seconds.toFixed(1)} s:`];
  lines.push('  rank  kernel  C       gamma   scale     score            fit ms');
  for (const { r, i } of sorted.slice(0, limit)) {
    const p = r.params;
    lines.push(
      `${i === selection.best ? '*' : ' '} ${String(r.rank).padStart(4)}  ${p.kernel.padEnd(6)}  ${String(p.C).padEnd(6)}  ${(p.kernel === 'rbf' ? String(p.gamma) : '-').padEnd(6)}  ${p.scale.padEnd(8)}  ${r.mean.toFixed(4)} ± ${r.std.toFixed(4)}  ${(r.fitSeconds * 1000).toFixed(1)}`,
    );
  }
  if (sorted.length > limit) lines.push(`  … ${sorted.length - limit} more in the classifier file's "selection"`);
  return lines.join('\n');
}
