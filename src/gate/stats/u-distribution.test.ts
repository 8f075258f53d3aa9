// The exact null distribution of Mann-Whitney U against brute-force enumeration,
// an independent exact (BigInt) computation, and published critical-value tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { uNullDistribution } from './u-distribution.js';

/** Every n-subset of {0, …, total − 1}, as arrays of positions. */
function* subsets(total: number, n: number, start = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === n) {
    yield chosen;
    return;
  }
  for (let i = start; i <= total - (n - chosen.length); i++) yield* subsets(total, n, i + 1, [...chosen, i]);
}

/** Counts of U by enumerating all C(n+m, n) orderings: x takes the chosen positions of the pooled order. */
function bruteForceCounts(n: number, m: number): number[] {
  const counts = new Array<number>(n * m + 1).fill(0);
  for (const xs of subsets(n + m, n)) {
    // An x at pooled position p (0-based) beats the p − (number of x's before it) y's below it.
    let u = 0;
    xs.forEach((p, i) => (u += p - i));
    counts[u] = (counts[u] as number) + 1;
  }
  return counts;
}

/** Coefficients of the Gaussian binomial [n+m choose n]_q = Π_{i=1..n} (1 − q^{m+i}) / (1 − q^i), exactly. */
function gaussianBinomial(n: number, m: number): bigint[] {
  const degree = n * m;
  let c = new Array<bigint>(degree + 1).fill(0n);
  c[0] = 1n;
  for (let i = 1; i <= n; i++) {
    const next = c.slice();
    for (let k = degree; k >= m + i; k--) next[k] = (next[k] as bigint) - (c[k - m - i] as bigint);
    for (let k = i; k <= degree; k++) next[k] = (next[k] as bigint) + (next[k - i] as bigint);
    c = next;
  }
  return c;
}

test('counts equal brute-force enumeration of all orderings for every n, m ≤ 7 (and 8 × 8)', () => {
  const sizes: Array<[number, number]> = [[8, 8]];
  for (let n = 1; n <= 7; n++) for (let m = 1; m <= 7; m++) sizes.push([n, m]);
  for (const [n, m] of sizes) {
    const dist = uNullDistribution(n, m);
    const expected = bruteForceCounts(n, m);
    assert.deepEqual(
      expected.map((_, u) => dist.count(u)),
      expected,
      `n=${n} m=${m}`,
    );
    assert.equal(
      dist.total,
      expected.reduce((a, b) => a + b, 0),
    );
  }
});

test('Mann & Whitney (1947), Table I: P(U ≤ u) for n = m = 5 and n = m = 7', () => {
  // Mann, H. B. & Whitney, D. R. (1947). On a test of whether one of two random
  // variables is stochastically larger than the other. Ann. Math. Statist. 18(1):50–60,
  // Table I (probabilities P(U ≤ u) to three decimals, n ≤ 8). The exact fractions are
  // counts over C(10, 5) = 252 and C(14, 7) = 3432 orderings.
  const five = uNullDistribution(5, 5);
  const table5: Array<[number, number, number]> = [
    // u, count of orderings with U ≤ u, three-decimal table entry
    [0, 1, 0.004],
    [1, 2, 0.008],
    [2, 4, 0.016],
    [3, 7, 0.028],
    [4, 12, 0.048],
    [5, 19, 0.075],
    [6, 28, 0.111],
  ];
  for (const [u, count, rounded] of table5) {
    assert.equal(five.cdf(u), count / 252, `n=m=5 u=${u}`);
    assert.equal(Math.round(five.cdf(u) * 1000) / 1000, rounded);
  }
  const seven = uNullDistribution(7, 7);
  const table7: Array<[number, number, number]> = [
    [0, 1, 0.0],
    [3, 7, 0.002],
    [6, 30, 0.009],
    [7, 45, 0.013],
    [8, 65, 0.019],
    [9, 91, 0.027],
    [11, 167, 0.049],
  ];
  for (const [u, count, rounded] of table7) {
    assert.equal(seven.cdf(u), count / 3432, `n=m=7 u=${u}`);
    assert.equal(Math.round(seven.cdf(u) * 1000) / 1000, rounded);
  }
  assert.equal(seven.pmf(0), 1 / 3432); // ≈ 0.000291
});

test('critical values match the published tables of the Mann-Whitney U test', () => {
  // Critical values of U (reject when U ≤ the value), as tabulated in Siegel, S. (1956),
  // Nonparametric Statistics for the Behavioral Sciences, Tables J–K (after Mann & Whitney 1947
  // and Auble 1953), and Milton, R. C. (1964), An extended table of critical values for the
  // Mann-Whitney (Wilcoxon) two-sample statistic, JASA 59:925–934. Each is the largest c with
  // P(U ≤ c) ≤ α (one-tailed) or ≤ α/2 (two-tailed).
  const table: Array<
    [n: number, m: number, twoTailed05: number, twoTailed01: number, oneTailed05: number, oneTailed01: number]
  > = [
    [5, 5, 2, 0, 4, 1],
    [6, 6, 5, 2, 7, 3],
    [7, 7, 8, 4, 11, 6],
    [8, 8, 13, 7, 15, 9],
    [10, 10, 23, 16, 27, 19],
    [20, 20, 127, 105, 138, 114],
    [5, 10, 8, 4, 11, 6],
  ];
  for (const [n, m, t05, t01, o05, o01] of table) {
    const dist = uNullDistribution(n, m);
    assert.deepEqual(
      [
        dist.criticalValue(0.025),
        dist.criticalValue(0.005),
        dist.criticalValue(0.05),
        dist.criticalValue(0.01),
      ],
      [t05, t01, o05, o01],
      `n=${n} m=${m}`,
    );
  }
  // No rejection region at all when 1/C(n+m, n) exceeds α: n = m = 3 has P(U ≤ 0) = 1/20.
  assert.equal(uNullDistribution(3, 3).criticalValue(0.01), -1);
  assert.equal(uNullDistribution(3, 3).cdf(0), 0.05);
});

test('n = m = 50: equals the exact Gaussian binomial coefficients and takes well under 50 ms', (t) => {
  const started = performance.now();
  const dist = uNullDistribution(50, 50);
  const elapsed = performance.now() - started;
  t.diagnostic(`exact U distribution for n = m = 50 in ${elapsed.toFixed(1)} ms`);
  const exact = gaussianBinomial(50, 50);
  // C(100, 50)
  assert.equal(
    exact.reduce((a, b) => a + b, 0n),
    100891344545564193334812497256n,
  );
  assert.ok(Math.abs(dist.total / Number(100891344545564193334812497256n) - 1) < 1e-13);
  for (let u = 0; u <= 2500; u++) {
    const want = Number(exact[u]);
    assert.ok(Math.abs(dist.count(u) - want) <= 1e-13 * want, `u=${u}: ${dist.count(u)} vs ${want}`);
  }
  // Below 2^53 the counts are exact integers.
  for (let u = 0; u <= 300; u++)
    if ((exact[u] as bigint) < 2n ** 53n) assert.equal(BigInt(dist.count(u)), exact[u]);
  // Generous bound against a slow CI host; the diagnostic above reports the real figure.
  assert.ok(elapsed < 250, `${elapsed} ms`);
});

test('symmetric about n·m/2, sums to 1, tails agree, and (n, m) = (m, n)', () => {
  const dist = uNullDistribution(4, 9);
  let sum = 0;
  for (let u = 0; u <= 36; u++) {
    sum += dist.pmf(u);
    assert.equal(dist.count(u), dist.count(36 - u));
    assert.ok(Math.abs(dist.sf(u) - dist.cdf(36 - u)) < 1e-15);
  }
  assert.ok(Math.abs(sum - 1) < 1e-12);
  assert.equal(dist.count(-1), 0);
  assert.equal(dist.count(37), 0);
  assert.equal(dist.cdf(36), 1);
  assert.equal(dist.sf(0), 1);
  assert.equal(uNullDistribution(9, 4).cdf(10), dist.cdf(10));
  assert.throws(() => uNullDistribution(0, 3), RangeError);
});
