import path from 'node:path';
import { isDirectory } from '../util/fs.js';
import type { Dataset, Sample } from './scan.js';
import { seededRandom } from '../util/random.js';

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
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const nTest = members.length < 2 ? 0 : Math.min(Math.max(Math.round(members.length * testSize), 1), members.length - 1);
    const testIdx = new Set(order.slice(0, nTest));
    members.forEach((s, i) => (testIdx.has(i) ? test : train).push(s));
  }
  return { train: { ...ds, samples: train, emptyClasses: [] }, test: { ...ds, samples: test, emptyClasses: [], ignored: [] } };
}
