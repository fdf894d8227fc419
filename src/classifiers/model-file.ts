import { CnnfeatError } from '../errors.js';
import { diffSettings, settingsFromDisk, type ExtractSettings, type FeatureSignature } from '../features/schema.js';
import path from 'node:path';
import { exists, isDirectory, readJson, writeJsonAtomic } from '../util/fs.js';
import { TOOL_STAMP } from '../version.js';
import { MODEL_TYPES, type ClassifierModel } from './kinds.js';
import type { ModelSelection } from './selection/types.js';

/** A trained classifier as saved by `cnnfeat train` (`model.json`). */
export interface ClassifierFile {
  format: 'cnnfeat-classifier';
  /** 2 since the linear classifiers (`model`); version 1 files hold an svc model under `svm`. */
  formatVersion: 1 | 2;
  tool: { name: 'cnnfeat'; version: string };
  createdAt: string;
  /** How the training features were made; eval/predict inputs must match the signature part. */
  features: ExtractSettings;
  classes: string[];
  /** `seconds`: the whole training (selection + refit); `fitSeconds`: the final fit alone. */
  trainedOn: { dir: string; rows: number; perClass: Record<string, number>; seconds: number; fitSeconds?: number };
  /** The cross-validation table that chose the settings, when they were chosen. */
  selection?: ModelSelection;
  /** The trained model: svc (`type: 'svm'`), linear-svm or logistic (`type: 'linear'`). */
  model: ClassifierModel;
}

/** Builds the file object of a freshly trained classifier. */
export function classifierFile(
  model: ClassifierModel,
  features: ExtractSettings,
  trainedOn: ClassifierFile['trainedOn'],
  selection?: ModelSelection,
): ClassifierFile {
  return {
    format: 'cnnfeat-classifier',
    formatVersion: 2,
    tool: TOOL_STAMP,
    createdAt: new Date().toISOString(),
    features,
    classes: model.classes,
    trainedOn,
    ...(selection ? { selection } : {}),
    model,
  };
}

/** Writes a classifier file atomically. */
export async function saveClassifier(file: string, classifier: ClassifierFile): Promise<void> {
  await writeJsonAtomic(file, classifier);
}

/** Reads a classifier file, failing clearly on anything else. */
export async function loadClassifier(file: string): Promise<ClassifierFile> {
  const hint = 'give a model.json written by `cnnfeat train`';
  if (await isDirectory(file)) {
    const featureDir = await exists(path.join(file, 'manifest.json'));
    throw new CnnfeatError(
      `${file}: is ${featureDir ? 'a feature directory' : 'a folder'}, not a classifier file; the classifier file (a model.json written by \`cnnfeat train\`) comes first${featureDir ? ', the feature directory second' : ''}`,
    );
  }
  const parsed = await readJson<(Partial<ClassifierFile> & { svm?: ClassifierModel }) | null>(file, hint).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CnnfeatError(`${file}: no such file; ${hint}`);
    throw err;
  });
  if (parsed?.features) parsed.features = settingsFromDisk(parsed.features);
  if (parsed && parsed.model === undefined && parsed.svm !== undefined) {
    parsed.model = parsed.svm; // version 1
    delete parsed.svm;
  }
  const valid =
    parsed?.format === 'cnnfeat-classifier' &&
    (MODEL_TYPES as readonly unknown[]).includes(parsed.model?.type) &&
    Array.isArray(parsed.classes) &&
    typeof parsed.features === 'object' &&
    SIGNATURE_KEYS.every((k) => parsed.features?.[k] !== undefined);
  if (!valid) throw new CnnfeatError(`${file}: not a cnnfeat classifier; ${hint}`);
  return parsed as ClassifierFile;
}

/**
 * What decides the numbers in a feature row. The model id or path is only a record: the
 * weights digest identifies the network wherever its files live.
 */
const SIGNATURE_KEYS: (keyof FeatureSignature)[] = ['weightsDigest', 'layer', 'pooled', 'pool', 'preprocess', 'dim'];

/**
 * Fails when features were made differently from the classifier's training features
 * (other weights, layer, preprocessing or dimension): its scores would be meaningless.
 */
export function assertSameFeatures(
  classifier: ClassifierFile,
  settings: FeatureSignature,
  source: string,
  fix = 're-extract with the same --model/--layer/--preprocess',
): void {
  const differ = diffSettings(settings, classifier.features, SIGNATURE_KEYS);
  if (differ.length === 0) return;
  const detail = differ.map((k) => `${k} ${String(settings[k])} ≠ ${String(classifier.features[k])}`).join(', ');
  throw new CnnfeatError(
    `${source}: features were extracted differently from the classifier's training features (${detail}); ${fix}`,
  );
}
