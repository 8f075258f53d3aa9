/**
 * The Hodges-Lehmann estimate of the shift between two samples and Moses's
 * distribution-free confidence bounds for it (Hollander, Wolfe & Chicken 2014,
 * §4.2–4.3). The shift Δ is how much larger x tends to be than y (for a gate:
 * candidate − baseline). Estimate and bounds are order statistics of the n·m
 * pairwise differences x_i − y_j; which ones follows from the null
 * distribution of the Mann-Whitney U statistic, so a bound excludes exactly the
 * shifts that the one-sided U test rejects.
 */
import { normalQuantile, normalSf } from './normal.js';
import { EXACT_MAX_PAIRS, uNullDistribution } from './u-distribution.js';

/** The estimate of the shift x − y with a two-sided confidence interval. */
export interface ShiftInterval {
  /** Median of the n·m pairwise differences x_i − y_j (the mean of the two middle ones when n·m is even). */
  estimate: number;
  /** k-th smallest difference; −Infinity when the samples are too small for a finite bound (k = 0). */
  lower: number;
  /** k-th largest difference; Infinity when k = 0. */
  upper: number;
  /** Coverage the order statistics actually give, 1 − 2·P(U ≤ k − 1) (≥ the confidence asked; 1 when k = 0). */
  confidence_actual: number;
  /** Rank k of the order statistics used (1-based); 0 when no finite interval exists. */
  k: number;
  /** Whether k came from the exact null distribution of U or its normal approximation. */
  method: 'exact' | 'normal';
}

/** The estimate of the shift x − y with a one-sided confidence bound. */
export interface ShiftBound {
  /** Median of the n·m pairwise differences x_i − y_j. */
  estimate: number;
  /** The bound; ±Infinity (the side's own) when the samples are too small for a finite one (k = 0). */
  bound: number;
  /** Coverage actually given, 1 − P(U ≤ k − 1) (1 when k = 0). */
  confidence_actual: number;
  /** Rank k (1-based) of the order statistic used, from the side of the bound; 0 when none. */
  k: number;
  method: 'exact' | 'normal';
}

/** The rank of the order statistic bounding a shift, with the tail probability it leaves. */
export interface ShiftRank {
  /**
   * C_α + 1, where C_α is the largest c with P(U ≤ c) ≤ the tail probability
   * asked (0 when even P(U ≤ 0) exceeds it).
   */
  k: number;
  /** P(U ≤ k − 1): what the bound actually leaves out (0 when k = 0). */
  tail: number;
  method: 'exact' | 'normal';
}

/**
 * The rank k such that the k-th smallest pairwise difference is a lower bound
 * (and the k-th largest an upper bound) for the shift at one-sided level
 * `tail`. Exact from the null distribution of U when n·m ≤ EXACT_MAX_PAIRS;
 * otherwise the normal approximation with continuity correction,
 * k = ⌊n·m/2 + ½ − z·√(n·m·(n+m+1)/12)⌋, z the upper `tail` normal quantile.
 */
export function shiftRank(n: number, m: number, tail: number): ShiftRank {
  if (!(tail > 0 && tail < 0.5))
    throw new RangeError(`shiftRank: tail probability must be in (0, 0.5), got ${tail}`);
  if (n * m <= EXACT_MAX_PAIRS) {
    const dist = uNullDistribution(n, m);
    const c = dist.criticalValue(tail);
    return { k: c + 1, tail: c >= 0 ? dist.cdf(c) : 0, method: 'exact' };
  }
  const mean = (n * m) / 2;
  const sigma = Math.sqrt((n * m * (n + m + 1)) / 12);
  // Largest c with Φ((c + ½ − mean)/σ) ≤ tail.
  const c = Math.floor(mean - 0.5 + normalQuantile(tail) * sigma);
  const k = Math.max(0, c + 1);
  return { k, tail: k > 0 ? normalSf((mean - (k - 1) - 0.5) / sigma) : 0, method: 'normal' };
}

/** All n·m differences x_i − y_j, sorted ascending. */
export function pairwiseDifferences(x: readonly number[], y: readonly number[]): Float64Array {
  const out = new Float64Array(x.length * y.length);
  let k = 0;
  for (const a of x) for (const b of y) out[k++] = a - b;
  return out.sort();
}

function medianOfSorted(sorted: Float64Array): number {
  const L = sorted.length;
  const lo = sorted[Math.floor((L - 1) / 2)] as number;
  const hi = sorted[Math.floor(L / 2)] as number;
  return (lo + hi) / 2;
}

function checkInputs(x: readonly number[], y: readonly number[], confidence: number): void {
  if (x.length === 0 || y.length === 0) throw new RangeError('Hodges-Lehmann: both samples need values');
  for (const v of [...x, ...y])
    if (!Number.isFinite(v)) throw new RangeError(`Hodges-Lehmann: non-finite value (${v})`);
  if (!(confidence > 0.5 && confidence < 1))
    throw new RangeError(`Hodges-Lehmann: confidence must be in (0.5, 1), got ${confidence}`);
}

/**
 * Hodges-Lehmann estimate of the shift x − y (median of all pairwise
 * differences) with Moses's two-sided distribution-free interval at
 * `confidence`: [d_(k), d_(n·m+1−k)] of the sorted differences d, where
 * k = C + 1 and C is the largest c with P(U ≤ c) ≤ (1 − confidence)/2 —
 * the critical value of the two-sided Mann-Whitney test. Valid for continuous
 * distributions that differ by a shift; cost O(n·m·log(n·m)).
 */
export function hodgesLehmannShift(
  x: readonly number[],
  y: readonly number[],
  confidence = 0.99,
): ShiftInterval {
  checkInputs(x, y, confidence);
  const d = pairwiseDifferences(x, y);
  const { k, tail, method } = shiftRank(x.length, y.length, (1 - confidence) / 2);
  return {
    estimate: medianOfSorted(d),
    lower: k > 0 ? (d[k - 1] as number) : -Infinity,
    upper: k > 0 ? (d[d.length - k] as number) : Infinity,
    confidence_actual: 1 - 2 * tail,
    k,
    method,
  };
}

/**
 * One-sided upper confidence bound for the shift x − y at `confidence`:
 * d_(n·m+1−k), the k-th largest pairwise difference, with k = C + 1 and C the
 * largest c with P(U ≤ c) ≤ 1 − confidence. For a lower-is-better metric with
 * x = candidate and y = baseline, the regression is at most this bound.
 */
export function oneSidedUpperBound(
  x: readonly number[],
  y: readonly number[],
  confidence = 0.99,
): ShiftBound {
  checkInputs(x, y, confidence);
  const d = pairwiseDifferences(x, y);
  const { k, tail, method } = shiftRank(x.length, y.length, 1 - confidence);
  return {
    estimate: medianOfSorted(d),
    bound: k > 0 ? (d[d.length - k] as number) : Infinity,
    confidence_actual: 1 - tail,
    k,
    method,
  };
}

/**
 * One-sided lower confidence bound for the shift x − y at `confidence`: d_(k),
 * the k-th smallest pairwise difference (k as in oneSidedUpperBound). For a
 * higher-is-better metric with x = candidate, y = baseline, the candidate is
 * at least this much better.
 */
export function oneSidedLowerBound(
  x: readonly number[],
  y: readonly number[],
  confidence = 0.99,
): ShiftBound {
  checkInputs(x, y, confidence);
  const d = pairwiseDifferences(x, y);
  const { k, tail, method } = shiftRank(x.length, y.length, 1 - confidence);
  return {
    estimate: medianOfSorted(d),
    bound: k > 0 ? (d[k - 1] as number) : -Infinity,
    confidence_actual: 1 - tail,
    k,
    method,
  };
}

/**
 * The smallest number of samples per group (n = m) for which a finite
 * one-sided bound at `confidence` exists: the least n with
 * 1/C(2n, n) ≤ 1 − confidence (n = 5 at 0.99, 4 at 0.975; n = 5 also lets the
 * one-sided exact U test reach p ≤ 0.01).
 */
export function minSamplesForShiftBound(confidence: number): number {
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`minSamplesForShiftBound: confidence must be in (0, 1), got ${confidence}`);
  let orderings = 2; // C(2, 1)
  let n = 1;
  while (1 / orderings > 1 - confidence) {
    n++;
    orderings = (orderings * (2 * n) * (2 * n - 1)) / (n * n);
  }
  return n;
}
