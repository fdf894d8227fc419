import { promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { CnnfeatError, ExitCode } from '../errors.js';

/** Error codes that mean "nothing usable there" rather than a failure to look. */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);

/** `fs.stat` (following links), or null when nothing is there; other errors (EACCES, EIO…) are thrown. */
export async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await fsp.stat(p);
  } catch (err) {
    if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return null;
    throw err;
  }
}

/** True when `p` exists (file, directory or link, even a broken one). */
export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}

/** True when `p` is a directory (or a link to one). */
export async function isDirectory(p: string): Promise<boolean> {
  return (await statOrNull(p))?.isDirectory() ?? false;
}

/**
 * Creates `dir` and its missing parents, one level at a time. (Node's recursive mkdir never
 * returns on some pseudo file systems such as /proc, where mkdir keeps answering ENOENT.)
 */
export async function makeDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let p = path.resolve(dir); !(await exists(p)) && p !== path.dirname(p); p = path.dirname(p)) missing.unshift(p);
  for (const p of missing) {
    await fsp.mkdir(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  if (!(await isDirectory(dir))) throw new CnnfeatError(`${dir}: is a file, not a folder; choose another output folder`);
}

/**
 * Checks, before long work, that `file` can be written when the work is done: it is not a
 * folder, and a file can be created beside it.
 * @param role what the file is, for messages: "the classifier file (-o)"
 * @param example a file name for it, suggested inside a folder given instead
 */
export async function assertWritableFile(file: string, role: string, example: string): Promise<void> {
  if (await isDirectory(file)) {
    throw new CnnfeatError(`${file}: is a folder; ${role} is a file path (e.g. ${path.join(file, example)})`);
  }
  const probe = tempPathOf(file);
  try {
    await (await fsp.open(probe, 'w')).close();
    await fsp.unlink(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const why = code === 'ENOENT' ? `folder ${path.dirname(file)} does not exist` : (SYSTEM_ERRORS[code] ?? (err as Error).message);
    throw new CnnfeatError(`${file}: cannot be written (${why}); choose another path for ${role}`);
  }
}

/** The temporary file an atomic write of `file` goes through, beside it. */
function tempPathOf(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
}

/**
 * Writes `data` to `file` atomically: a temporary file in the same directory is written,
 * flushed and renamed over the target, so readers see the old or the new content, never half.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathOf(file);
  try {
    const handle = await fsp.open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    const e = err as NodeJS.ErrnoException;
    if (e.path === tmp) e.path = file;
    throw err;
  }
}

/**
 * Writes all of `bytes` at `position`. A write may store only part of its data (a nearly full
 * disk, a file-size limit) and fail only on the next call, so short writes are continued until
 * everything is written or an error is thrown.
 */
export async function writeAllAt(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error('write stored nothing'), { code: 'EIO', syscall: 'write' });
    done += bytesWritten;
  }
}

/**
 * Reads and parses a JSON file; a file that is not JSON is a one-line error naming it,
 * followed by `hint` (what to do about it).
 */
export async function readJson<T>(file: string, hint = ''): Promise<T> {
  const text = await fsp.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    err.path ??= file;
    throw err;
  });
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new CnnfeatError(`${file}: not valid JSON (${(err as Error).message})${hint ? `; ${hint}` : ''}`);
  }
}

/** Writes `value` as pretty JSON, atomically. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

const SYSTEM_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device; free some space (an extraction can then be resumed, --resume)',
  EDQUOT: 'disk quota exceeded; free some space (an extraction can then be resumed, --resume)',
  EFBIG: 'file too large for this file system or its limits',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a folder, a file was expected',
  EMFILE: 'too many open files; raise the limit (ulimit -n)',
  EIO: 'input/output error (failing disk or unmounted drive?)',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
};

/**
 * Turns a Node.js file-system error into the CLI's one-line error (exit code 2), naming the
 * path; returns null for any other error.
 */
export function fromSystemError(err: unknown): CnnfeatError | null {
  const e = err as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof e.code !== 'string' || !/^E[A-Z]+$/.test(e.code) || !e.syscall) return null;
  const where = e.path ?? (e as { dest?: string }).dest ?? '';
  const what = SYSTEM_ERRORS[e.code] ?? e.message.replace(/^[A-Z]+: /, '').replace(/,.*$/, '');
  return new CnnfeatError(`${where ? `${where}: ` : ''}${what} (${e.code}, during ${e.syscall})`, ExitCode.usage);
}
