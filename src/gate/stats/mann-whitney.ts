/**
 * The Mann-Whitney U test (Wilcoxon rank-sum test) of two independent samples,
 * with scipy.stats.mannwhitneyu's conventions: U is the statistic of x, and
 * 'greater' is the alternative that x tends to be larger than y.
 * Exact p-values wherever they are cheap (the exact null distribution without
 * ties; the exact permutation distribution over midranks with ties), the normal
 * approximation with tie and continuity corrections otherwise.
 */
import { normalSf } from './normal.js';
import { EXACT_MAX_PAIRS, uNullDistribution } from './u-distribution.js';
import { TIED_EXACT_MAX_COST, tiedExactCost, tiedUTails } from './u-permutation.js';

/** The alternative hypothesis about x relative to y. */
export type Alternative = 'greater' | 'less' | 'two-sided';

/**
 * How the p-value is computed. 'auto' picks 'exact' when it is cheap (see
 * `mannWhitneyU`), else 'normal'. Forcing 'exact' on large samples is allowed
 * but costs about (n·m)²/4 operations without ties, `tiedExactCost(n, m)` with ties.
 */
export type MannWhitneyMethod = 'auto' | 'exact' | 'normal';

export interface MannWhitneyResult {
  /** U statistic of x: the number of pairs with x_i > y_j, plus ½ for each pair with x_i = y_j. */
  u: number;
  /** p-value of the alternative asked for. */
  p: number;
  /**
   * 'exact': from the exact null distribution of U (no ties) or the exact
   * permutation distribution of U over the midranks (ties); 'normal': the
   * normal approximation with tie and continuity corrections.
   */
  method: 'exact' | 'normal';
  /** Whether the pooled sample has tied values (midranks were used). */
  ties: boolean;
}

/** Midranks of the pooled sample, doubled so they are integers, and the sizes of its tie groups. */
interface PooledRanks {
  /** doubled[i] = 2 × midrank of pooled[i], where pooled = x then y. */
  doubled: Int32Array;
  /** Sizes of the groups of equal values (only groups of 2 or more). */
  tieSizes: number[];
}

function pooledRanks(x: readonly number[], y: readonly number[]): PooledRanks {
  const pooled = [...x, ...y];
  const order = pooled.map((_, i) => i).sort((a, b) => (pooled[a] as number) - (pooled[b] as number));
  const doubled = new Int32Array(pooled.length);
  const tieSizes: number[] = [];
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    const value = pooled[order[start] as number];
    while (end < order.length && pooled[order[end] as number] === value) end++;
    // Positions start+1 .. end (1-based) share the midrank (start + 1 + end) / 2.
    for (let k = start; k < end; k++) doubled[order[k] as number] = start + 1 + end;
    if (end - start > 1) tieSizes.push(end - start);
    start = end;
  }
  return { doubled, tieSizes };
}

function checkSample(name: string, sample: readonly number[]): void {
  if (sample.length === 0) throw new RangeError(`mannWhitneyU: ${name} is empty`);
  for (const v of sample)
    if (!Number.isFinite(v)) throw new RangeError(`mannWhitneyU: ${name} holds a non-finite value (${v})`);
}

/**
 * The Mann-Whitney U test of x against y.
 *
 * With method 'auto' (the default) the p-value is:
 * - exact, from the null distribution of U (Mann & Whitney 1947), when the
 *   pooled sample has no ties and n·m ≤ EXACT_MAX_PAIRS (2,500, e.g. n = m = 50);
 * - exact, from the permutation distribution of U over the midranks, when there
 *   are ties and tiedExactCost(n, m) ≤ TIED_EXACT_MAX_COST (e.g. n = m ≤ 35);
 * - otherwise from the normal approximation with tie correction and continuity
 *   correction, as scipy.stats.mannwhitneyu(method='asymptotic', use_continuity=True).
 *
 * 'greater': p = P(U ≥ u); 'less': p = P(U ≤ u); 'two-sided': twice the
 * smaller of the two, capped at 1 (the null distribution is symmetric).
 * When every pooled value is equal the normal approximation has no spread and
 * p is 1 (no evidence either way), as the exact permutation p-value is.
 */
export function mannWhitneyU(
  x: readonly number[],
  y: readonly number[],
  alternative: Alternative,
  options: { method?: MannWhitneyMethod } = {},
): MannWhitneyResult {
  checkSample('x', x);
  checkSample('y', y);
  const n = x.length;
  const m = y.length;
  const { doubled, tieSizes } = pooledRanks(x, y);
  let doubledRankSum = 0;
  for (let i = 0; i < n; i++) doubledRankSum += doubled[i] as number;
  const twoU = doubledRankSum - n * (n + 1);
  const u = twoU / 2;
  const ties = tieSizes.length > 0;

  const requested = options.method ?? 'auto';
  const exact =
    requested === 'exact' ||
    (requested === 'auto' && (ties ? tiedExactCost(n, m) <= TIED_EXACT_MAX_COST : n * m <= EXACT_MAX_PAIRS));

  if (exact) {
    let lower: number;
    let upper: number;
    if (ties) {
      ({ lower, upper } = tiedUTails(doubled, n, twoU));
    } else {
      const dist = uNullDistribution(n, m);
      lower = dist.cdf(u);
      upper = dist.sf(u);
    }
    const p = alternative === 'greater' ? upper : alternative === 'less' ? lower : 2 * Math.min(lower, upper);
    return { u, p: Math.min(1, p), method: 'exact', ties };
  }

  const N = n + m;
  let tieTerm = 0;
  for (const t of tieSizes) tieTerm += t * t * t - t;
  const sigma = Math.sqrt(((n * m) / 12) * (N + 1 - tieTerm / (N * (N - 1))));
  if (!(sigma > 0)) return { u, p: 1, method: 'normal', ties };
  const mean = (n * m) / 2;
  // The continuity correction moves U half a step towards the mean.
  const distance =
    alternative === 'greater' ? u - mean : alternative === 'less' ? mean - u : Math.abs(u - mean);
  const tail = normalSf((distance - 0.5) / sigma);
  const p = alternative === 'two-sided' ? 2 * tail : tail;
  return { u, p: Math.min(1, p), method: 'normal', ties };
}
