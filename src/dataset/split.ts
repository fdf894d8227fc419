import path from 'node:path';
import { isDirectory } from '../util/fs.js';
import type { Dataset, Sample } from './scan.js';
import { seededRandom, shuffleInPlace } from '../util/random.js';
import { CnnfeatError } from '../errors.js';

/** Folder names recognised as a given train/test split, in order of preference for the test side. */
const TEST_FOLDERS = ['test', 'val', 'valid', 'validation'];

/**
 * Finds a given split: `<dir>/train` and one of `<dir>/test|val|valid|validation`.
 * @returns the two folders, or null when the dataset is not split.
 */
export async function findGivenSplit(dir: string): Promise<{ train: string; test: string } | null> {
  const train = path.join(dir, 'train');
  if (!(await isDirectory(train))) return null;
  for (const name of TEST_FOLDERS) {
    const test = path.join(dir, name);
    if (await isDirectory(test)) return { train, test };
  }
  return null;
}

/**
 * Refuses a scanned folder whose top folders are the sides of a given split (`train/` and
 * `test|val|valid|validation/` with class folders inside) rather than classes: extracted as it
 * is, its rows would be labelled by split.
 * @param shownAs the folder as the user gave it, for the message
 * @throws CnnfeatError naming the folder, unless `topFoldersAreClasses` says the top folders are classes
 */
export function assertNotSplitRoot(ds: Dataset, { topFoldersAreClasses = false } = {}, shownAs = ds.root): void {
  if (topFoldersAreClasses || !ds.classes.includes('train')) return;
  const testSide = TEST_FOLDERS.find((name) => ds.classes.includes(name));
  if (testSide === undefined || !holdsClassFolders(ds, 'train')) return;
  throw new CnnfeatError(
    `${shownAs}: is a train/${testSide} split, not a folder of classes; extract one side (cnnfeat extract ${path.join(shownAs, 'train')}) or all of it (cnnfeat run ${shownAs}), or say that train and ${testSide} are the classes (--top-folders-are-classes)`,
  );
}

/** Whether the images of class `label` lie in sub-folders of it (`train/ants/1.jpg`), as in a split side. */
function holdsClassFolders(ds: Dataset, label: string): boolean {
  return ds.samples.some((s) => s.label === label && s.relPath.split('/').length > 2);
}

/**
 * Splits a dataset into train and test subsets per class (stratified), deterministically for a
 * seed. Each class with at least two images keeps at least one on each side; a class with a
 * single image keeps it for training.
 */
export function stratifiedSplit(ds: Dataset, testSize: number, seed: number): { train: Dataset; test: Dataset } {
  const random = seededRandom(seed);
  const train: Sample[] = [];
  const test: Sample[] = [];
  for (const label of ds.classes) {
    const members = ds.samples.filter((s) => s.label === label);
    const order = members.map((_, i) => i);
    shuffleInPlace(order, random);
    const nTest = members.length < 2 ? 0 : Math.min(Math.max(Math.round(members.length * testSize), 1), members.length - 1);
    const testIdx = new Set(order.slice(0, nTest));
    members.forEach((s, i) => (testIdx.has(i) ? test : train).push(s));
  }
  return { train: { ...ds, samples: train, emptyClasses: [] }, test: { ...ds, samples: test, emptyClasses: [], ignored: [] } };
}
