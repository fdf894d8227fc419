import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hex sha256 of the contents of `files`, one after the other, streamed. */
export async function sha256OfFiles(files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** Hex sha256 of a string (UTF-8). */
export function sha256OfText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
