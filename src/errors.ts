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
