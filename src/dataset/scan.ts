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
    throw new CnnfeatError(`${root}: not a directory; give a folder laid out as <dir>/<class>/<image>`);
  }
  const visitedDirs = new Set([await fsp.realpath(absRoot)]);
  const classes: string[] = [];
  const samples: Sample[] = [];
  const emptyClasses: string[] = [];
  for (const name of await listClassFolders(absRoot)) {
    const files: string[] = [];
    const isLink = (await fsp.lstat(path.join(absRoot, name))).isSymbolicLink();
    await walk(path.join(absRoot, name), name, visitedDirs, files, isLink);
    const unique = await dropAliases(absRoot, files.sort(byCodeUnits));
    classes.push(name);
    if (unique.length === 0) emptyClasses.push(name);
    for (const relPath of unique) samples.push({ file: path.join(absRoot, relPath), relPath, label: name });
  }
  return { root: absRoot, classes, samples, emptyClasses };
}

async function listClassFolders(absRoot: string): Promise<string[]> {
  const entries = await fsp.readdir(absRoot, { withFileTypes: true });
  const folders: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory()) folders.push(entry.name);
    else if (entry.isSymbolicLink()) {
      if (await isDirectory(path.join(absRoot, entry.name))) folders.push(entry.name);
    }
  }
  return folders.sort(byCodeUnits);
}

/**
 * Collects image paths under `dir` (relative to the dataset root as `relDir/...`). A folder
 * reached through a link is walked only when it lies outside every folder walked so far.
 */
async function walk(dir: string, relDir: string, visitedDirs: Set<string>, out: string[], viaLink = false): Promise<void> {
  const real = await fsp.realpath(dir).catch(() => null);
  if (real === null || (viaLink && isInsideVisited(real, visitedDirs))) return;
  visitedDirs.add(real);
  const entries = await fg('**/*', {
    cwd: dir,
    onlyFiles: false,
    followSymbolicLinks: false,
    dot: false,
    objectMode: true,
  });
  for (const entry of entries) {
    const rel = `${relDir}/${entry.path}`;
    if (entry.dirent.isFile()) {
      if (isImageFile(entry.name)) out.push(rel);
    } else if (entry.dirent.isSymbolicLink()) {
      const target = await statOrNull(path.join(dir, entry.path));
      if (target?.isFile() && isImageFile(entry.name)) out.push(rel);
      else if (target?.isDirectory()) await walk(path.join(dir, entry.path), rel, visitedDirs, out, true);
    }
  }
}

/** A linked folder is skipped when it is, or lies inside, a folder already walked. */
function isInsideVisited(real: string, visitedDirs: Set<string>): boolean {
  for (let p = real; ; p = path.dirname(p)) {
    if (visitedDirs.has(p)) return true;
    if (path.dirname(p) === p) return false;
  }
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
    await walk(abs, '.', new Set(), found);
    files.push(...found.sort(byCodeUnits).map((rel) => path.join(abs, rel)));
  }
  return files;
}
