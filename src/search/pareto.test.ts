// The throughput–latency Pareto frontier: non-dominated points only, by throughput.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paretoFrontier } from './pareto.js';

const point = (iteration: number, tps: number | null, ms: number | null) => ({
  iteration,
  load: iteration,
  output_tokens_per_s: tps,
  latency_ms: ms,
});

test('the frontier keeps the points no other beats on both throughput and latency', () => {
  const points = [
    point(0, 100, 50),
    point(1, 200, 60),
    point(2, 150, 70), // dominated by 1 (less throughput, more latency)
    point(3, 300, 200),
    point(4, 250, 400), // dominated by 3
    point(5, 300, 250), // same throughput as 3, slower
    point(6, null, 10), // no throughput: on no frontier
  ];
  assert.deepEqual(
    paretoFrontier(points).map((p) => p.iteration),
    [0, 1, 3],
  );
});

test('no points, no frontier; one point is its own frontier', () => {
  assert.deepEqual(paretoFrontier([]), []);
  assert.deepEqual(
    paretoFrontier([point(0, 1, 1)]).map((p) => p.iteration),
    [0],
  );
});
