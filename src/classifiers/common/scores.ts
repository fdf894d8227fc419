/**
 * What the scores of a prediction are: probabilities (logistic, svc trained with
 * `--probability`) or decision values (linear-svm, svc without), and how they are printed.
 * Either kind ranks the classes: the higher, the more the classifier leans to the class.
 */

/** Kinds of prediction scores. */
export const SCORE_KINDS = ['probability', 'decision'] as const;
export type ScoreKind = (typeof SCORE_KINDS)[number];

/** Predictions of any classifier, one entry per row. */
export interface Prediction {
  /** Predicted class indices into the model's classes. */
  labels: number[];
  /** Score of each predicted class: its entry in `classScores`, the highest of them. */
  scores: number[];
  /** Per row, a score for every class of the model (see each classifier for what they are). */
  classScores: number[][];
  /** What the scores are. */
  scoreKind: ScoreKind;
}

/** The kind in words, for headers and captions: `probability` or `decision value`. */
export function scoreKindName(kind: ScoreKind): string {
  return kind === 'probability' ? 'probability' : 'decision value';
}

/**
 * A score as printed: 3 decimals; decision values below 0.1 in size with 3 significant digits
 * instead, so that small margins (linear-svm at small C) do not all read 0.000.
 */
export function formatScore(score: number, kind: ScoreKind): string {
  if (kind === 'probability' || score === 0 || Math.abs(score) >= 0.1) return score.toFixed(3);
  return score.toPrecision(3);
}
