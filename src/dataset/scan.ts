import { promises as fsp } from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';
import { CnnfeatError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { isDirectory, statOrNull } from '../util/fs.js';

/** File extensions (lower case, no dot) that are read as images. */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif'] as const;

/** One image of a labelled dataset. */
export interface Sample {
  /** Absolute path of the file. */
  file: string;
  /** Path relative to the dataset root, with `/` separators. */
  relPath: string;
  /** Class name: the first-level folder the file is in. */
  label: string;
}

/** A scanned `<root>/<class>/.../<image>` tree. */
export interface Dataset {
  root: string;
  /** Class names, sorted; the index of a class here is its label id. */
  classes: string[];
  /** Samples sorted by class, then relative path. */
  samples: Sample[];
  /** Class folders that hold no image. */
  emptyClasses: string[];
  /** Image-like entries that are not samples, with why (root-level files, broken links, link loops). */
  ignored: { path: string; reason: string }[];
}

/** Whether `name` has one of the image extensions, in any case. */
export function isImageFile(name: string): boolean {
  const ext = path.extname(name).slice(1).toLowerCase();
  return (IMAGE_EXTENSIONS as readonly string[]).includes(ext);
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Scans `root` for `<class>/.../<image>` files: class = first-level folder, hidden files and
 * folders are ignored, symlinked folders are followed once (loops and aliases never duplicate
 * a file within a class), and the result is sorted so that two scans of the same tree are identical.
 */
export async function scanDataset(root: string): Promise<Dataset> {
  const absRoot = path.resolve(root);
  if (!(await isDirectory(absRoot))) {
    const missing = (await statOrNull(absRoot)) === null;
    throw new CnnfeatError(`${root}: ${missing ? 'no such folder' : 'not a folder'}; give a folder laid out as <dir>/<class>/<image>`);
  }
  const ds: Dataset = { root: absRoot, classes: [], samples: [], emptyClasses: [], ignored: [] };
  const realRoot = await fsp.realpath(absRoot);
  const { folders, rootImages } = await listRoot(absRoot);
  for (const rel of rootImages) ds.ignored.push({ path: rel, reason: ROOT_IMAGE });
  for (const name of folders) {
    if (isSameOrInside(realRoot, await fsp.realpath(path.join(absRoot, name)))) {
      ds.ignored.push({ path: name, reason: LOOP });
      continue;
    }
    const files: string[] = [];
    await walk({ root: realRoot, visited: new Set(), ignored: ds.ignored }, path.join(absRoot, name), name, files);
    const unique = await dropAliases(absRoot, files.sort(byCodeUnits));
    ds.classes.push(name);
    if (unique.length === 0) ds.emptyClasses.push(name);
    for (const relPath of unique) ds.samples.push({ file: path.join(absRoot, relPath), relPath, label: name });
  }
  return ds;
}

/** First-level folders (class candidates, links included) and image files lying in the root. */
async function listRoot(absRoot: string): Promise<{ folders: string[]; rootImages: string[] }> {
  const folders: string[] = [];
  const rootImages: string[] = [];
  for (const entry of await fsp.readdir(absRoot, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const stat = entry.isSymbolicLink() ? await statOrNull(path.join(absRoot, entry.name)) : entry;
    if (stat?.isDirectory()) folders.push(entry.name);
    else if (isImageFile(entry.name)) rootImages.push(entry.name);
  }
  return { folders: folders.sort(byCodeUnits), rootImages: rootImages.sort(byCodeUnits) };
}

/** State of the walk of one class: real paths of the root and of the folders walked, and what was passed over. */
interface Walker {
  root: string;
  visited: Set<string>;
  ignored: Dataset['ignored'];
}

const ROOT_IMAGE = 'image directly in the dataset folder, not in a class folder';
const LOOP = 'link to a folder that contains it (a loop); not followed';

/**
 * Collects image paths under `dir` (relative to the dataset root as `relDir/...`). Links to
 * folders are followed, except a loop (a link to the dataset root, to one of its ancestors, or
 * to a folder containing the link: reported) and an alias of a folder this class already walked
 * (silent). Each class is walked on its own, so the same linked folder can label images of
 * several classes, as the folders say.
 */
async function walk(walker: Walker, dir: string, relDir: string, out: string[]): Promise<void> {
  walker.visited.add(await fsp.realpath(dir));
  const entries = await fg('**/*', { cwd: dir, onlyFiles: false, followSymbolicLinks: false, dot: false, objectMode: true });
  for (const entry of entries) {
    const rel = `${relDir}/${entry.path}`;
    const full = path.join(dir, entry.path);
    if (entry.dirent.isFile()) {
      if (isImageFile(entry.name)) out.push(rel);
    } else if (entry.dirent.isSymbolicLink()) {
      const target = await statOrNull(full);
      if (target?.isDirectory()) {
        const skip = await linkSkipReason(full, walker);
        if (skip === null) await walk(walker, full, rel, out);
        else if (skip) walker.ignored.push({ path: rel, reason: skip });
      } else if (isImageFile(entry.name)) {
        if (target?.isFile()) out.push(rel);
        else walker.ignored.push({ path: rel, reason: 'broken symbolic link' });
      }
    }
  }
}

/** Why a linked folder is not walked: a loop (reported), an alias ('', silent), or null to walk it. */
async function linkSkipReason(link: string, walker: Walker): Promise<string | null> {
  const target = await fsp.realpath(link);
  const location = await fsp.realpath(path.dirname(link));
  if (isSameOrInside(walker.root, target) || isSameOrInside(location, target)) return LOOP;
  if ([...walker.visited].some((v) => isSameOrInside(target, v))) return '';
  return null;
}

/** Whether `inner` is `outer` or lies inside it. */
function isSameOrInside(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);
}

/**
 * Keeps the first path of each real file within a class, so links to the same file count once.
 * The same file linked into two classes stays in both: that is how the folders label it.
 */
async function dropAliases(absRoot: string, relPaths: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const rel of relPaths) {
    const real = await fsp.realpath(path.join(absRoot, rel)).catch(() => null);
    if (real === null || seen.has(real)) continue;
    seen.add(real);
    kept.push(rel);
  }
  return kept;
}

/** Options of {@link assertUsableDataset}. */
export interface UsableDatasetOptions {
  /** Class folders with images needed: 2 where a classifier will be trained on it. */
  minClasses?: number;
  /** Refuse empty class folders instead of warning about them. */
  strict?: boolean;
  /** Where the warning about empty class folders goes (none: not warned). */
  logger?: Logger;
}

/**
 * Checks that a dataset can be used: it has images and enough classes with images. An empty
 * class folder among others is a warning (its class gets no rows), an error in strict mode.
 */
export function assertUsableDataset(ds: Dataset, { minClasses = 1, strict = false, logger }: UsableDatasetOptions = {}): void {
  if (ds.samples.length === 0) {
    if (ds.ignored.some((i) => i.reason === ROOT_IMAGE)) {
      throw new CnnfeatError(`${ds.root}: images lie directly in the folder; move them into one sub-folder per class (<dir>/<class>/<image>)`);
    }
    throw new CnnfeatError(
      `${ds.root}: no images found; expected <dir>/<class>/<image> with extensions ${IMAGE_EXTENSIONS.join(', ')}`,
    );
  }
  const empty = `${ds.root}: class folder(s) with no images: ${ds.emptyClasses.join(', ')}`;
  if (ds.emptyClasses.length > 0 && strict) throw new CnnfeatError(`${empty}; add images or remove the folder (strict mode)`);
  const withImages = ds.classes.length - ds.emptyClasses.length;
  if (withImages < minClasses) {
    throw new CnnfeatError(`${ds.root}: found ${withImages} class folder(s) with images; a classifier needs at least ${minClasses}`);
  }
  if (ds.emptyClasses.length > 0) logger?.warn(`${empty}; they are recorded as classes without rows`);
}

/**
 * Expands files and folders given on a command line into image files: a file is kept as given,
 * a folder contributes every image under it (sorted, links followed once).
 */
export async function collectImages(inputs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const abs = path.resolve(input);
    const stat = await statOrNull(abs);
    if (!stat) throw new CnnfeatError(`${input}: no such file or folder`);
    if (stat.isFile()) {
      files.push(abs);
      continue;
    }
    const found: string[] = [];
    await walk({ root: await fsp.realpath(abs), visited: new Set(), ignored: [] }, abs, '.', found);
    files.push(...found.sort(byCodeUnits).map((rel) => path.join(abs, rel)));
  }
  return files;
}
