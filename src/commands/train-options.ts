import { Option, type Command } from 'commander';
import { KERNELS, type SvmOptions } from '../classifiers/svm.js';
import { SCALINGS } from '../classifiers/scaling.js';
import { positiveNumber } from '../util/validate.js';
import { DEFAULT_SVM } from '../pipeline/train.js';

/** Raw SVM flags as commander parses them. */
export interface SvmFlags {
  kernel: SvmOptions['kernel'];
  C: string;
  gamma: string;
  scale: SvmOptions['scale'];
  probability?: boolean;
}

/** Adds the SVM options shared by `train` and `run`. */
export function addSvmOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--kernel <kernel>', 'SVM kernel').choices(KERNELS).default(DEFAULT_SVM.kernel))
    .option('-C, --C <value>', 'SVM regularisation: cost of a margin violation', String(DEFAULT_SVM.C))
    .option('--gamma <value>', "RBF width: a number, 'scale' (1/(D·var X)) or 'auto' (1/D)", String(DEFAULT_SVM.gamma))
    .addOption(new Option('--scale <how>', 'feature scaling fitted on the training set').choices(SCALINGS).default(DEFAULT_SVM.scale))
    .option('--probability', "fit libsvm's Platt scaling so that predictions carry calibrated probabilities");
}

/** Maps SVM flags to classifier options, validating numbers. */
export function svmOptionsFrom(flags: SvmFlags): SvmOptions {
  const gamma = flags.gamma === 'scale' || flags.gamma === 'auto' ? flags.gamma : positiveNumber('--gamma (or scale, auto)', flags.gamma);
  return {
    kernel: flags.kernel,
    C: positiveNumber('--C', flags.C),
    gamma,
    scale: flags.scale,
    probability: Boolean(flags.probability),
  };
}
