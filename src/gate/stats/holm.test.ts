// Holm's step-down correction: the worked example and properties.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holmAdjust, holmReject } from './holm.js';
import { Prng } from '../../base/prng.js';

test("Wikipedia's worked example: p = .01, .04, .03, .005 at α = .05 rejects .005 and .01 only", () => {
  // Wikipedia, "Holm–Bonferroni method", Example: four hypotheses; .005 < .05/4, .01 < .05/3,
  // then .03 > .05/2 stops the procedure (Holm 1979, Scand. J. Statist. 6:65–70).
  const p = [0.01, 0.04, 0.03, 0.005];
  assert.deepEqual(holmReject(p, 0.05), [true, false, false, true]);
  // Adjusted: .005·4 = .02, .01·3 = .03, .03·2 = .06, max(.06, .04·1) = .06.
  const adjusted = holmAdjust(p);
  const expected = [0.03, 0.06, 0.06, 0.02];
  adjusted.forEach((a, i) => assert.ok(Math.abs(a - (expected[i] as number)) < 1e-15, `${a}`));
});

test('adjusted p-values: never below the raw ones, monotone in sorted order, capped at 1, ties equal', () => {
  const rng = new Prng(17);
  for (let trial = 0; trial < 200; trial++) {
    const m = rng.intInclusive(1, 12);
    const p = Array.from({ length: m }, () => (rng.nextFloat() < 0.2 ? 0.01 : rng.nextFloat() ** 3));
    const adjusted = holmAdjust(p);
    assert.equal(adjusted.length, m);
    const order = p.map((_, i) => i).sort((a, b) => (p[a] as number) - (p[b] as number));
    for (let r = 0; r < m; r++) {
      const i = order[r] as number;
      assert.ok((adjusted[i] as number) >= (p[i] as number) && (adjusted[i] as number) <= 1);
      if (r > 0) assert.ok((adjusted[i] as number) >= (adjusted[order[r - 1] as number] as number));
    }
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) if (p[i] === p[j]) assert.equal(adjusted[i], adjusted[j]);
    // The textbook step-down procedure decides the same (away from exact boundaries).
    const alpha = 0.05;
    const stepDown = new Array<boolean>(m).fill(false);
    for (let r = 0; r < m; r++) {
      const i = order[r] as number;
      if ((p[i] as number) > alpha / (m - r)) break;
      stepDown[i] = true;
    }
    assert.deepEqual(holmReject(p, alpha), stepDown);
  }
});

test('one hypothesis is not corrected; empty input; bad input throws', () => {
  assert.deepEqual(holmAdjust([0.2]), [0.2]);
  assert.deepEqual(holmAdjust([]), []);
  assert.deepEqual(holmAdjust([0.6, 0.9]), [1, 1]);
  assert.throws(() => holmAdjust([Number.NaN]), RangeError);
  assert.throws(() => holmAdjust([1.2]), RangeError);
  assert.throws(() => holmReject([0.1], 0), RangeError);
});
