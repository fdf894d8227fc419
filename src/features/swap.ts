import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { exists } from '../util/fs.js';
import type { Logger } from '../util/log.js';
import { FEATURES_FILE, MANIFEST_FILE, SAMPLES_FILE, UPDATE_DIR } from './schema.js';

/** Where an update extracts the rows of new and changed files (a resumable feature directory). */
export const UPDATE_ROWS_DIR = path.join(UPDATE_DIR, 'rows');
/** Where an update assembles the new directory before moving it into place. */
export const UPDATE_NEXT_DIR = path.join(UPDATE_DIR, 'next');

/**
 * Moves an assembled update (`.cnnfeat-update/next`, finished once its manifest exists) into
 * the feature directory and removes the working folder. The old manifest goes first, so while
 * files are being moved the directory never looks finished with mixed content; after a kill in
 * between, the next `extract` on the directory completes the move. Does nothing when no
 * assembled update is waiting.
 */
export async function completePendingUpdate(outDir: string, logger?: Logger): Promise<boolean> {
  const next = path.join(outDir, UPDATE_NEXT_DIR);
  if (!(await exists(path.join(next, MANIFEST_FILE)))) return false;
  logger?.info(`${outDir}: moving the updated features into place`);
  await fsp.rm(path.join(outDir, MANIFEST_FILE), { force: true });
  for (const name of [FEATURES_FILE, SAMPLES_FILE, MANIFEST_FILE]) {
    if (await exists(path.join(next, name))) await fsp.rename(path.join(next, name), path.join(outDir, name));
  }
  await fsp.rm(path.join(outDir, UPDATE_DIR), { recursive: true, force: true });
  return true;
}
