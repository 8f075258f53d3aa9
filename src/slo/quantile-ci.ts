/**
 * A distribution-free confidence interval for a quantile, from order statistics: the
 * number of samples at or below the true q-quantile is Binomial(n, q), so the interval
 * [x_(l), x_(u)] of two sorted samples covers it with probability P(l ≤ B < u) whatever
 * the distribution (continuous). No normal approximation: a p99 from 200 requests has no
 * upper bound at 95%, and this says so instead of inventing one.
 */

/** The interval, its ranks (1-based, into the sorted samples) and its exact coverage. */
export interface QuantileInterval {
  /** The confidence asked for (0.95). */
  level: number;
  /** Exact coverage of the ranks chosen (≥ level when both bounds exist). */
  coverage: number;
  /** x_(lower_rank), or null when even the smallest sample is not low enough (too few samples). */
  lower: number | null;
  upper: number | null;
  lower_rank: number | null;
  upper_rank: number | null;
  /**
   * The fewest samples that give this quantile an upper bound at this level
   * (q^n ≤ (1 − level) / 2): 368 for p99 at 95%.
   */
  samples_for_upper: number;
}

/**
 * log P(B = k) for every k of Binomial(n, q), by the ratio of neighbours (no factorials,
 * so n of a million is fine; terms below e^-745 read as 0 and do not matter).
 */
function binomialLogPmf(n: number, q: number): Float64Array {
  const log = new Float64Array(n + 1);
  const logOdds = Math.log(q) - Math.log1p(-q);
  log[0] = n * Math.log1p(-q);
  for (let k = 0; k < n; k++) log[k + 1] = (log[k] as number) + Math.log((n - k) / (k + 1)) + logOdds;
  return log;
}

/** P(B ≤ k) for k = 0..n. */
export function binomialCdf(n: number, q: number): Float64Array {
  const log = binomialLogPmf(n, q);
  let peak = -Infinity;
  for (const value of log) peak = Math.max(peak, value);
  const cdf = new Float64Array(n + 1);
  let sum = 0;
  let total = 0;
  for (let k = 0; k <= n; k++) total += Math.exp((log[k] as number) - peak);
  for (let k = 0; k <= n; k++) {
    sum += Math.exp((log[k] as number) - peak);
    cdf[k] = Math.min(1, sum / total);
  }
  return cdf;
}

/**
 * The two-sided interval for the `quantile` (0..1 exclusive) of the samples, already
 * sorted ascending, at `level` (e.g. 0.95): the largest l with P(B ≤ l − 1) ≤ α/2 and the
 * smallest u with P(B ≥ u) ≤ α/2, each bound null when no rank satisfies it.
 */
export function quantileInterval(
  sorted: ArrayLike<number>,
  quantile: number,
  level = 0.95,
): QuantileInterval {
  if (!(quantile > 0 && quantile < 1)) throw new RangeError(`quantile must be in (0, 1), got ${quantile}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`confidence level must be in (0, 1), got ${level}`);
  const n = sorted.length;
  const tail = (1 - level) / 2;
  const samples_for_upper = Math.ceil(Math.log(tail) / Math.log(quantile));
  if (n === 0) {
    return {
      level,
      coverage: 0,
      lower: null,
      upper: null,
      lower_rank: null,
      upper_rank: null,
      samples_for_upper,
    };
  }
  const cdf = binomialCdf(n, quantile);
  // Lower rank l (1-based): P(B ≤ l − 1) = cdf[l − 1] ≤ tail, as large as possible.
  let lowerRank: number | null = null;
  for (let l = 1; l <= n && (cdf[l - 1] as number) <= tail; l++) lowerRank = l;
  // Upper rank u: P(B ≥ u) = 1 − cdf[u − 1] ≤ tail, as small as possible.
  let upperRank: number | null = null;
  for (let u = n; u >= 1 && 1 - (cdf[u - 1] as number) <= tail; u--) upperRank = u;
  const below = lowerRank === null ? 0 : (cdf[lowerRank - 1] as number);
  const above = upperRank === null ? 0 : 1 - (cdf[upperRank - 1] as number);
  return {
    level,
    coverage: lowerRank === null || upperRank === null ? 0 : 1 - below - above,
    lower: lowerRank === null ? null : (sorted[lowerRank - 1] as number),
    upper: upperRank === null ? null : (sorted[upperRank - 1] as number),
    lower_rank: lowerRank,
    upper_rank: upperRank,
    samples_for_upper,
  };
}
