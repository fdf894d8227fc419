import { CnnfeatError } from '../errors.js';
import type { ExtractSettings, FeatureSignature } from '../features/store.js';
import { readJson, writeJsonAtomic } from '../util/fs.js';
import { TOOL_VERSION } from '../version.js';
import type { SvmModel } from './svm.js';

/** A trained classifier as saved by `cnnfeat train` (`model.json`). */
export interface ClassifierFile {
  format: 'cnnfeat-classifier';
  formatVersion: 1;
  tool: { name: 'cnnfeat'; version: string };
  createdAt: string;
  /** How the training features were made; eval/predict inputs must match the signature part. */
  features: ExtractSettings;
  classes: string[];
  trainedOn: { dir: string; rows: number; perClass: Record<string, number>; seconds: number };
  svm: SvmModel;
}

/** Builds the file object of a freshly trained classifier. */
export function classifierFile(svm: SvmModel, features: ExtractSettings, trainedOn: ClassifierFile['trainedOn']): ClassifierFile {
  return {
    format: 'cnnfeat-classifier',
    formatVersion: 1,
    tool: { name: 'cnnfeat', version: TOOL_VERSION },
    createdAt: new Date().toISOString(),
    features,
    classes: svm.classes,
    trainedOn,
    svm,
  };
}

/** Writes a classifier file atomically. */
export async function saveClassifier(file: string, classifier: ClassifierFile): Promise<void> {
  await writeJsonAtomic(file, classifier);
}

/** Reads a classifier file, failing clearly on anything else. */
export async function loadClassifier(file: string): Promise<ClassifierFile> {
  let parsed: ClassifierFile;
  try {
    parsed = await readJson<ClassifierFile>(file);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CnnfeatError(`${file}: ${missing ? 'no such file' : 'not valid JSON'}; give a model.json written by \`cnnfeat train\``);
  }
  if (parsed.format !== 'cnnfeat-classifier' || parsed.svm?.type !== 'svm') {
    throw new CnnfeatError(`${file}: not a cnnfeat classifier; give a model.json written by \`cnnfeat train\``);
  }
  return parsed;
}

const SIGNATURE_KEYS: (keyof FeatureSignature)[] = ['model', 'weightsDigest', 'layer', 'pooled', 'preprocess', 'dim'];

/**
 * Fails when features were made differently from the classifier's training features
 * (another model, weights, layer, preprocessing or dimension): its scores would be meaningless.
 */
export function assertSameFeatures(classifier: ClassifierFile, settings: FeatureSignature, source: string): void {
  const differ = SIGNATURE_KEYS.filter((k) => classifier.features[k] !== settings[k]);
  if (differ.length === 0) return;
  const detail = differ.map((k) => `${k} ${String(settings[k])} ≠ ${String(classifier.features[k])}`).join(', ');
  throw new CnnfeatError(
    `${source}: features were extracted differently from the classifier's training features (${detail}); re-extract with the same --model/--layer/--preprocess`,
  );
}
