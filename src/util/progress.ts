import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';

const requireCjs = createRequire(import.meta.url);

/** A progress display counting up to a total. */
export interface Progress {
  /** `done` items so far (of the whole job, resumed ones included); `detail` says what runs now. */
  update(done: number, extra?: { detail?: string }): void;
  stop(): void;
}

/** Milliseconds since some fixed point (`Date.now`, or a test's clock). */
export type Clock = () => number;

/**
 * Rate and ETA of one run of a job that may have started part-way (a resumed extraction): the
 * rate counts only the items done since `start`, over the time since this meter was made.
 */
export class ProgressMeter {
  private readonly startedAt: number;
  private done: number;

  constructor(
    readonly total: number,
    readonly start = 0,
    private readonly now: Clock = Date.now,
  ) {
    this.startedAt = now();
    this.done = start;
  }

  /** Records the count of items done so far (of the whole job). */
  update(done: number): void {
    this.done = done;
  }

  get value(): number {
    return this.done;
  }

  /** Items per second of this run; undefined until this run has done an item. */
  get rate(): number | undefined {
    const seconds = (this.now() - this.startedAt) / 1000;
    const items = this.done - this.start;
    return items > 0 && seconds > 0 ? items / seconds : undefined;
  }

  /** Seconds to the end at this run's rate; undefined while there is no rate. */
  get eta(): number | undefined {
    const rate = this.rate;
    return rate === undefined ? undefined : Math.max(0, this.total - this.done) / rate;
  }
}

/** "42s", "1m05s", "2h03m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A rate for display: one decimal, `-` while there is none. */
function formatRate(rate: number | undefined): string {
  return rate === undefined ? '-' : rate.toFixed(1);
}

/** An ETA for display: `-` while there is no rate. */
function formatEta(eta: number | undefined): string {
  return eta === undefined ? '-' : formatDuration(eta);
}

/** A count for display: training counts fits in fractions. */
function formatCount(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** When {@link lineProgress} prints a line (see there). */
export interface LineRule {
  /** Fraction of the total between lines (default 0.1: at 10 %, 20 %, …). */
  step?: number;
  /** Milliseconds after the last line within which a step prints no line (default 5 s). */
  gapMs?: number;
  /** Milliseconds after which the next update prints anyway (default 30 s). */
  everyMs?: number;
}

/** Options of the progress displays. */
export interface ProgressOptions {
  /** What the rate counts (default `img`). */
  unit?: string;
  /** Items already done before this run (a resumed job): the display starts there. */
  start?: number;
  clock?: Clock;
}

/**
 * Progress as plain lines (for logs: CI, `kubectl logs`, SLURM output files), e.g.
 * `extract: 192/500 (38%), 16.4 img/s, ETA 19s`. An update prints a line when `everyMs` went by
 * since the last one, when the count reaches another `step` of the total at least `gapMs` after
 * the last line, and when it reaches the total. So a job prints at most 1/step + 1 lines plus one
 * per `everyMs` of its duration, and a short job only a few.
 */
export function lineProgress(total: number, label: string, write: (line: string) => void, opts: ProgressOptions & LineRule = {}): Progress {
  const { unit = 'img', start = 0, clock = Date.now, step = 0.1, gapMs = 5_000, everyMs = 30_000 } = opts;
  const meter = new ProgressMeter(total, start, clock);
  const stepOf = (n: number) => (total > 0 ? Math.floor((n / total + 1e-9) / step) : 0);
  let lastStep = stepOf(start);
  let lastLine = clock();
  const due = (done: number, since: number) => since >= everyMs || (stepOf(done) > lastStep && (since >= gapMs || done >= total));
  return {
    update(done, extra) {
      meter.update(done);
      const now = clock();
      if (!due(done, now - lastLine)) return;
      lastStep = stepOf(done);
      lastLine = now;
      const percent = total > 0 ? ` (${Math.floor((100 * done) / total)}%)` : '';
      const detail = extra?.detail ? `; ${extra.detail}` : '';
      write(`${label}: ${formatCount(done)}/${total}${percent}, ${formatRate(meter.rate)} ${unit}/s, ETA ${formatEta(meter.eta)}${detail}`);
    },
    stop() {},
  };
}

/** A live bar on a terminal, with its rate and ETA from a {@link ProgressMeter}. */
export interface TerminalProgress extends Progress {
  /** Prints `line` where the bar is, and the bar again below it. */
  printAbove(line: string): void;
}

/** Erases the terminal line the cursor is on, leaving the cursor at its start. */
const CLEAR_LINE = '\r\x1b[2K';
/** Saves the cursor position (DECSC), as cli-progress does when a bar starts. */
const SAVE_CURSOR = '\x1b7';

/**
 * A bar on the terminal `stream`: `extract [####----] 192/500 | 16.4 img/s | ETA 19s`.
 * It starts at `start` and its rate and ETA count this run only.
 */
export function terminalProgress(stream: NodeJS.WriteStream, total: number, label: string, opts: ProgressOptions = {}): TerminalProgress {
  const { unit = 'img', start = 0, clock = Date.now } = opts;
  const cliProgress = requireCjs('cli-progress') as typeof CliProgress; // loaded when a bar is first drawn
  const meter = new ProgressMeter(total, start, clock);
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {value}/{total} | {rate} ${unit}/s | ETA {remaining}`,
      barCompleteChar: '#',
      barIncompleteChar: '-',
      hideCursor: true,
      fps: 5,
      // Drawn even when unchanged: printAbove erases it, and render() alone would skip an unchanged bar.
      forceRedraw: true,
    },
    cliProgress.Presets.legacy,
  );
  const payload = () => ({ rate: formatRate(meter.rate), remaining: formatEta(meter.eta) });
  bar.start(total, Math.floor(start), payload());
  return {
    update(done) {
      meter.update(done);
      bar.update(Math.floor(done), payload());
    },
    printAbove(line) {
      // The bar restores the cursor it saved at its start when it stops: save it again on the
      // bar's new line, else the bar's last state would be left half overwritten.
      stream.write(`${CLEAR_LINE}${line}\n${SAVE_CURSOR}`);
      bar.render();
    },
    stop() {
      bar.stop();
    },
  };
}
