/**
 * A model selection plan run: the rows split once (k folds or a holdout), svc's grid and the
 * linear grid scored on the same split in one fit pool (the linear grid by successive halving
 * above the k-fold size), every result ranked, the record returned.
 */
import { CnnfeatError, optionName } from '../../errors.js';
import type { ClassWeight } from '../common/class-weights.js';
import type { CvScoring } from '../common/cv-scoring.js';
import { sharedMatrix } from '../linalg/matrix.js';
import { FitPool } from '../parallel/fit-pool.js';
import { halvingRound2 } from './halving.js';
import { selectLinear, type LinearSelectionOptions } from './linear-search.js';
import { halvingRanks, ranks } from './ranking.js';
import { stratifiedFolds, stratifiedHoldout, subsampleHoldout, trainRowsPerFold } from './splits.js';
import { selectModel } from './svc-search.js';
import type { CvResult, ModelSelection, SelectionPlan } from './types.js';

/** What every fit of a selection shares. */
export interface SelectionSettings {
  seed: number;
  scoring: CvScoring;
  classWeight: ClassWeight;
  /** Fit threads. */
  threads: number;
  /** The linear classifiers' stopping tolerance and iteration cap (default: theirs). */
  tol?: number;
  maxIter?: number;
  /** Group id of each row: folds and held-out splits keep a group's rows (an image and its mirror) together. */
  groups?: readonly number[];
}

/** Progress of a selection: which search, fits done of total, what runs now. */
export type SelectionProgress = (search: 'svc' | 'linear', done: number, total: number, detail: string) => void;

/**
 * Runs a model selection plan on the training rows.
 * @returns the record, whose `best` is the first result of rank 1
 * @throws CnnfeatError (exit 2) on an empty grid
 */
export async function runSelection(
  X: Float32Array,
  n: number,
  d: number,
  labels: number[],
  K: number,
  plan: SelectionPlan,
  settings: SelectionSettings,
  onProgress?: SelectionProgress,
): Promise<ModelSelection> {
  const started = performance.now();
  const { seed, scoring, classWeight, groups } = settings;
  const { split } = plan;
  const fold = split.method === 'holdout' ? stratifiedHoldout(labels, split.valSize, seed, groups) : stratifiedFolds(labels, split.folds, seed, groups);
  const evaluate = split.method === 'holdout' ? [1] : Array.from({ length: split.folds }, (_, f) => f);
  const pool = FitPool.create(settings.threads);
  const results: Omit<CvResult, 'rank'>[] = [];
  let linearRecord;
  try {
    if (plan.svcGrid) {
      const svc = await selectModel(X, n, d, labels, K, {
        grid: plan.svcGrid,
        folds: evaluate.length,
        seed,
        scoring,
        classWeight,
        fold,
        evaluate,
        pool,
        onProgress: (done, total) => onProgress?.('svc', done, total, `svc fits`),
      });
      results.push(...svc.results.map(({ rank: _rank, ...r }) => ({ ...r, params: { classifier: 'svc' as const, ...r.params } })));
    }
    if (plan.linearGrid) {
      const shared = sharedMatrix(X);
      const solver = { tol: settings.tol, maxIter: settings.maxIter };
      const options: Omit<LinearSelectionOptions, 'grid' | 'fold'> = { scoring, classWeight, seed, solver: { 'linear-svm': solver, logistic: solver }, pool, evaluate };
      const round1Fold = plan.halving && split.method === 'holdout' ? subsampleHoldout(labels, plan.halving.rows, split.valSize, seed, groups) : fold;
      const linear = await selectLinear(shared, n, d, labels, K, {
        ...options,
        grid: plan.linearGrid,
        fold: round1Fold,
        onProgress: (done, total, detail) => onProgress?.('linear', done, total, `${plan.halving ? 'round 1: ' : ''}${detail}`),
      });
      linearRecord = linear.record;
      const round1 = linear.results.map((r) => ({ ...r, trainRows: trainRowsPerFold(round1Fold, evaluate), ...(plan.halving ? { round: 1 as const } : {}) }));
      results.push(...round1);
      if (plan.halving) {
        const round2 = await halvingRound2(shared, n, d, labels, K, round1, plan.halving.keep, { ...options, fold }, (done, total, detail) => onProgress?.('linear', done, total, detail));
        results.push(...round2.map((r) => ({ ...r, trainRows: trainRowsPerFold(fold, evaluate) })));
      }
    }
  } finally {
    await pool.close();
  }
  if (results.length === 0) throw new CnnfeatError(`${optionName('grid')}: the grid is empty`);
  const rank = plan.halving ? halvingRanks(results) : ranks(results.map((r) => r.mean));
  return {
    method: plan.halving ? 'halving' : split.method,
    ...(plan.halving ? { halving: plan.halving } : {}),
    folds: evaluate.length,
    ...(split.method === 'holdout' ? { valSize: split.valSize } : {}),
    seed,
    scoring,
    classWeight,
    ...(plan.svcGrid ? { grid: plan.svcGrid } : {}),
    ...(linearRecord ? { linearGrid: linearRecord } : {}),
    results: results.map((r, i) => ({ ...r, rank: rank[i]! })),
    best: rank.indexOf(1),
    seconds: (performance.now() - started) / 1000,
  };
}
