/**
 * Percentiles and summary statistics over raw samples, computed the way numpy
 * does by default (`np.percentile(x, q)` with `method='linear'`, Hyndman & Fan
 * type 7) so that anyone can check a figure with one line of Python.
 * No histograms, no sketches: the samples are few enough (one per request or
 * one per chunk gap) to sort once.
 */

/**
 * Summary of one set of samples. Every statistic is `null` when there are no
 * samples (`count === 0`), so the object stays plain JSON (no NaN).
 */
export interface Distribution {
  count: number;
  mean: number | null;
  /** Population standard deviation (ddof = 0), as `numpy.std` computes by default. */
  stddev: number | null;
  min: number | null;
  max: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  p99_9: number | null;
}

/** The distribution of no samples. */
export function emptyDistribution(): Distribution {
  return {
    count: 0,
    mean: null,
    stddev: null,
    min: null,
    max: null,
    p50: null,
    p90: null,
    p95: null,
    p99: null,
    p99_9: null,
  };
}

/**
 * The `percent`-th percentile (0..100) of samples already sorted ascending,
 * by linear interpolation between the two nearest ranks. Matches numpy bit for
 * bit: virtual index `(n − 1) · percent/100`, and numpy's two-sided lerp
 * (interpolating from the upper neighbour when the weight is ≥ 0.5).
 * Returns NaN for an empty array.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, percent: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (!(percent >= 0 && percent <= 100))
    throw new RangeError(`percentile must be in [0, 100], got ${percent}`);
  // Dividing here (not passing 0.99) reproduces numpy.percentile's own q/100 rounding.
  const virtualIndex = (n - 1) * (percent / 100);
  if (virtualIndex >= n - 1) return sorted[n - 1] as number;
  const lower = Math.floor(virtualIndex);
  const gamma = virtualIndex - lower;
  const a = sorted[lower] as number;
  const b = sorted[lower + 1] as number;
  const diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/**
 * Count, mean, population stddev, min, max and p50/p90/p95/p99/p99.9 of the
 * samples. Sorts one copy once; the input is not modified.
 * Samples must be finite numbers.
 */
export function describe(samples: Float64Array | readonly number[]): Distribution {
  const n = samples.length;
  if (n === 0) return emptyDistribution();
  // Float64Array sorts numerically (no comparator, no string conversion).
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] as number;
  const mean = sum / n;
  // Two-pass variance: stable where the one-pass sum-of-squares formula cancels.
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = (sorted[i] as number) - mean;
    squares += d * d;
  }
  return {
    count: n,
    mean,
    stddev: Math.sqrt(squares / n),
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p95: percentileOfSorted(sorted, 95),
    p99: percentileOfSorted(sorted, 99),
    p99_9: percentileOfSorted(sorted, 99.9),
  };
}
