/**
 * The order a repeat runs its iterations in (iterationOrder): the plan's for a run
 * alone, a seeded permutation per repeat of a group.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iterationOrder } from '../plan/build-plan.js';

const identity = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

test('a run alone keeps the plan order, whatever the seed', () => {
  for (const seed of [0, 7, 42]) assert.deepEqual(iterationOrder(6, seed, 0, 1), identity(6));
});

test('each repeat of a group runs every iteration exactly once', () => {
  for (const n of [1, 2, 5, 17]) {
    for (let repeat = 0; repeat < 4; repeat++) {
      const order = iterationOrder(n, 42, repeat, 4);
      assert.deepEqual(
        [...order].sort((a, b) => a - b),
        identity(n),
      );
    }
  }
});

test('the same seed and repeat give the same order; repeats and seeds differ', () => {
  assert.deepEqual(iterationOrder(8, 42, 3, 5), iterationOrder(8, 42, 3, 5));
  // The group size does not move the orders: a 3-repeat group is the first three of a 5-repeat one.
  assert.deepEqual(iterationOrder(8, 42, 1, 3), iterationOrder(8, 42, 1, 5));
  const byRepeat = new Set([0, 1, 2, 3, 4].map((r) => iterationOrder(8, 42, r, 5).join(',')));
  assert.ok(byRepeat.size >= 4, `8! orders, 5 repeats: ${[...byRepeat].join(' | ')}`);
  assert.notDeepEqual(iterationOrder(8, 1, 0, 5), iterationOrder(8, 2, 0, 5));
});

test('the shuffle is not biased: each of 3 items leads about a third of the time', () => {
  const leads = [0, 0, 0];
  const trials = 3000;
  for (let seed = 0; seed < trials; seed++) {
    const first = iterationOrder(3, seed, 0, 2)[0] as number;
    leads[first] = (leads[first] as number) + 1;
  }
  // Binomial(3000, 1/3): sd ≈ 26; 6 sd either side.
  for (const count of leads) assert.ok(Math.abs(count - trials / 3) < 160, `leads: ${leads.join(', ')}`);
});
