// Percentile bootstrap intervals: reproducible, numpy's percentile as the estimate, the
// order-statistic resampler proven against its exact binomial distribution, and the
// distribution-free minimum sample size consistent with metrics/aggregate.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapPercentileCI, minSamplesForPercentile, resampledOrderStatistics } from './bootstrap.js';
import { describe, percentileOfSorted } from '../../metrics/percentiles.js';
import { MIN_SAMPLES_FOR_P99 } from '../../metrics/iteration-flags.js';
import { Prng } from '../../base/prng.js';

const lognormal = (rng: Prng, n: number): number[] =>
  Array.from({ length: n }, () => 200 * Math.exp(0.4 * rng.nextNormal()));

test('same samples and seed → the same interval; another seed → another; the estimate is describe()’s p99', () => {
  const samples = lognormal(new Prng(1), 3000);
  const a = bootstrapPercentileCI(samples, 0.99, { seed: 42 });
  const b = bootstrapPercentileCI(samples, 0.99, { seed: 42 });
  const c = bootstrapPercentileCI(samples, 0.99, { seed: 43 });
  assert.deepEqual(a, b);
  assert.notDeepEqual([a.lower, a.upper], [c.lower, c.upper]);
  assert.equal(a.estimate, describe(samples).p99);
  assert.equal(bootstrapPercentileCI(samples, 0.999, { resamples: 10 }).estimate, describe(samples).p99_9);
  assert.equal(bootstrapPercentileCI(samples, 0.5, { resamples: 10 }).estimate, describe(samples).p50);
  // q = 0.29 reads the 29th percentile, not the 28.999999999999996th that 0.29·100 is.
  const sorted = Float64Array.from(samples).sort();
  assert.equal(
    bootstrapPercentileCI(samples, 0.29, { resamples: 10 }).estimate,
    percentileOfSorted(sorted, 29),
  );
  assert.deepEqual([a.resamples, a.confidence, a.n, a.min_samples, a.weak], [2000, 0.95, 3000, 368, false]);
  assert.ok(a.lower <= a.estimate && a.estimate <= a.upper);
});

test('the interval contains the estimate and narrows as the samples grow', () => {
  const rng = new Prng(8);
  let previous = Infinity;
  for (const n of [400, 1600, 6400, 25600]) {
    const r = bootstrapPercentileCI(lognormal(rng, n), 0.99, { seed: 1 });
    assert.ok(r.lower <= r.estimate && r.estimate <= r.upper, `n=${n}`);
    const width = r.upper - r.lower;
    assert.ok(width < previous, `n=${n}: width ${width} ≥ ${previous}`);
    previous = width;
  }
  // A p99 of 100 samples has no distribution-free interval: flagged weak.
  assert.equal(bootstrapPercentileCI(lognormal(rng, 100), 0.99).weak, true);
});

/** P(Binomial(n, p) ≥ k), summed in log space so n may be large. */
function binomialAtLeast(n: number, p: number, k: number): number {
  if (p >= 1) return 1;
  let logPmf = n * Math.log1p(-p); // i = 0
  let sum = 0;
  for (let i = 0; i <= n; i++) {
    if (i >= k) sum += Math.exp(logPmf);
    logPmf += Math.log(n - i) - Math.log(i + 1) + Math.log(p) - Math.log1p(-p);
  }
  return Math.min(1, sum);
}

test('the order statistics of a resample have their exact binomial distribution', () => {
  // Index j or below holds the resample's (r+1)-th smallest iff at least r+1 of the n draws
  // fall in 0..j: P = P(Binomial(n, (j+1)/n) ≥ r+1). Small n at every rank, and n = 1,000 at
  // ranks a p1, p50 and p99 read; for each the pair's second member (rank r + 1) as well.
  const cases: Array<[n: number, ranks: number[], js: number[]]> = [
    [6, [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]],
    [1000, [9, 499, 989], [0, 5, 9, 12, 15, 25, 480, 495, 500, 505, 520, 975, 985, 989, 993, 997]],
  ];
  const draws = 20000;
  const rng = new Prng(5);
  for (const [n, ranks, js] of cases) {
    for (const rank of ranks) {
      const samples: Array<[number, number]> = [];
      for (let d = 0; d < draws; d++) {
        const pair = resampledOrderStatistics(n, rank, rng);
        assert.ok(pair[0] <= pair[1]);
        samples.push(pair);
      }
      [rank, Math.min(rank + 1, n - 1)].forEach((r, which) => {
        for (const j of js) {
          const expected = binomialAtLeast(n, (j + 1) / n, r + 1);
          const observed = samples.filter((pair) => (pair[which] as number) <= j).length / draws;
          // 5 standard errors of a proportion over the draws.
          const tolerance = 5 * Math.sqrt((expected * (1 - expected)) / draws) + 1e-9;
          assert.ok(
            Math.abs(observed - expected) <= tolerance,
            `n ${n} rank ${r} j ${j}: ${observed} vs ${expected}`,
          );
        }
      });
    }
  }
});

test('minimum samples for a distribution-free percentile interval, consistent with MIN_SAMPLES_FOR_P99', () => {
  // aggregate.ts: 1 − 0.99ⁿ ≥ 0.975 gives n ≥ 368 (rounded up to 370 there).
  assert.equal(minSamplesForPercentile(0.99, 0.95), 368);
  assert.ok(minSamplesForPercentile(0.99, 0.95) <= MIN_SAMPLES_FOR_P99);
  const q = 0.99;
  assert.ok(q ** 368 <= 0.025 && q ** 367 > 0.025);
  assert.equal(minSamplesForPercentile(0.99, 0.99), 528);
  assert.equal(minSamplesForPercentile(0.01, 0.95), 368);
  // The median: 0.5ⁿ ≤ 0.025 → n = 6 (the classic sign-test interval [X(1), X(6)] covers 96.9%).
  assert.equal(minSamplesForPercentile(0.5, 0.95), 6);
  assert.equal(minSamplesForPercentile(1, 0.95), Infinity);
  assert.throws(() => minSamplesForPercentile(0.5, 1), RangeError);
});

test('bad input throws; a single sample gives a degenerate interval', () => {
  assert.throws(() => bootstrapPercentileCI([], 0.5), RangeError);
  assert.throws(() => bootstrapPercentileCI([1, 2], 1.5), RangeError);
  assert.throws(() => bootstrapPercentileCI([1, Number.NaN], 0.5), RangeError);
  assert.throws(() => bootstrapPercentileCI([1, 2], 0.5, { resamples: 0 }), RangeError);
  const one = bootstrapPercentileCI([7], 0.99, { resamples: 50 });
  assert.deepEqual([one.estimate, one.lower, one.upper, one.weak], [7, 7, 7, true]);
});
