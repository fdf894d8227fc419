import { CnnfeatError } from '../errors.js';
import { TRAIN_DEFAULTS, trainModel, type TrainHooks, type TrainingPlan, type TrainOptions } from '../classifiers/classifier.js';
import { classifierFile, type ClassifierFile } from '../classifiers/model-file.js';
import { gridPoints } from '../classifiers/selection/grid.js';
import { describeValidation } from '../classifiers/selection/table.js';
import type { FeatureSet } from '../features/reader.js';
import type { Logger, Progress } from '../util/log.js';

export type { TrainOptions } from '../classifiers/classifier.js';

/** Progress callbacks of {@link trainClassifier}. */
export type TrainProgress = Pick<TrainHooks, 'onProgress' | 'warn' | 'onStart'>;

/** Class index of each row, for the class list of the feature set. */
export function labelIndices(labels: string[], classes: string[], source: string): number[] {
  const index = new Map(classes.map((c, i) => [c, i]));
  return labels.map((label) => {
    const i = index.get(label);
    if (i === undefined) {
      throw new CnnfeatError(
        `${source}: class "${label}" is not among the classifier's classes (${classes.join(', ')}); train with images of it, or leave that folder out`,
      );
    }
    return i;
  });
}

/** One group per image: the rows of one path (an image and its mirror, `augment: 'flip'`) share a group id. */
export function imageGroups(paths: readonly string[]): number[] {
  const ids = new Map<string, number>();
  return paths.map((p) => {
    let id = ids.get(p);
    if (id === undefined) ids.set(p, (id = ids.size));
    return id;
  });
}

/**
 * Trains a classifier on a feature set and wraps it with the provenance of its features.
 * Without options this is what `cnnfeat train` does: `auto` chooses the classifier and its
 * settings by cross-validation on this feature set only, then refits on all of it (see
 * `planTraining` in classifiers/plan.ts for the policy). Mirrored rows (`augment: 'flip'`)
 * stay with their image in every fold and held-out split.
 */
export async function trainClassifier(set: FeatureSet, options: TrainOptions = {}, progress: TrainProgress = {}): Promise<ClassifierFile> {
  const classes = set.manifest.classes.filter((c) => (set.manifest.counts.perClass[c] ?? 0) > 0);
  if (classes.length < 2) {
    throw new CnnfeatError(`${set.dir}: a classifier needs at least 2 classes with images, found ${classes.length} (${classes.join(', ') || 'none'})`);
  }
  const labels = labelIndices(set.labels, classes, set.dir);
  const started = Date.now();
  const grouped = options.groups ?? (set.views ? imageGroups(set.paths) : undefined);
  const { model, selection, fitSeconds } = await trainModel(set.X, set.rows, set.dim, labels, classes, { ...options, groups: grouped }, { ...progress, source: `${set.dir}/features.npy` });
  const perClass = Object.fromEntries(classes.map((c) => [c, set.manifest.counts.perClass[c] ?? 0]));
  return classifierFile(model, set.manifest.settings, { dir: set.dir, rows: set.rows, perClass, seconds: (Date.now() - started) / 1000, fitSeconds }, selection);
}

/** One line describing how training will go, for the log. */
export function describeTraining(plan: TrainingPlan, options: TrainOptions, rows: number): string {
  if (plan.kind === 'fit') {
    const s = plan.spec;
    const what = s.classifier === 'svc' ? `svc (${s.svm.kernel}, C=${s.svm.C}, scale=${s.svm.scale})` : `${s.classifier} (C=${s.C}, scale=${s.scale})`;
    return `Training ${what} on ${rows} rows…`;
  }
  const svc = plan.svcGrid ? gridPoints(plan.svcGrid).length : 0;
  const lin = plan.linearGrid ? plan.linearGrid.classifier.length * plan.linearGrid.C.length * plan.linearGrid.scale.length : 0;
  const kinds = [...(plan.svcGrid ? ['svc'] : []), ...(plan.linearGrid?.classifier ?? [])].join(', ');
  const { split } = plan;
  const how = describeValidation({
    method: plan.halving ? 'halving' : split.method,
    halving: plan.halving,
    folds: split.method === 'holdout' ? 1 : split.folds,
    valSize: split.method === 'holdout' ? split.valSize : undefined,
  });
  return `Choosing among ${svc + lin} settings (${kinds}) by ${how} (${options.scoring ?? TRAIN_DEFAULTS.scoring}) on ${rows} training rows, then refitting…`;
}

/** Words of each training phase in progress output. */
const PHASES = { svc: 'svc selection', linear: 'linear selection', fit: 'final fit' } as const;

/**
 * {@link trainClassifier} with a log line, warnings, and progress on stderr per phase (a bar on a
 * terminal, else a line now and then naming what runs: fold, classifier, C, iteration).
 */
export async function trainWithLogger(set: FeatureSet, options: TrainOptions, logger: Logger): Promise<ClassifierFile> {
  let bar: Progress | undefined;
  let phase = '';
  try {
    return await trainClassifier(set, options, {
      onStart: (plan) => logger.info(describeTraining(plan, options, set.rows)),
      warn: (message) => logger.warn(message),
      onProgress: ({ phase: now, done, total, detail }) => {
        if (now !== phase) {
          bar?.stop();
          phase = now;
          bar = logger.progress(total, PHASES[now], 'fits');
        }
        bar!.update(done, { detail });
      },
    });
  } finally {
    bar?.stop();
  }
}
