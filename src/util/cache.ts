import os from 'node:os';
import path from 'node:path';
import { sha256OfText } from './hash.js';

/**
 * The cache root: `$CNNFEAT_CACHE`, else `$XDG_CACHE_HOME/cnnfeat`, else `~/.cache/cnnfeat`.
 */
export function cacheDir(): string {
  if (process.env.CNNFEAT_CACHE) return path.resolve(process.env.CNNFEAT_CACHE);
  if (process.env.XDG_CACHE_HOME) return path.join(path.resolve(process.env.XDG_CACHE_HOME), 'cnnfeat');
  return path.join(os.homedir(), '.cache', 'cnnfeat');
}

/** Folder holding an installed model's files. */
export function modelCacheDir(id: string): string {
  return path.join(cacheDir(), 'models', id);
}

/** Name of the record written beside installed weights (file sizes, digest, source). */
export const INSTALL_RECORD = 'cnnfeat-install.json';

/** Folder of user model cards written by `cnnfeat models add`. */
export function userCardsDir(): string {
  return path.join(cacheDir(), 'cards');
}

/** Cache folder of a model downloaded by URL (not through a card): keyed by a digest of the URL. */
export function urlCacheDir(url: string): string {
  return modelCacheDir(`url-${sha256OfText(url).slice(0, 16)}`);
}
