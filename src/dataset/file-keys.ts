import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { sha256OfFiles } from '../util/hash.js';

/** What identifies the content of an image file between runs (`extract --update`). */
export interface FileKey {
  /** Size in bytes. */
  size: number;
  /** Modification time in milliseconds since the epoch (sub-millisecond part kept). */
  mtimeMs: number;
  /** `sha256:` of the content, when asked for (`--hash`). */
  sha256?: string;
}

/**
 * Stats (and with `hash`, reads and digests) each file, a few at a time. File-system errors
 * are thrown as they are (with the path), since a file that cannot be read must not be skipped.
 */
export async function fileKeys(root: string, relPaths: readonly string[], { hash = false } = {}): Promise<FileKey[]> {
  const keys = new Array<FileKey>(relPaths.length);
  let next = 0;
  const worker = async () => {
    while (next < relPaths.length) {
      const i = next++;
      const file = path.join(root, relPaths[i]!);
      const stat = await fsp.stat(file);
      keys[i] = { size: stat.size, mtimeMs: stat.mtimeMs, ...(hash ? { sha256: await sha256File(file) } : {}) };
    }
  };
  await Promise.all(Array.from({ length: hash ? 4 : 16 }, worker));
  return keys;
}

/** `sha256:<hex>` of a file's content, streamed. */
export async function sha256File(file: string): Promise<string> {
  return `sha256:${await sha256OfFiles([file])}`;
}

/**
 * Whether a file is unchanged: same content hash when both sides have one, else same size
 * and modification time.
 */
export function sameFile(before: FileKey, now: FileKey): boolean {
  if (before.sha256 && now.sha256) return before.sha256 === now.sha256;
  return before.size === now.size && before.mtimeMs === now.mtimeMs;
}
