import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';

const requireCjs = createRequire(import.meta.url);

/** Where cnnfeat writes human-facing messages: always stderr, so stdout stays for results. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  /** A progress display counting `total` items; `unit` names them in the rate (default `img`). */
  progress(total: number, label: string, unit?: string): Progress;
  /** Whether `progress` draws bars (a terminal); without them, long work logs a progress line now and then. */
  readonly bars?: boolean;
}

/** A progress display; a no-op when stderr is not a terminal or output is quiet. */
export interface Progress {
  update(done: number, extra?: { rate?: number }): void;
  stop(): void;
}

/** Whether coloured output is allowed on stderr (honours NO_COLOR and FORCE_COLOR). */
export function colorEnabled(stream: NodeJS.WriteStream = process.stderr): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

const noProgress: Progress = { update() {}, stop() {} };

/**
 * Creates the stderr logger. `quiet` silences info and progress; warnings still print.
 */
export function createLogger({ quiet = false }: { quiet?: boolean } = {}): Logger {
  const stderr = process.stderr;
  const yellow = colorEnabled() ? (s: string) => `\x1b[33m${s}\x1b[39m` : (s: string) => s;
  const bars = !quiet && Boolean(stderr.isTTY);
  return {
    bars,
    info(message) {
      if (!quiet) stderr.write(`${message}\n`);
    },
    warn(message) {
      stderr.write(`${yellow('warning:')} ${message}\n`);
    },
    progress(total, label, unit = 'img') {
      if (!bars) return noProgress;
      return terminalProgress(total, label, unit);
    },
  };
}

function terminalProgress(total: number, label: string, unit: string): Progress {
  const cliProgress = requireCjs('cli-progress') as typeof CliProgress; // loaded when a bar is first drawn
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {value}/{total} | {rate} ${unit}/s | ETA {eta_formatted}`,
      barCompleteChar: '#',
      barIncompleteChar: '-',
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.legacy,
  );
  bar.start(total, 0, { rate: '-' });
  return {
    update(done, extra) {
      bar.update(done, { rate: extra?.rate !== undefined ? extra.rate.toFixed(1) : '-' });
    },
    stop() {
      bar.stop();
    },
  };
}

/** A logger that prints nothing; the default for library calls. */
export const silentLogger: Logger = { info() {}, warn() {}, progress: () => noProgress };
