import { promises as fsp } from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';
import { CnnfeatError } from '../errors.js';
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
  const walker: Walker = { root: realRoot, visited: new Set([realRoot]), ignored: ds.ignored };
  const { folders, rootImages } = await listRoot(absRoot);
  for (const rel of rootImages) ds.ignored.push({ path: rel, reason: 'image directly in the dataset folder, not in a class folder' });
  for (const name of folders) {
    const files: string[] = [];
    await walk(walker, path.join(absRoot, name), name, files, 'class');
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

/** State of one scan: real paths of the root and of the folders walked, and what was passed over. */
interface Walker {
  root: string;
  visited: Set<string>;
  ignored: Dataset['ignored'];
}

const LOOP = 'link to a folder that contains the dataset (a loop); not followed';

/**
 * Collects image paths under `dir` (relative to the dataset root as `relDir/...`).
 * A class folder is walked even when it links to another class (the folders give its images
 * both labels). A folder linked from inside a class is walked only when it neither lies inside
 * nor contains a folder already walked, so links never loop or repeat a file.
 */
async function walk(walker: Walker, dir: string, relDir: string, out: string[], kind: 'class' | 'link'): Promise<void> {
  const real = await fsp.realpath(dir);
  const skip = kind === 'class' ? (isSameOrInside(walker.root, real) ? LOOP : null) : linkSkipReason(real, walker.visited);
  if (skip !== null) {
    if (skip) walker.ignored.push({ path: relDir, reason: skip });
    return;
  }
  walker.visited.add(real);
  const entries = await fg('**/*', { cwd: dir, onlyFiles: false, followSymbolicLinks: false, dot: false, objectMode: true });
  for (const entry of entries) {
    const rel = `${relDir}/${entry.path}`;
    if (entry.dirent.isFile()) {
      if (isImageFile(entry.name)) out.push(rel);
    } else if (entry.dirent.isSymbolicLink()) {
      const target = await statOrNull(path.join(dir, entry.path));
      if (target?.isDirectory()) await walk(walker, path.join(dir, entry.path), rel, out, 'link');
      else if (isImageFile(entry.name)) {
        if (target?.isFile()) out.push(rel);
        else walker.ignored.push({ path: rel, reason: 'broken symbolic link' });
      }
    }
  }
}

/** Why a linked folder is not walked: a loop (reported), an alias of a walked folder ('', silent), or null to walk it. */
function linkSkipReason(real: string, visited: Set<string>): string | null {
  const walked = [...visited];
  if (walked.some((v) => isSameOrInside(v, real))) return LOOP;
  if (walked.some((v) => isSameOrInside(real, v))) return '';
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

/**
 * Checks that a dataset can be used: it has images, and no class folder is empty.
 * @param minClasses 2 where a classifier will be trained on it.
 */
export function assertUsableDataset(ds: Dataset, minClasses = 1): void {
  if (ds.samples.length === 0) {
    throw new CnnfeatError(
      `${ds.root}: no images found; expected <dir>/<class>/<image> with extensions ${IMAGE_EXTENSIONS.join(', ')}`,
    );
  }
  if (ds.emptyClasses.length > 0) {
    throw new CnnfeatError(
      `${ds.root}: class folder(s) with no images: ${ds.emptyClasses.join(', ')}; add images or remove the folder`,
    );
  }
  if (ds.classes.length < minClasses) {
    throw new CnnfeatError(`${ds.root}: found ${ds.classes.length} class folder(s); a classifier needs at least ${minClasses}`);
  }
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
    const real = await fsp.realpath(abs);
    await walk({ root: real, visited: new Set(), ignored: [] }, abs, '.', found, 'link');
    files.push(...found.sort(byCodeUnits).map((rel) => path.join(abs, rel)));
  }
  return files;
}
