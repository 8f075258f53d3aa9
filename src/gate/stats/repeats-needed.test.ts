// The planning estimate of repeats per group for an inconclusive comparison.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repeatsNeeded } from './repeats-needed.js';

test('half-width scales as 1/√n: halving it needs four times the repeats', () => {
  // Estimate 2, upper bound 6 (half-width 4), allowed 4: the half-width must fall to 2 → n·4.
  assert.deepEqual(repeatsNeeded({ n: 7, estimate: 2, bound: 6, allowed: 4 }), {
    per_group: 28,
    additional: 21,
  });
  // The same from the other side: estimate above the allowed value, the lower bound below it.
  assert.deepEqual(repeatsNeeded({ n: 7, estimate: 6, bound: 2, allowed: 4 }), {
    per_group: 28,
    additional: 21,
  });
  // ⌈7·(3/2)²⌉ = ⌈15.75⌉ = 16.
  assert.deepEqual(repeatsNeeded({ n: 7, estimate: 1, bound: 4, allowed: 3 }), {
    per_group: 16,
    additional: 9,
  });
});

test('already decided → n; at the allowed value → null; a floor applies', () => {
  assert.deepEqual(repeatsNeeded({ n: 10, estimate: 0, bound: 1, allowed: 5 }), {
    per_group: 10,
    additional: 0,
  });
  assert.equal(repeatsNeeded({ n: 10, estimate: 5, bound: 7, allowed: 5 }), null);
  assert.deepEqual(repeatsNeeded({ n: 3, estimate: 0, bound: 1, allowed: 5 }, 5), {
    per_group: 5,
    additional: 2,
  });
  // Exactly on a whole number despite rounding: 5·(0.3/0.1)² = 45.
  assert.deepEqual(repeatsNeeded({ n: 5, estimate: 0.1, bound: 0.4, allowed: 0.2 }), {
    per_group: 45,
    additional: 40,
  });
  assert.throws(() => repeatsNeeded({ n: 0, estimate: 0, bound: 1, allowed: 2 }), RangeError);
  assert.throws(() => repeatsNeeded({ n: 5, estimate: 0, bound: Infinity, allowed: 2 }), RangeError);
});
