/** Ranking and confusion metrics for the eval and train scripts. */

/** ROC AUC by the rank-sum (Mann-Whitney) statistic, with ties counted as half. */
export function rocAuc(scores: number[], positive: boolean[]): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let neg = 0;
  let rankSum = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (positive[idx[k]!]) {
        pos++;
        rankSum += avgRank;
      } else neg++;
    }
    i = j + 1;
  }
  if (!pos || !neg) return Number.NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Smallest threshold whose rate of negatives at or above it is at most `rate`. */
export function thresholdForRate(negScores: number[], rate: number): number {
  const s = [...negScores].sort((a, b) => b - a);
  const k = Math.floor(rate * s.length);
  // Holding everything strictly above the (k+1)-th highest negative keeps at most k negatives.
  return (s[k] ?? 0) + 1e-9;
}
