import type { Command } from 'commander';
import { CnnfeatError, ExitCode } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { finiteNumber } from '../util/validate.js';

/** Adds the CI quality gate options. */
export function addGateOptions(cmd: Command): Command {
  return cmd.option('--min-accuracy <x>', 'exit with code 3 when accuracy is below x (0–1)');
}

/** Throws a gate failure (exit code 3) with a one-line reason when a threshold is not met. */
export function checkGates(metrics: Metrics, flags: { minAccuracy?: string }): void {
  if (flags.minAccuracy === undefined) return;
  const min = finiteNumber('--min-accuracy', flags.minAccuracy, 0, 1);
  if (metrics.accuracy < min) {
    throw new CnnfeatError(`accuracy ${metrics.accuracy.toFixed(4)} is below --min-accuracy ${min}`, ExitCode.gate);
  }
}
