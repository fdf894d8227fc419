import type { Command } from 'commander';
import { CnnfeatError, ExitCode } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { finiteNumber } from '../util/validate.js';

/** Adds the CI quality gate options. */
export function addGateOptions(cmd: Command): Command {
  return cmd
    .option('--min-accuracy <x>', 'exit with code 3 when accuracy is below x (0–1)')
    .option('--min-balanced-accuracy <x>', 'exit with code 3 when balanced accuracy (mean per-class recall) is below x (0–1)')
    .option('--min-class-recall <x>', 'exit with code 3 when the recall of any class with test images is below x (0–1)');
}

/** Raw gate flags. */
export interface GateFlags {
  minAccuracy?: string;
  minBalancedAccuracy?: string;
  minClassRecall?: string;
}

/** Parsed gate thresholds. */
export interface Gates {
  minAccuracy?: number;
  minBalancedAccuracy?: number;
  minClassRecall?: number;
}

const fraction = (name: string, value: string | undefined) => (value === undefined ? undefined : finiteNumber(name, value, 0, 1));

/** Validates the gate options up front, before any work is done. */
export function parseGates(flags: GateFlags): Gates {
  return {
    minAccuracy: fraction('--min-accuracy', flags.minAccuracy),
    minBalancedAccuracy: fraction('--min-balanced-accuracy', flags.minBalancedAccuracy),
    minClassRecall: fraction('--min-class-recall', flags.minClassRecall),
  };
}

/** The reason the first unmet gate fails, or null when all pass. */
export function gateFailure(metrics: Metrics, gates: Gates): string | null {
  if (gates.minAccuracy !== undefined && metrics.accuracy < gates.minAccuracy) {
    return `accuracy ${metrics.accuracy.toFixed(4)} is below --min-accuracy ${gates.minAccuracy}`;
  }
  if (gates.minBalancedAccuracy !== undefined && metrics.balancedAccuracy < gates.minBalancedAccuracy) {
    return `balanced accuracy ${metrics.balancedAccuracy.toFixed(4)} is below --min-balanced-accuracy ${gates.minBalancedAccuracy}`;
  }
  if (gates.minClassRecall !== undefined) {
    const below = metrics.perClass.filter((c) => c.support > 0 && c.recall < gates.minClassRecall!).sort((a, b) => a.recall - b.recall);
    if (below.length > 0) {
      const list = below.map((c) => `${c.class} ${c.recall.toFixed(4)}`).join(', ');
      return `recall of ${below.length} class(es) is below --min-class-recall ${gates.minClassRecall}: ${list}`;
    }
  }
  return null;
}

/** Throws a gate failure (exit code 3) with a one-line reason when a threshold is not met. */
export function checkGates(metrics: Metrics, gates: Gates): void {
  const reason = gateFailure(metrics, gates);
  if (reason) throw new CnnfeatError(reason, ExitCode.gate);
}
