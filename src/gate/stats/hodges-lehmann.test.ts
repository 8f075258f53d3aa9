// Hodges-Lehmann shift estimate and Moses's distribution-free bounds: a textbook example,
// order statistics checked by brute force against the exact U table, coverage and the
// duality with the Mann-Whitney test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hodgesLehmannShift,
  minSamplesForShiftBound,
  oneSidedLowerBound,
  oneSidedUpperBound,
  shiftRank,
} from './hodges-lehmann.js';
import { mannWhitneyU } from './mann-whitney.js';
import { uNullDistribution } from './u-distribution.js';
import { Prng } from '../../base/prng.js';

/** All pairwise differences x_i − y_j, sorted, computed independently of the module. */
const differences = (x: number[], y: number[]): number[] =>
  x.flatMap((a) => y.map((b) => a - b)).sort((a, b) => a - b);

test('Hollander, Wolfe & Chicken, Examples 4.1–4.3: Δ̂ = −.305 and the interval (−.76, .15)', () => {
  // Hollander, M., Wolfe, D. A. & Chicken, E. (2014), Nonparametric Statistical Methods, 3rd ed.,
  // §4.2–4.3, on the permeability data of Example 4.1 (shift of the 12–26-week group relative to
  // the at-term group): the Hodges-Lehmann estimate is Δ̂ = −.305. For the two-sided 95%
  // interval with n = 5, m = 10, the critical value of U (two-tailed α = .05 table) is 8, so the
  // interval is [d(9), d(42)] of the 50 ordered differences = (−.76, .15), with exact coverage
  // 1 − 2·P(U ≤ 8) = 1 − 2·60/3003 = .960.
  const atTerm = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
  const early = [1.15, 0.88, 0.9, 0.74, 1.21];
  const r = hodgesLehmannShift(early, atTerm, 0.95);
  const d = differences(early, atTerm);
  assert.equal(Math.round(r.estimate * 1000) / 1000, -0.305);
  assert.equal(r.estimate, ((d[24] as number) + (d[25] as number)) / 2);
  assert.equal(r.k, 9);
  assert.equal(r.method, 'exact');
  assert.equal(r.lower, d[8]);
  assert.equal(r.upper, d[41]);
  assert.equal(Math.round(r.lower * 100) / 100, -0.76);
  assert.equal(Math.round(r.upper * 100) / 100, 0.15);
  assert.equal(uNullDistribution(5, 10).count(8) > 0, true);
  assert.equal(uNullDistribution(5, 10).cdf(8), 60 / 3003);
  assert.ok(Math.abs(r.confidence_actual - (1 - 120 / 3003)) < 1e-15);
  // 90%: the one-tailed α = .05 critical value for (5, 10) is 11, so k = 12.
  const ninety = hodgesLehmannShift(early, atTerm, 0.9);
  assert.deepEqual([ninety.k, ninety.lower, ninety.upper], [12, d[11], d[38]]);
});

test('n = m = 7: the 95% interval is [d(9), d(41)] of the 49 differences (U table: C = 8)', () => {
  // Two-tailed α = .05 critical value of U for n = m = 7 is 8 (Siegel 1956, Table J; Milton 1964):
  // P(U ≤ 8) = 65/3432 ≤ .025 < P(U ≤ 9) = 91/3432, so k = 9 and the coverage is 1 − 130/3432.
  const rng = new Prng(11);
  const x = Array.from({ length: 7 }, () => 100 + 10 * rng.nextNormal());
  const y = Array.from({ length: 7 }, () => 95 + 10 * rng.nextNormal());
  const d = differences(x, y);
  const r = hodgesLehmannShift(x, y, 0.95);
  assert.equal(r.k, 9);
  assert.equal(r.lower, d[8]);
  assert.equal(r.upper, d[40]);
  assert.equal(r.estimate, d[24]);
  assert.ok(Math.abs(r.confidence_actual - (1 - 130 / 3432)) < 1e-15);
  // 99% two-sided: two-tailed α = .01 critical value 4 → [d(5), d(45)].
  const wide = hodgesLehmannShift(x, y);
  assert.deepEqual([wide.k, wide.lower, wide.upper], [5, d[4], d[44]]);
  // One-sided 99%: one-tailed α = .01 critical value 6 → k = 7: upper d(43), lower d(7).
  const upper = oneSidedUpperBound(x, y, 0.99);
  const lower = oneSidedLowerBound(x, y, 0.99);
  assert.deepEqual([upper.k, upper.bound, lower.k, lower.bound], [7, d[42], 7, d[6]]);
  assert.ok(Math.abs(upper.confidence_actual - (1 - 30 / 3432)) < 1e-15);
});

test('the one-sided bound is the edge of the shifts the U test does not reject (Moses duality)', () => {
  const rng = new Prng(5);
  for (let trial = 0; trial < 20; trial++) {
    const x = Array.from({ length: 6 + (trial % 5) }, () => rng.nextNormal() * 3 + 1);
    const y = Array.from({ length: 7 + (trial % 3) }, () => rng.nextNormal() * 3);
    const alpha = 0.05;
    const { bound } = oneSidedUpperBound(x, y, 1 - alpha);
    // Shifting x down by δ: the test "x − δ tends to be smaller than y" rejects iff δ > bound.
    const p = (delta: number): number =>
      mannWhitneyU(
        x.map((v) => v - delta),
        y,
        'less',
        { method: 'exact' },
      ).p;
    assert.ok(p(bound + 1e-9) <= alpha, `trial ${trial}: rejects just above the bound`);
    assert.ok(p(bound - 1e-9) > alpha, `trial ${trial}: keeps just below the bound`);
  }
});

test('coverage of the 95% interval in 2,000 simulated pairs of 7 repeats matches the exact level', () => {
  const rng = new Prng(99);
  const shift = 3;
  let covered = 0;
  const trials = 2000;
  for (let i = 0; i < trials; i++) {
    // Skewed (log-normal) repeats, as latencies are; the method only assumes a shift.
    const x = Array.from({ length: 7 }, () => Math.exp(rng.nextNormal() * 0.5) * 10 + shift);
    const y = Array.from({ length: 7 }, () => Math.exp(rng.nextNormal() * 0.5) * 10);
    const r = hodgesLehmannShift(x, y, 0.95);
    if (r.lower <= shift && shift <= r.upper) covered++;
  }
  // Exact coverage 1 − 130/3432 = 0.9621; binomial sd over 2,000 trials ≈ 0.0043.
  assert.ok(Math.abs(covered / trials - (1 - 130 / 3432)) < 0.02, `coverage ${covered / trials}`);
});

test('too few samples for a finite bound: k = 0, infinite bounds, coverage 1', () => {
  const r = hodgesLehmannShift([1, 2], [3, 4], 0.99);
  assert.deepEqual([r.k, r.lower, r.upper, r.confidence_actual, r.estimate], [0, -Infinity, Infinity, 1, -2]);
  assert.equal(oneSidedUpperBound([1, 2, 3, 4], [3, 4, 5, 6], 0.99).bound, Infinity);
  assert.equal(oneSidedLowerBound([1, 2, 3, 4], [3, 4, 5, 6], 0.99).bound, -Infinity);
  // 1/C(2n, n) ≤ 1 − confidence: 1/252 ≤ .01 < 1/70, and 1/70 ≤ .025 < 1/20.
  assert.equal(minSamplesForShiftBound(0.99), 5);
  assert.equal(minSamplesForShiftBound(0.975), 4);
  assert.ok(Number.isFinite(oneSidedUpperBound([1, 2, 3, 4, 5], [3, 4, 5, 6, 7], 0.99).bound));
  assert.throws(() => hodgesLehmannShift([], [1]), RangeError);
  assert.throws(() => hodgesLehmannShift([1], [2], 1), RangeError);
});

test('large samples: the normal approximation of k is within two ranks of the exact one', () => {
  for (const [n, m] of [
    [60, 60],
    [40, 100],
    [51, 51],
  ] as const) {
    for (const tail of [0.005, 0.01, 0.025, 0.05]) {
      const normal = shiftRank(n, m, tail);
      assert.equal(normal.method, 'normal');
      const exact = uNullDistribution(n, m);
      const exactK = exact.criticalValue(tail) + 1;
      // U's tails are lighter than the normal's: at small tails the approximation is a rank or
      // two conservative (n·m in the thousands), near 5% it can be one rank liberal.
      assert.ok(Math.abs(normal.k - exactK) <= 2, `n=${n} m=${m} tail=${tail}: ${normal.k} vs ${exactK}`);
      assert.ok(normal.tail <= tail && normal.tail > 0.9 * tail);
      assert.ok(Math.abs(exact.cdf(normal.k - 1) - tail) < 0.05 * tail);
    }
  }
  // And an interval from them brackets the estimate.
  const rng = new Prng(3);
  const x = Array.from({ length: 60 }, () => rng.nextNormal() + 0.5);
  const y = Array.from({ length: 60 }, () => rng.nextNormal());
  const r = hodgesLehmannShift(x, y, 0.99);
  assert.equal(r.method, 'normal');
  assert.ok(r.lower < r.estimate && r.estimate < r.upper);
});
