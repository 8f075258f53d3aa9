// The standard normal tail and quantile against scipy.stats.norm (scipy 1.17.1) and, in the
// far tail where scipy's own erfc is off by ~1e-14, mpmath.ncdf at 40 digits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalCdf, normalQuantile, normalSf } from './normal.js';

const close = (actual: number, expected: number, relative: number): void =>
  assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${actual} ≉ ${expected}`);

test('normalSf matches scipy.stats.norm.sf / mpmath to ~1e-15 relative, far into the tail', () => {
  const sf: Array<[number, number]> = [
    [0, 0.5],
    [0.5, 0.3085375387259869],
    [1, 0.15865525393145707],
    [1.959963984540054, 0.025],
    [2.5, 0.006209665325776132],
    [3, 0.0013498980316300946], // mpmath 0.0013498980316300945267 (scipy …0933)
    [3.5, 0.00023262907903552502],
    [5, 2.866515718791933e-7],
    [8, 6.220960574271784e-16], // mpmath 6.2209605742717841235e-16; scipy 6.22096057427174e-16
    [12, 1.776482112077679e-33], // mpmath 1.7764821120776789977e-33; scipy 1.776482112077653e-33
    [20, 2.7536241186062337e-89], // mpmath 2.7536241186062336951e-89; scipy 2.7536241186061556e-89
    [-1.5, 0.9331927987311419],
  ];
  for (const [z, expected] of sf) close(normalSf(z), expected, 5e-15);
  assert.equal(normalSf(Infinity), 0);
  assert.equal(normalSf(-Infinity), 1);
  assert.equal(normalCdf(0), 0.5);
  close(normalCdf(-3), 0.0013498980316300933, 2e-14);
});

test('normalQuantile matches scipy.stats.norm.ppf and inverts normalSf', () => {
  const ppf: Array<[number, number]> = [
    [0.975, 1.959963984540054],
    [0.995, 2.5758293035489004],
    [0.999, 3.090232306167813],
    [0.01, -2.3263478740408408],
    [1e-10, -6.361340902404056],
    [0.8, 0.8416212335729143],
  ];
  for (const [p, expected] of ppf) close(normalQuantile(p), expected, 1e-14);
  assert.equal(normalQuantile(0.5), 0);
  assert.equal(normalQuantile(0), -Infinity);
  assert.equal(normalQuantile(1), Infinity);
  for (const p of [1e-20, 0.001, 0.3, 0.45]) close(normalCdf(normalQuantile(p)), p, 1e-13);
  // Near the end of the double range one ulp of z moves p by z² ulps.
  close(normalCdf(normalQuantile(1e-300)), 1e-300, 1e-11);
  assert.throws(() => normalQuantile(1.5), RangeError);
});
