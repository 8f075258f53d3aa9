/**
 * Confidence intervals for a percentile of one repeat's samples (e.g. the p99
 * TTFT of one run) by the percentile bootstrap, seeded so the same samples and
 * seed give the same interval anywhere. The percentile itself is numpy's
 * linear one (metrics/percentiles.ts), so the estimate equals the summary's.
 */
import { percentileOfSorted } from '../../metrics/percentiles.js';
import { Prng } from '../../base/prng.js';

/** A bootstrap interval for the q-quantile of the samples. */
export interface PercentileInterval {
  /** The q-quantile of the samples (numpy's linear percentile at 100·q). */
  estimate: number;
  /** Percentile-bootstrap bounds: the (1 − confidence)/2 and (1 + confidence)/2 percentiles of the resampled estimates. */
  lower: number;
  upper: number;
  confidence: number;
  resamples: number;
  /** Number of samples. */
  n: number;
  /** minSamplesForPercentile(q, confidence): below it the interval is weak evidence. */
  min_samples: number;
  /** n < min_samples: no distribution-free interval exists, and the bootstrap's is too narrow to trust. */
  weak: boolean;
}

export interface BootstrapOptions {
  /** Two-sided confidence of the interval (default 0.95). */
  confidence?: number;
  /** Number of bootstrap resamples (default 2,000). */
  resamples?: number;
  /** Seed of the resampling generator (a safe integer; default 0). */
  seed?: number;
}

/**
 * 100·q for percentileOfSorted, rounded to 12 significant digits so that a
 * fraction gives exactly the percent one would write (0.29·100 is
 * 28.999999999999996 in binary floating point, not 29).
 */
function percentOf(q: number): number {
  return Number((q * 100).toPrecision(12));
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of `samples` with a percentile-bootstrap
 * confidence interval: `resamples` times, draw n samples with replacement,
 * take the same q-quantile, and report the equal-tailed percentiles of those
 * estimates. Reproducible: the resampling generator is seeded (xoshiro128**).
 * A resample is drawn through the two order statistics the percentile reads
 * (see resampledOrderStatistics) in O(1), so 2,000 resamples take a few ms
 * whatever n; the one sort of the samples dominates.
 */
export function bootstrapPercentileCI(
  samples: ArrayLike<number>,
  q: number,
  options: BootstrapOptions = {},
): PercentileInterval {
  const { confidence = 0.95, resamples = 2000, seed = 0 } = options;
  const n = samples.length;
  if (n === 0) throw new RangeError('bootstrapPercentileCI: no samples');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`bootstrapPercentileCI: q must be in [0, 1], got ${q}`);
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`bootstrapPercentileCI: confidence must be in (0, 1), got ${confidence}`);
  if (!(Number.isSafeInteger(resamples) && resamples >= 1))
    throw new RangeError(`bootstrapPercentileCI: resamples must be a positive integer, got ${resamples}`);
  if (!Number.isSafeInteger(seed))
    throw new RangeError(`bootstrapPercentileCI: seed must be a safe integer, got ${seed}`);
  const sorted = Float64Array.from(samples).sort();
  for (const v of sorted)
    if (!Number.isFinite(v)) throw new RangeError(`bootstrapPercentileCI: non-finite sample (${v})`);
  const percent = percentOf(q);

  // Only the two order statistics around the percentile's virtual index are read
  // (numpy's linear interpolation), so each resample draws just those two.
  const virtualIndex = (n - 1) * (percent / 100);
  const below = Math.min(Math.floor(virtualIndex), n - 1);
  const rng = new Prng(seed >>> 0, Math.floor(seed / 0x100000000) >>> 0);
  const estimates = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    const [at, next] = resampledOrderStatistics(n, below, rng);
    // Hand percentileOfSorted a view holding only the two ranks it reads, so the
    // interpolation is numpy's to the last bit.
    const view: ArrayLike<number> = {
      length: n,
      [below]: sorted[at] as number,
      [below + 1]: sorted[next] as number,
    };
    estimates[r] = percentileOfSorted(view, percent);
  }
  estimates.sort();
  const min_samples = minSamplesForPercentile(q, confidence);
  return {
    estimate: percentileOfSorted(sorted, percent),
    lower: percentileOfSorted(estimates, percentOf((1 - confidence) / 2)),
    upper: percentileOfSorted(estimates, percentOf((1 + confidence) / 2)),
    confidence,
    resamples,
    n,
    min_samples,
    weak: n < min_samples,
  };
}

/**
 * Indices (into the sorted samples) of the order statistics at 0-based ranks
 * `rank` and `rank + 1` of one bootstrap resample of n samples (the second is
 * n − 1 when rank + 1 = n), drawn without drawing the other n − 2. A resample
 * picks indices ⌊n·U_i⌋ for n independent uniforms U_i, so its order statistics
 * are ⌊n·U_(k)⌋ for the uniforms' order statistics: U_(k) ~ Beta(k, n + 1 − k),
 * and given U_(k) = u the next one is u + (1 − u)·(the least of n − k uniforms),
 * i.e. u + (1 − u)·(1 − V^(1/(n−k))) (Devroye 1986, Non-Uniform Random Variate
 * Generation, ch. V).
 */
export function resampledOrderStatistics(n: number, rank: number, rng: Prng): [number, number] {
  const k = rank + 1; // 1-based rank of the first
  const a = gamma(k, rng);
  const first = a / (a + gamma(n + 1 - k, rng));
  const index = (value: number): number => Math.min(n - 1, Math.max(0, Math.floor(value * n)));
  if (k >= n) return [index(first), index(first)];
  const second = first + (1 - first) * (1 - (1 - rng.nextFloat()) ** (1 / (n - k)));
  return [index(first), index(second)];
}

/** A Gamma(shape, 1) deviate for shape ≥ 1 (Marsaglia & Tsang 2000, ACM TOMS 26:363–372). */
function gamma(shape: number, rng: Prng): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.nextNormal();
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = 1 - rng.nextFloat(); // (0, 1]
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * The least number of samples for which a distribution-free, equal-tailed
 * confidence interval for the q-quantile exists at `confidence`: the widest
 * order-statistic interval [X_(1), X_(n)] misses the quantile on each side with
 * probability q^n (all samples below it) and (1 − q)^n, so n is the least with
 * max(q, 1 − q)^n ≤ (1 − confidence)/2. For q = 0.99 at 95% this is 368 — the
 * rule behind MIN_SAMPLES_FOR_P99 (370) in metrics/aggregate.ts; at 99%, 528.
 * Returns Infinity for q = 0 or 1 (the extremes have no such interval).
 */
export function minSamplesForPercentile(q: number, confidence: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`minSamplesForPercentile: q must be in [0, 1], got ${q}`);
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`minSamplesForPercentile: confidence must be in (0, 1), got ${confidence}`);
  const p = Math.max(q, 1 - q);
  if (p === 1) return Infinity;
  const tail = (1 - confidence) / 2;
  // The logarithm's estimate, then settled on the integer by the powers themselves.
  let n = Math.max(1, Math.ceil(Math.log(tail) / Math.log(p)));
  while (n > 1 && p ** (n - 1) <= tail) n--;
  while (p ** n > tail) n++;
  return n;
}
