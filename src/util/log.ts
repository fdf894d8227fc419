import { lineProgress, terminalProgress, type Progress, type TerminalProgress } from './progress.js';

export type { Progress } from './progress.js';

/** Where cnnfeat writes human-facing messages: always stderr, so stdout stays for results. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  /**
   * A progress display counting `total` items; `unit` names them in the rate (default `img`);
   * `start` items were done before this run (a resumed job): the display starts there, and its
   * rate and ETA count this run only.
   */
  progress(total: number, label: string, unit?: string, start?: number): Progress;
}

/** Whether coloured output is allowed on stderr (honours NO_COLOR and FORCE_COLOR). */
export function colorEnabled(stream: NodeJS.WriteStream = process.stderr): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

const noProgress: Progress = { update() {}, stop() {} };

/**
 * Creates the stderr logger. `quiet` silences info and progress; warnings still print. On a
 * terminal progress is a live bar, and a message printed meanwhile replaces the bar's line
 * (the bar is drawn again below it); elsewhere (a log file, a pipe) it is a plain line now and then.
 * `stream` is stderr unless a test gives another.
 */
export function createLogger({ quiet = false, stream }: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Logger {
  const stderr = stream ?? process.stderr;
  const yellow = colorEnabled(stderr) ? (s: string) => `\x1b[33m${s}\x1b[39m` : (s: string) => s;
  let bar: TerminalProgress | null = null;
  const write = (line: string) => (bar ? bar.printAbove(line) : stderr.write(`${line}\n`));
  return {
    info(message) {
      if (!quiet) write(message);
    },
    warn(message) {
      write(`${yellow('warning:')} ${message}`);
    },
    progress(total, label, unit = 'img', start = 0) {
      if (quiet) return noProgress;
      if (!stderr.isTTY) return lineProgress(total, label, write, { unit, start });
      bar?.stop();
      const live = terminalProgress(stderr, total, label, { unit, start });
      bar = live;
      return {
        update: (done, extra) => live.update(done, extra),
        stop() {
          live.stop();
          if (bar === live) bar = null;
        },
      };
    },
  };
}

/** A logger that prints nothing; the default for library calls. */
export const silentLogger: Logger = { info() {}, warn() {}, progress: () => noProgress };
