/**
 * The exact permutation distribution of the Mann-Whitney U statistic when the
 * pooled sample has ties: conditional on the pooled values, each of the
 * C(n+m, n) ways to label n of them as x is equally likely, and U is computed
 * from midranks (U = R_x − n(n+1)/2, R_x the x's rank sum). Midranks are
 * multiples of ½, so the distribution is kept over 2U (an integer) and built by
 * a subset-sum recursion over the doubled ranks: count[k][s] = the number of
 * k-subsets of the first i pooled values whose doubled ranks sum to s.
 */

/**
 * Largest `tiedExactCost(n, m)` for which `'auto'` methods use this exact
 * distribution: 10 million, so n = m ≤ 35 (a few ms; n = m = 20 takes well
 * under one).
 */
export const TIED_EXACT_MAX_COST = 10_000_000;

/**
 * Work of the recursion, in additions (an upper bound): (n+m) pooled values, each
 * updating min(n,m) subset sizes over sums up to min(n,m)·(2(n+m) − min(n,m) + 1).
 */
export function tiedExactCost(n: number, m: number): number {
  const small = Math.min(n, m);
  const pooled = n + m;
  return pooled * small * small * (2 * pooled - small + 1);
}

/** Tail probabilities of 2U at an observed value. */
export interface DoubledUTails {
  /** P(2U ≤ observed). */
  lower: number;
  /** P(2U ≥ observed). */
  upper: number;
}

/**
 * P(2U ≤ twoU) and P(2U ≥ twoU) under the permutation null, for U of the first
 * `n` labels (x) against the other `doubledRanks.length − n` (y).
 * `doubledRanks` are the pooled sample's midranks times two (integers ≥ 2),
 * in any order; `twoU` is the observed 2U of x.
 */
export function tiedUTails(doubledRanks: ArrayLike<number>, n: number, twoU: number): DoubledUTails {
  const total = doubledRanks.length;
  const m = total - n;
  if (!(n >= 1 && m >= 1)) throw new RangeError(`tiedUTails: need n ≥ 1 and m ≥ 1, got ${n} and ${m}`);
  // Count subsets for the smaller group; U of y is n·m − U of x.
  const size = Math.min(n, m);
  const counts = subsetSumCounts(doubledRanks, size);
  // 2U = S − size·(size + 1) for the group counted, S its doubled rank sum.
  const offset = size * (size + 1);
  let below = 0;
  let above = 0;
  let all = 0;
  for (let s = 0; s < counts.length; s++) {
    const c = counts[s] as number;
    if (c === 0) continue;
    const twoUx = size === n ? s - offset : 2 * n * m - (s - offset);
    all += c;
    if (twoUx <= twoU) below += c;
    if (twoUx >= twoU) above += c;
  }
  return { lower: below / all, upper: above / all };
}

/** counts[s] = number of `size`-subsets of `values` (positive integers) summing to s. */
function subsetSumCounts(values: ArrayLike<number>, size: number): Float64Array {
  const sorted = Array.from(values).sort((a, b) => b - a);
  let maxSum = 0;
  for (let i = 0; i < size; i++) maxSum += sorted[i] as number;
  const dp: Float64Array[] = Array.from({ length: size + 1 }, () => new Float64Array(maxSum + 1));
  (dp[0] as Float64Array)[0] = 1;
  // reach[k] = the largest sum a k-subset of the values seen so far can have.
  const reach = new Array<number>(size + 1).fill(0);
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i] as number;
    for (let k = Math.min(i + 1, size); k >= 1; k--) {
      const from = dp[k - 1] as Float64Array;
      const to = dp[k] as Float64Array;
      const top = Math.min(reach[k - 1] as number, maxSum - v);
      for (let s = 0; s <= top; s++) {
        const c = from[s] as number;
        if (c !== 0) to[s + v] = (to[s + v] as number) + c;
      }
      reach[k] = Math.max(reach[k] as number, Math.min((reach[k - 1] as number) + v, maxSum));
    }
  }
  return dp[size] as Float64Array;
}
