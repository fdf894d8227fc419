/**
 * Whether this process was started by npm (`npx`, `npm exec`, `npm run`): npm runs a package's
 * command through `sh -c` and passes SIGINT/SIGTERM on to that shell only, not to the command.
 */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.npm_lifecycle_event || env.npm_command);
}

/** Options of {@link watchNpmLauncher}; the defaults are this process's. */
export interface LauncherWatch {
  env?: NodeJS.ProcessEnv;
  /** The current parent process id (re-read at each check). */
  ppid?: () => number;
  /** Milliseconds between checks (default 100: a getppid call, next to nothing). */
  intervalMs?: number;
}

/**
 * When this process was started by npm, calls `onGone` once if its parent (npm's shell) ends
 * while it runs: a SIGTERM sent to `npx` kills that shell and never reaches this process, which
 * is left running on its own. A process not started by npm is not watched, so one deliberately
 * left running by its parent (`nohup cnnfeat … &`) carries on. Returns the function that stops
 * watching.
 */
export function watchNpmLauncher(onGone: (parent: number) => void, { env = process.env, ppid = () => process.ppid, intervalMs = 100 }: LauncherWatch = {}): () => void {
  if (!startedByNpm(env)) return () => {};
  const parent = ppid();
  const timer = setInterval(() => {
    if (ppid() === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, intervalMs);
  timer.unref(); // never what keeps the process alive
  return () => clearInterval(timer);
}
