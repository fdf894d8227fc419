/**
 * Per-class scores of a one-vs-one SVM (libsvm's C-SVC) from its k(k-1)/2 pairwise decision
 * values, as scikit-learn's `SVC.decision_function`: the single decision value for two classes
 * ({@link binaryScores}), the `decision_function_shape='ovr'` aggregate (votes plus a bounded sum
 * of margins) for more ({@link ovrScores}).
 * Indices here are libsvm's internal class order.
 */

/**
 * libsvm's votes: pair (i, j) votes i when its decision value is > 0, else j.
 * @param dec pairwise decision values in libsvm's order (i < j)
 * @param k number of classes
 */
export function pairwiseVotes(dec: ArrayLike<number>, k: number): number[] {
  const votes = new Array<number>(k).fill(0);
  let p = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) votes[dec[p++]! > 0 ? i : j]!++;
  }
  return votes;
}

/** The class libsvm predicts from votes: the most votes, ties to the first class in its order. */
export function voteWinner(votes: number[]): number {
  let best = 0;
  for (let c = 1; c < votes.length; c++) if (votes[c]! > votes[best]!) best = c;
  return best;
}

/** scikit-learn's monotone map of a summed margin into (-1/3, 1/3): less than half a vote, so it only breaks ties. */
function boundedMargin(x: number): number {
  return x / (3 * (Math.abs(x) + 1));
}

/**
 * Scores of two classes from their one decision value: the value for the first class, its
 * negative for the second (scikit-learn's binary `decision_function` is the second's).
 */
export function binaryScores(decision: number): [number, number] {
  return [decision, -decision];
}

/**
 * scikit-learn's `decision_function_shape='ovr'` aggregate (`_ovr_decision_function`): per class,
 * votes + s/(3(|s|+1)), s the sum of its signed margins over its k-1 pairs, so classes with equal
 * votes rank by margin and no margin outweighs a vote. libsvm breaks a vote tie towards the
 * first class instead; when that class `winner` would not rank first, its score is set to
 * votes + 1/3 (above every class with as many votes, below one more vote), so the top-ranked
 * class is always the prediction.
 * @param dec pairwise decision values in libsvm's order (i < j)
 * @param k number of classes
 * @param winner the class libsvm predicted (its internal index)
 */
export function ovrScores(dec: ArrayLike<number>, k: number, winner: number): number[] {
  const margin = new Array<number>(k).fill(0);
  let p = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      margin[i]! += dec[p]!;
      margin[j]! -= dec[p++]!;
    }
  }
  const votes = pairwiseVotes(dec, k);
  const scores = votes.map((v, c) => v + boundedMargin(margin[c]!));
  if (scores.some((s, c) => c !== winner && s > scores[winner]!)) scores[winner] = votes[winner]! + 1 / 3;
  return scores;
}
