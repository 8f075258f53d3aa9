// The Mann-Whitney U test against scipy.stats.mannwhitneyu (scipy 1.17.1), a textbook
// example, and brute-force permutation p-values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mannWhitneyU, type Alternative } from './mann-whitney.js';
import { Prng } from '../../base/prng.js';

const close = (actual: number, expected: number, relative = 1e-12): void =>
  assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${actual} ≉ ${expected}`);

const ALTERNATIVES: Alternative[] = ['less', 'greater', 'two-sided'];

/** Exact permutation p-values by enumerating every labelling of the pooled sample, U by counting pairs. */
function bruteForceP(x: number[], y: number[], alternative: Alternative): number {
  const pooled = [...x, ...y];
  const n = x.length;
  const uOf = (xs: number[], ys: number[]): number => {
    let u = 0;
    for (const a of xs) for (const b of ys) u += a > b ? 1 : a === b ? 0.5 : 0;
    return u;
  };
  const observed = uOf(x, y);
  let below = 0;
  let above = 0;
  let all = 0;
  const walk = (start: number, chosen: number[]): void => {
    if (chosen.length === n) {
      const set = new Set(chosen);
      const u = uOf(
        chosen.map((i) => pooled[i] as number),
        pooled.filter((_, i) => !set.has(i)),
      );
      all++;
      if (u <= observed) below++;
      if (u >= observed) above++;
      return;
    }
    for (let i = start; i <= pooled.length - (n - chosen.length); i++) walk(i + 1, [...chosen, i]);
  };
  walk(0, []);
  const p =
    alternative === 'less'
      ? below / all
      : alternative === 'greater'
        ? above / all
        : (2 * Math.min(below, above)) / all;
  return Math.min(1, p);
}

test('scipy: [1..5] vs [6..10], alternative less → U = 0, exact p = 1/252', () => {
  const r = mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 'less');
  assert.deepEqual(r, { u: 0, p: 1 / 252, method: 'exact', ties: false });
  // scipy.stats.mannwhitneyu(...).pvalue == 0.003968253968253968
  assert.equal(r.p, 0.003968253968253968);
  assert.equal(mannWhitneyU([6, 7, 8, 9, 10], [1, 2, 3, 4, 5], 'greater').p, 1 / 252);
  assert.equal(mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 'two-sided').p, 2 / 252);
});

test('Hollander, Wolfe & Chicken, Example 4.1: W = 30, exact lower-tail P = .127', () => {
  // Hollander, M., Wolfe, D. A. & Chicken, E. (2014), Nonparametric Statistical Methods,
  // 3rd ed., Example 4.1 (permeability constants of the human chorioamniotic membrane):
  // rank sum of the 12–26-week group W = 30, so U = W − 5·6/2 = 15; P₀(W ≤ 30) = .127.
  // scipy.stats.mannwhitneyu(y, x, alternative=..., method='exact') gives the p-values below.
  const atTerm = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
  const early = [1.15, 0.88, 0.9, 0.74, 1.21];
  const expected: Record<Alternative, number> = {
    less: 0.1272061272061272,
    greater: 0.8967698967698967,
    'two-sided': 0.2544122544122544,
  };
  for (const alternative of ALTERNATIVES) {
    const r = mannWhitneyU(early, atTerm, alternative);
    assert.equal(r.u, 15);
    assert.equal(r.method, 'exact');
    close(r.p, expected[alternative]);
  }
  assert.equal(Math.round(mannWhitneyU(early, atTerm, 'less').p * 1000) / 1000, 0.127);
});

test('scipy exact, n = m = 7: a shifted pair of samples', () => {
  const a = [19.1, 20.3, 18.7, 21.4, 22.0, 19.9, 20.8];
  const b = [18.2, 17.9, 19.0, 18.8, 20.1, 17.5, 18.4];
  const expected: Record<Alternative, number> = {
    less: 0.9965034965034965,
    greater: 0.005536130536130536, // = 19/3432
    'two-sided': 0.011072261072261072,
  };
  for (const alternative of ALTERNATIVES) {
    const r = mannWhitneyU(a, b, alternative);
    assert.equal(r.u, 44);
    close(r.p, expected[alternative]);
    close(r.p, bruteForceP(a, b, alternative));
  }
});

test('ties: exact permutation p-value over midranks equals brute force and scipy PermutationMethod', () => {
  const x = [3, 4, 4, 5, 6, 6, 6, 8, 9, 10];
  const y = [1, 2, 3, 3, 4, 5, 5, 6, 7];
  // scipy.stats.mannwhitneyu(x, y, alternative=..., method=PermutationMethod(n_resamples=np.inf))
  // (all 92,378 labellings) and method='asymptotic' (tie- and continuity-corrected normal).
  const permutation: Record<Alternative, number> = {
    less: 0.9716057935872178,
    greater: 0.032637640996774124,
    'two-sided': 0.06527528199354825,
  };
  const asymptotic: Record<Alternative, number> = {
    less: 0.971041735695119,
    greater: 0.03484809386671637,
    'two-sided': 0.06969618773343274,
  };
  for (const alternative of ALTERNATIVES) {
    const exact = mannWhitneyU(x, y, alternative);
    assert.equal(exact.u, 67.5);
    assert.equal(exact.method, 'exact');
    assert.equal(exact.ties, true);
    close(exact.p, permutation[alternative]);
    close(exact.p, bruteForceP(x, y, alternative));
    const normal = mannWhitneyU(x, y, alternative, { method: 'normal' });
    assert.equal(normal.method, 'normal');
    close(normal.p, asymptotic[alternative], 1e-13);
  }
});

test('ties in small random samples: exact p-values equal brute-force enumeration', () => {
  const rng = new Prng(2024);
  for (let trial = 0; trial < 40; trial++) {
    const n = rng.intInclusive(1, 6);
    const m = rng.intInclusive(1, 6);
    // Values from a small range, so ties are common (within and across samples).
    const x = Array.from({ length: n }, () => rng.intInclusive(0, 5));
    const y = Array.from({ length: m }, () => rng.intInclusive(0, 5) + (trial % 3) - 1);
    for (const alternative of ALTERNATIVES) {
      const r = mannWhitneyU(x, y, alternative, { method: 'exact' });
      close(r.p, bruteForceP(x, y, alternative), 1e-12);
    }
  }
});

test("larger samples without ties use scipy's asymptotic p-value (n·m > 2,500)", () => {
  // numpy.random.default_rng(7): round(normal(100, 10, 60), 3) and round(normal(97, 10, 70), 3);
  // scipy.stats.mannwhitneyu(X, Y, alternative=..., method='asymptotic') → U = 2419.
  const X = [
    100.012, 102.987, 97.259, 91.094, 95.453, 90.084, 100.601, 113.402, 95.078, 93.795, 104.898, 103.569,
    101.054, 90.695, 99.707, 106.953, 86.558, 95.424, 80.988, 87.105, 81.583, 97.649, 87.326, 102.713,
    101.568, 98.131, 74.832, 94.613, 99.515, 101.133, 84.699, 95.222, 90.215, 91.912, 110.609, 91.925, 99.675,
    108.844, 94.164, 98.883, 101.105, 100.638, 87.749, 100.761, 113.588, 84.529, 108.594, 101.194, 93.585,
    120.004, 107.623, 88.007, 100.745, 105.767, 98.112, 106.829, 99.335, 106.672, 114.385, 93.243,
  ];
  const Y = [
    99.031, 92.367, 98.273, 85.128, 91.207, 95.038, 105.988, 108.452, 83.765, 89.054, 103.469, 77.076, 92.368,
    96.027, 109.57, 103.894, 93.728, 93.314, 94.498, 112.235, 92.72, 93.963, 100.526, 95.792, 95.027, 85.859,
    96.885, 92.564, 108.661, 103.531, 96.759, 103.684, 93.601, 107.521, 96.946, 102.834, 84.091, 100.467,
    80.118, 76.647, 93.955, 88.001, 98.641, 119.448, 88.683, 90.761, 99.054, 101.93, 95.236, 94.941, 104.025,
    102.199, 86.663, 96.208, 97.353, 86.455, 99.598, 88.42, 106.721, 98.927, 97.893, 91.09, 95.814, 77.023,
    85.686, 100.628, 75.714, 105.466, 79.539, 104.567,
  ];
  const expected: Record<Alternative, number> = {
    less: 0.9321650028866924,
    greater: 0.06844917919080871,
    'two-sided': 0.13689835838161743,
  };
  for (const alternative of ALTERNATIVES) {
    const r = mannWhitneyU(X, Y, alternative);
    assert.equal(r.u, 2419);
    assert.equal(r.method, 'normal');
    assert.equal(r.ties, false);
    close(r.p, expected[alternative], 1e-13);
  }
  // Forcing the exact distribution (60 × 70) is still fast and close to the approximation.
  const exact = mannWhitneyU(X, Y, 'greater', { method: 'exact' });
  assert.equal(exact.method, 'exact');
  assert.ok(Math.abs(exact.p - expected.greater) < 0.002);
});

test('U counts pairs x > y plus one half per tie; U(x, y) + U(y, x) = n·m', () => {
  const rng = new Prng(7);
  for (let trial = 0; trial < 50; trial++) {
    const x = Array.from({ length: rng.intInclusive(1, 30) }, () => rng.intInclusive(0, 20) / 4);
    const y = Array.from({ length: rng.intInclusive(1, 30) }, () => rng.intInclusive(0, 20) / 4);
    let pairs = 0;
    for (const a of x) for (const b of y) pairs += a > b ? 1 : a === b ? 0.5 : 0;
    assert.equal(mannWhitneyU(x, y, 'greater').u, pairs);
    assert.equal(mannWhitneyU(y, x, 'greater').u, x.length * y.length - pairs);
    // Swapping the samples swaps the one-sided alternatives.
    assert.equal(mannWhitneyU(x, y, 'greater').p, mannWhitneyU(y, x, 'less').p);
  }
});

test('all values equal: p = 1 exactly and approximately; bad input throws', () => {
  for (const method of ['exact', 'normal'] as const) {
    const r = mannWhitneyU([5, 5, 5], [5, 5, 5, 5], 'greater', { method });
    assert.equal(r.u, 6);
    assert.equal(r.p, 1);
    assert.equal(mannWhitneyU([5, 5, 5], [5, 5, 5, 5], 'two-sided', { method }).p, 1);
  }
  assert.throws(() => mannWhitneyU([], [1], 'less'), RangeError);
  assert.throws(() => mannWhitneyU([1, Number.NaN], [1], 'less'), RangeError);
  assert.throws(() => mannWhitneyU([1], [Infinity], 'less'), RangeError);
});
