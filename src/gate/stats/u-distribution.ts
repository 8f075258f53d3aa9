/**
 * The exact null distribution of the Mann-Whitney U statistic for samples of
 * sizes n and m without ties: every one of the C(n+m, n) orderings of the pooled
 * sample is equally likely, and U counts the pairs (x_i, y_j) with x_i > y_j.
 * Counts come from the recursion of Mann & Whitney (1947, eq. 2):
 *   f(n, m, u) = f(n − 1, m, u − m) + f(n, m − 1, u)
 * (the largest pooled value is either an x, beating all m y's, or a y). Only
 * additions of positive counts, so the tail probabilities keep full relative
 * precision even where the counts outgrow 2^53 (they stay exact integers below it).
 */

/**
 * Largest n·m for which the exact distribution is computed on request of
 * `'auto'` methods: the recursion costs about (n·m)²/4 additions, 1.6 million
 * (a few ms) at n = m = 50.
 */
export const EXACT_MAX_PAIRS = 2500;

/** P(U = u), P(U ≤ u), P(U ≥ u) and critical values of the exact null distribution of U. */
export class UNullDistribution {
  /** Number of orderings of the pooled sample: C(n + m, n). */
  readonly total: number;

  constructor(
    readonly n: number,
    readonly m: number,
    /** counts[u] = number of orderings with U = u, u = 0..n·m. */
    private readonly counts: Float64Array,
  ) {
    let total = 0;
    for (const c of counts) total += c;
    this.total = total;
  }

  /** Number of orderings with U = u (0 outside 0..n·m). */
  count(u: number): number {
    return Number.isInteger(u) && u >= 0 && u < this.counts.length ? (this.counts[u] as number) : 0;
  }

  /** P(U = u). */
  pmf(u: number): number {
    return this.count(u) / this.total;
  }

  /** P(U ≤ u), summed from the lower end. */
  cdf(u: number): number {
    const top = Math.min(Math.floor(u), this.counts.length - 1);
    let sum = 0;
    for (let k = 0; k <= top; k++) sum += this.counts[k] as number;
    return sum / this.total;
  }

  /** P(U ≥ u), summed from the upper end (the distribution is symmetric about n·m/2). */
  sf(u: number): number {
    return this.cdf(this.n * this.m - Math.ceil(u));
  }

  /**
   * The lower critical value: the largest c with P(U ≤ c) ≤ alpha, or −1 when
   * even P(U ≤ 0) = 1/C(n+m, n) exceeds alpha. A one-sided test at level alpha
   * rejects for U ≤ c; the two-sided tables list c for alpha/2.
   */
  criticalValue(alpha: number): number {
    let sum = 0;
    let c = -1;
    for (let k = 0; k < this.counts.length; k++) {
      sum += this.counts[k] as number;
      if (sum / this.total > alpha) break;
      c = k;
    }
    return c;
  }
}

const cache = new Map<string, UNullDistribution>();
const CACHE_LIMIT = 64;

/**
 * The exact null distribution of U for sizes n and m (n, m ≥ 1 integers). The
 * distribution for (n, m) is that for (m, n): the object returned has its `n`
 * the smaller size. Memoised per pair of sizes: a gate asks for the same sizes for every metric.
 * The cost grows as (n·m)²/4; callers choose between this and the normal
 * approximation with `EXACT_MAX_PAIRS`.
 */
export function uNullDistribution(n: number, m: number): UNullDistribution {
  if (!(Number.isSafeInteger(n) && Number.isSafeInteger(m) && n >= 1 && m >= 1))
    throw new RangeError(`U distribution needs sample sizes ≥ 1, got n=${n}, m=${m}`);
  // The distribution of U for (n, m) equals that for (m, n): recurse over the smaller size.
  const small = Math.min(n, m);
  const large = Math.max(n, m);
  const key = `${small},${large}`;
  let cached = cache.get(key);
  if (!cached) {
    cached = new UNullDistribution(small, large, uCounts(small, large));
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, cached);
  }
  return cached;
}

function uCounts(small: number, large: number): Float64Array {
  // Row i holds f(i, j, ·) for j = 0..large back to back: f(i, j, u) at offset(i, j) + u,
  // offset(i, j) = Σ_{j' < j} (i·j' + 1). One buffer per i keeps allocation out of the inner loop.
  const offset = (i: number, j: number): number => j + (i * j * (j - 1)) / 2;
  let previous = new Float64Array(offset(0, large + 1)).fill(1); // f(0, j) = [1]
  for (let i = 1; i <= small; i++) {
    const row = new Float64Array(offset(i, large + 1));
    row[0] = 1; // f(i, 0) = [1]
    for (let j = 1; j <= large; j++) {
      const at = offset(i, j);
      // f(i, j − 1, u): the largest pooled value is a y.
      row.copyWithin(at, offset(i, j - 1), at);
      // f(i − 1, j, u − j): the largest pooled value is an x, above all j y's.
      const from = offset(i - 1, j);
      const length = (i - 1) * j + 1;
      for (let u = 0; u < length; u++)
        row[at + j + u] = (row[at + j + u] as number) + (previous[from + u] as number);
    }
    previous = row;
  }
  return previous.slice(offset(small, large), offset(small, large + 1));
}
