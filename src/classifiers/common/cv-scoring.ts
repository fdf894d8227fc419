/** What model selection maximises on held-out rows, for every classifier. */
import { computeMetrics } from '../../metrics/metrics.js';

/** What cross-validation scores: balanced accuracy (mean per-class recall) or plain accuracy. */
export const CV_SCORINGS = ['balanced_accuracy', 'accuracy'] as const;
export type CvScoring = (typeof CV_SCORINGS)[number];
/** The default: balanced accuracy, which a skewed class cannot inflate. */
export const DEFAULT_SCORING: CvScoring = 'balanced_accuracy';

/** Score of predictions on held-out rows. */
export function heldOutScore(truth: number[], predicted: number[], nClasses: number, scoring: CvScoring): number {
  const metrics = computeMetrics(truth, predicted, Array.from({ length: nClasses }, (_, c) => String(c)));
  return scoring === 'accuracy' ? metrics.accuracy : metrics.balancedAccuracy;
}
