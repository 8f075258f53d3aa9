import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../base/prng.js';
import { binomialCdf, quantileInterval } from './quantile-ci.js';

const ranks = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

test('the median of 100 samples: the textbook ranks 40 and 61 at 95%, coverage 0.9648', () => {
  const ci = quantileInterval(ranks(100), 0.5, 0.95);
  assert.equal(ci.lower_rank, 40);
  assert.equal(ci.upper_rank, 61);
  assert.equal(ci.lower, 40);
  assert.equal(ci.upper, 61);
  assert.ok(Math.abs(ci.coverage - 0.9648) < 5e-4, String(ci.coverage));
});

test('the binomial CDF sums to 1 and matches a hand computation', () => {
  const cdf = binomialCdf(4, 0.5);
  assert.deepEqual(
    [...cdf].map((p) => Math.round(p * 16)),
    [1, 5, 11, 15, 16],
  );
  const large = binomialCdf(100000, 0.99);
  assert.equal(large[100000], 1);
  assert.ok((large[98999] as number) > 0.4 && (large[98999] as number) < 0.6);
});

test('a p99 gets an upper bound from 368 samples at 95%, not from 367', () => {
  const short = quantileInterval(ranks(367), 0.99, 0.95);
  assert.equal(short.upper, null);
  assert.equal(short.samples_for_upper, 368);
  assert.equal(short.coverage, 0);
  const enough = quantileInterval(ranks(368), 0.99, 0.95);
  assert.equal(enough.upper_rank, 368);
  assert.ok(enough.lower_rank !== null && enough.lower_rank < 368);
  assert.ok(enough.coverage >= 0.95, String(enough.coverage));
});

test('over many seeded samples of a known distribution, the 95% interval covers the true p90 about 95% of the time', () => {
  // Uniform(0, 1): the true p90 is 0.9. 1000 trials of 400 samples each.
  const rng = new Prng(7);
  let covered = 0;
  const trials = 1000;
  let minCoverage = 1;
  for (let t = 0; t < trials; t++) {
    const sorted = Float64Array.from({ length: 400 }, () => rng.nextFloat()).sort();
    const ci = quantileInterval(sorted, 0.9, 0.95);
    minCoverage = Math.min(minCoverage, ci.coverage);
    if ((ci.lower as number) <= 0.9 && 0.9 <= (ci.upper as number)) covered++;
  }
  assert.ok(minCoverage >= 0.95, `exact coverage ${minCoverage}`);
  // Binomial(1000, ≥0.95): below 0.93 has probability < 0.3%.
  assert.ok(covered / trials >= 0.93 && covered / trials <= 0.99, `covered ${covered} of ${trials}`);
});

test('bad arguments are refused', () => {
  assert.throws(() => quantileInterval([1], 1), /quantile/);
  assert.throws(() => quantileInterval([1], 0.5, 1), /confidence/);
  assert.equal(quantileInterval([], 0.5).lower, null);
});
