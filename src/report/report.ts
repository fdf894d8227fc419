/**
 * Building and writing the HTML evaluation report (`eval --report`, `run`).
 */
import path from 'node:path';
import sharp from 'sharp';
import type { ClassifierFile } from '../classifiers/model-file.js';
import { describeModel, scoreKindOf, scoreMeaning } from '../classifiers/classifier.js';
import type { FeatureSet } from '../features/reader.js';
import type { Evaluation } from '../metrics/metrics.js';
import { writeFileAtomic } from '../util/fs.js';
import { renderReport, type GalleryItem, type ReportData } from './html.js';

/** Most misclassified images shown in the gallery (the page stays a few MB at most). */
export const MAX_GALLERY = 60;
/** Thumbnail edge in pixels (shown at 112 CSS px, sharp on high-DPI screens). */
const THUMBNAIL_SIZE = 160;

/**
 * A small JPEG thumbnail of an image file as a data URI, or undefined when it cannot be
 * read or decoded (the image moved since extraction).
 */
export async function thumbnailDataUri(file: string, size = THUMBNAIL_SIZE): Promise<string | undefined> {
  try {
    const jpeg = await sharp(file, { pages: 1 })
      .rotate()
      .resize(size, size, { fit: 'cover' })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 78 })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return undefined;
  }
}

/**
 * Mistakes in gallery order: every true class's most confident mistake, then every class's
 * second, and so on, so that a capped gallery still shows all classes.
 */
export function galleryOrder<T extends { label: string; score: number }>(wrong: T[]): T[] {
  const byClass = new Map<string, T[]>();
  for (const p of [...wrong].sort((a, b) => b.score - a.score)) {
    const items = byClass.get(p.label);
    if (items) items.push(p);
    else byClass.set(p.label, [p]);
  }
  const rankInClass = new Map<T, number>();
  for (const items of byClass.values()) items.forEach((p, i) => rankInClass.set(p, i));
  return [...wrong].sort((a, b) => rankInClass.get(a)! - rankInClass.get(b)! || b.score - a.score || a.label.localeCompare(b.label));
}

/** Options of {@link buildReport}. */
export interface ReportOptions {
  title?: string;
  /** Gallery cap (default {@link MAX_GALLERY}). */
  maxGallery?: number;
}

/**
 * Gathers a report's content: headline metrics, the classifier's CV table, and thumbnails of
 * the misclassified rows of the evaluated feature set (see {@link galleryOrder}).
 * @param classifier the evaluated classifier
 * @param set the feature set it was evaluated on (its manifest's image root locates the images)
 * @param evaluation the result of `evaluateClassifier(classifier, set)`
 */
export async function buildReport(classifier: ClassifierFile, set: FeatureSet, evaluation: Evaluation, opts: ReportOptions = {}): Promise<ReportData> {
  const wrong = evaluation.predictions.filter((p) => p.predicted !== p.label);
  const shown = galleryOrder(wrong).slice(0, opts.maxGallery ?? MAX_GALLERY);
  const gallery: GalleryItem[] = [];
  for (const p of shown) {
    gallery.push({ ...p, thumbnail: await thumbnailDataUri(path.resolve(set.manifest.imageRoot, p.path)) });
  }
  const f = classifier.features;
  return {
    title: opts.title ?? `cnnfeat report: ${path.basename(path.resolve(set.manifest.imageRoot))}`,
    facts: [
      ['test images', set.manifest.imageRoot],
      ['features', `${f.model} @ ${f.layer}, ${f.dim}-d, preprocess ${f.preprocess}`],
      ['classifier', describeModel(classifier.model)],
      ['trained on', `${classifier.trainedOn.rows} rows in ${classifier.trainedOn.seconds.toFixed(1)} s`],
    ],
    metrics: evaluation.metrics,
    selection: classifier.selection,
    gallery,
    misclassified: wrong.length,
    scoreLabel: `score: ${scoreMeaning(classifier.model)}, higher is more confident`,
    scoreKind: scoreKindOf(classifier.model),
    createdAt: new Date().toISOString(),
  };
}

/**
 * Writes the self-contained HTML report (atomically).
 * @returns the report content written
 */
export async function writeReport(file: string, classifier: ClassifierFile, set: FeatureSet, evaluation: Evaluation, opts: ReportOptions = {}): Promise<ReportData> {
  const data = await buildReport(classifier, set, evaluation, opts);
  await writeFileAtomic(file, renderReport(data));
  return data;
}
