/** Exit codes of the cnnfeat CLI; documented in docs/exit-codes.md. */
export const ExitCode = {
  ok: 0,
  /** An unexpected internal failure (a bug: please report it). */
  internal: 1,
  /** Bad input or usage: a missing file, a wrong option, an unreadable dataset. */
  usage: 2,
  /** A quality gate failed, e.g. accuracy below `--min-accuracy`. */
  gate: 3,
  /** A model could not be downloaded or failed its integrity check. */
  model: 4,
  /** Interrupted by SIGINT; the output directory can be resumed. */
  interrupted: 130,
  /** Stopped by SIGTERM; the output directory can be resumed. */
  terminated: 143,
} as const;

/**
 * The one error type cnnfeat throws for anything the user can act on.
 * The CLI prints `message` as a single line and exits with `exitCode`.
 */
export class CnnfeatError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = ExitCode.usage) {
    super(message);
    this.name = 'CnnfeatError';
    this.exitCode = exitCode;
  }
}

/** The message of any thrown value, for wrapping foreign errors. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** CLI flags by library option name (`{ valSize: '--val-size' }`) once the CLI has set them; none in the library. */
let optionFlags: Readonly<Record<string, string>> = {};

/**
 * Makes messages name options by these flags from now on, instead of by the library's option
 * names: the CLI calls it once as it starts (and hands the flags to its worker threads).
 */
export function nameOptionsByFlag(flags: Readonly<Record<string, string>>): void {
  optionFlags = flags;
}

/** The flags given to {@link nameOptionsByFlag} (for worker threads, which have a copy of this module of their own). */
export function optionFlagNames(): Readonly<Record<string, string>> {
  return optionFlags;
}

/**
 * An option as messages name it, with a value when given: the library's name (`valSize`,
 * `folds=10`), or the CLI's flag (`--val-size`, `--cv 10`) under {@link nameOptionsByFlag}.
 */
export function optionName(option: string, value?: string | number): string {
  const flag = optionFlags[option];
  if (flag) return value === undefined ? flag : `${flag} ${value}`;
  return value === undefined ? option : `${option}=${value}`;
}
