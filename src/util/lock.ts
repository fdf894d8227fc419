import { promises as fsp, unlinkSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { CnnfeatError } from '../errors.js';
import type { Logger } from './log.js';
import { exists, makeDir } from './fs.js';

/** Name of the lock file a running cnnfeat process keeps in the directory it writes. */
export const LOCK_FILE = '.cnnfeat-lock';

/** Who holds a lock (the content of the lock file). */
export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

/** A held lock; `release` removes the lock file (also done on process exit). */
export interface DirLock {
  readonly file: string;
  release(): Promise<void>;
}

/**
 * Takes the exclusive lock of `dir` (created if needed) for `command`, or fails at once naming
 * the holder. The lock file is created complete in one step (written aside, then hard-linked into
 * place, which fails when the name exists), so nobody ever sees a half-written lock. The holder
 * refreshes the file's time every 30 s. A lock left by a process of this host that no longer runs
 * is taken over with a warning, and so is one of another host not refreshed for
 * `$CNNFEAT_LOCK_STALE_SECONDS` (600); a live one is reported with its holder. Taking a lock this process already
 * holds succeeds (the inner release does nothing).
 */
export async function acquireLock(dir: string, command: string, logger?: Logger): Promise<DirLock> {
  const created = !(await exists(dir));
  await makeDir(dir);
  const file = path.join(dir, LOCK_FILE);
  // Re-entrant within a process (e.g. `--update` extracting into its own folder).
  if (held.has(file)) return { file, release: async () => {} };
  const got = await tryLockFile(file, command, logger, created ? dir : null);
  if ('lock' in got) return got.lock;
  throw lockedError(dir, file, got.holder);
}

/**
 * Takes the lock file `file` (its folder must exist) as `acquireLock` does, but while a live
 * process holds it — this one included: not re-entrant — waits (saying so once, with
 * `waiting`); an unreadable lock file older than 5 s is removed.
 */
export async function waitForLockFile(file: string, command: string, logger: Logger, waiting: (holder: LockHolder) => string): Promise<DirLock> {
  let told = false;
  for (;;) {
    const got = await tryLockFile(file, command, logger, null);
    if ('lock' in got) return got.lock;
    if (got.holder === null) {
      if (await isOlderThan(file, 5_000)) await fsp.rm(file, { force: true });
    } else if (!told) {
      logger.info(waiting(got.holder));
      told = true;
    }
    await sleep(200);
  }
}

/** One attempt at `file` (taking over a stale lock): the lock, or who holds it (null: unreadable). */
async function tryLockFile(file: string, command: string, logger: Logger | undefined, createdDir: string | null): Promise<{ lock: DirLock } | { holder: LockHolder | null }> {
  const me: LockHolder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), command };
  const text = `${JSON.stringify(me, null, 2)}\n`;
  for (let attempt = 0; ; attempt++) {
    if (await createExclusive(file, text)) return { lock: heldLock(file, text, createdDir) };
    const holder = await readHolder(file);
    if (holder === undefined) continue; // removed in between: try again
    const gone = holder === null ? null : isStale(holder) ? 'which no longer runs' : (await isAbandoned(file, holder)) ? `not refreshed for ${staleSeconds()} s` : null;
    if (attempt < 3 && holder !== null && gone) {
      logger?.warn(`${file}: taking over the lock of process ${holder.pid} on ${holder.host} (${holder.command}, started ${holder.startedAt}), ${gone}`);
      await removeIfUnchanged(file, JSON.stringify(holder));
      continue;
    }
    return { holder };
  }
}

/** Runs `fn` while holding the lock of `dir`; the lock is released however `fn` ends. */
export async function withLock<T>(dir: string, command: string, logger: Logger | undefined, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(dir, command, logger);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** Creates `file` with `text` unless it exists; false when it exists. */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fsp.writeFile(tmp, text, { flag: 'wx' });
  try {
    await fsp.link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/** The holder recorded in the lock file: undefined when the file is gone, null when unreadable. */
async function readHolder(file: string): Promise<LockHolder | null | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const holder = JSON.parse(text) as LockHolder;
    return Number.isInteger(holder?.pid) && typeof holder.host === 'string' ? holder : null;
  } catch {
    return null;
  }
}

/** Whether the holder is a process of this host that has ended. */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== os.hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A holder refreshes its lock file's time every this many ms (see `isAbandoned`). */
const HEARTBEAT_MS = 30_000;

/** How long a lock of another host may go unrefreshed before it counts as abandoned. */
function staleSeconds(): number {
  const given = Number(process.env.CNNFEAT_LOCK_STALE_SECONDS);
  return Number.isFinite(given) && given > 0 ? given : 600;
}

/**
 * Whether a lock of another host (whose process cannot be checked, e.g. a killed pod or a
 * requeued SLURM task) has not been refreshed for `staleSeconds()`: its holder is gone.
 */
async function isAbandoned(file: string, holder: LockHolder): Promise<boolean> {
  return holder.host !== os.hostname() && (await isOlderThan(file, staleSeconds() * 1000));
}

/** Whether `file` exists and was last modified more than `ms` ago. */
async function isOlderThan(file: string, ms: number): Promise<boolean> {
  const stat = await fsp.stat(file).catch(() => null);
  return stat !== null && Date.now() - stat.mtimeMs > ms;
}

/** Removes a stale lock unless another process replaced it meanwhile. */
async function removeIfUnchanged(file: string, holderJson: string): Promise<void> {
  const now = await readHolder(file);
  if (now && JSON.stringify(now) === holderJson) await fsp.rm(file, { force: true });
}

function lockedError(dir: string, file: string, holder: LockHolder | null): CnnfeatError {
  if (holder === null) {
    return new CnnfeatError(`${dir} is locked (${file} exists but is unreadable); if no cnnfeat process writes there, remove ${file}`);
  }
  const where = holder.host === os.hostname() ? 'on this machine' : `on host ${holder.host}`;
  return new CnnfeatError(
    `${dir} is in use by process ${holder.pid} ${where} (${holder.command}, started ${holder.startedAt}); wait for it, or if it is gone remove ${file}`,
  );
}

/** Lock files held by this process, removed synchronously if it exits without releasing them. */
const held = new Map<string, string>();
let exitHookInstalled = false;

/** The lock just taken; `createdDir`, made for it, is removed again on release if nothing was written there. */
function heldLock(file: string, text: string, createdDir: string | null): DirLock {
  held.set(file, text);
  const heartbeat = setInterval(() => {
    const now = new Date();
    fsp.utimes(file, now, now).catch(() => {});
  }, HEARTBEAT_MS).unref();
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const [f, t] of held) releaseSync(f, t);
    });
  }
  return {
    file,
    async release() {
      if (!held.delete(file)) return;
      clearInterval(heartbeat);
      const now = await fsp.readFile(file, 'utf8').catch(() => null);
      if (now === text) await fsp.rm(file, { force: true });
      if (createdDir) await fsp.rmdir(createdDir).catch(() => {});
    },
  };
}

function releaseSync(file: string, text: string): void {
  try {
    if (readFileSync(file, 'utf8') === text) unlinkSync(file);
  } catch {
    // Already gone, or the folder was removed: nothing to release.
  }
}
