import type { Command } from 'commander';
import { CnnfeatError, ExitCode } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { finiteNumber } from '../util/validate.js';

/** Adds the CI quality gate options. */
export function addGateOptions(cmd: Command): Command {
  return cmd.option('--min-accuracy <x>', 'exit with code 3 when accuracy is below x (0–1)');
}

/** Parsed gate thresholds. */
export interface Gates {
  minAccuracy?: number;
}

/** Validates the gate options up front, before any work is done. */
export function parseGates(flags: { minAccuracy?: string }): Gates {
  return { minAccuracy: flags.minAccuracy === undefined ? undefined : finiteNumber('--min-accuracy', flags.minAccuracy, 0, 1) };
}

/** Throws a gate failure (exit code 3) with a one-line reason when a threshold is not met. */
export function checkGates(metrics: Metrics, gates: Gates): void {
  if (gates.minAccuracy !== undefined && metrics.accuracy < gates.minAccuracy) {
    throw new CnnfeatError(`accuracy ${metrics.accuracy.toFixed(4)} is below --min-accuracy ${gates.minAccuracy}`, ExitCode.gate);
  }
}
