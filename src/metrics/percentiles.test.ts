// Percentiles against values from numpy 2.4 (np.percentile default method='linear', np.std ddof=0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describe, percentileOfSorted } from './percentiles.js';

const close = (actual: number | null, expected: number, tolerance = 1e-9): void => {
  assert.ok(
    actual !== null && Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)),
    `${actual} ≉ ${expected}`,
  );
};

test('linear interpolation by hand: [1,2,3,4] and [15,20,35,40,50]', () => {
  // p90 of [1,2,3,4]: index 3·0.9 = 2.7 → 3 + 0.7·(4 − 3) = 3.7
  const a = describe([4, 1, 3, 2]);
  assert.equal(a.p50, 2.5);
  assert.equal(a.p90, 3.7);
  // numpy prints these exact doubles (its upper-side lerp for weights ≥ 0.5)
  assert.equal(a.p95, 3.8499999999999996);
  assert.equal(a.p99, 3.9699999999999998);
  assert.equal(a.p99_9, 3.9970000000000003);
  assert.equal(a.mean, 2.5);
  assert.equal(a.stddev, 1.118033988749895);
  // p90 of [15,20,35,40,50]: index 4·0.9 = 3.6 → 40 + 0.6·10 = 46
  const b = describe([50, 15, 40, 35, 20]);
  assert.deepEqual([b.p50, b.p90, b.p95, b.p99, b.p99_9], [35, 46, 48, 49.6, 49.96000000000001]);
  assert.equal(b.min, 15);
  assert.equal(b.max, 50);
  assert.equal(b.mean, 32);
  close(b.stddev, 12.884098726725126);
});

test('single sample, two samples, empty', () => {
  const one = describe([7]);
  assert.deepEqual([one.p50, one.p99_9, one.stddev, one.count], [7, 7, 0, 1]);
  const two = describe(new Float64Array([3.2, 1.1]));
  assert.equal(two.p50, 2.1500000000000004);
  assert.equal(two.p90, 2.99);
  assert.equal(two.p95, 3.095);
  assert.equal(two.p99, 3.1790000000000003);
  assert.equal(two.p99_9, 3.1979000000000006);
  close(two.stddev, 1.05);
  const none = describe([]);
  assert.equal(none.count, 0);
  assert.equal(none.p99, null);
  assert.equal(none.mean, null);
});

test('1..1000 matches numpy', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
  const d = describe(xs);
  assert.deepEqual([d.p50, d.p90, d.p95, d.p99, d.p99_9], [500.5, 900.1, 950.05, 990.01, 999.0010000000001]);
  assert.equal(d.mean, 500.5);
  close(d.stddev, 288.6749902572095);
});

test('unsorted fractional samples match numpy to the last bit', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) / 7);
  const d = describe(xs);
  assert.deepEqual(
    [d.p50, d.p90, d.p95, d.p99, d.p99_9],
    [71.35714285714286, 128.44285714285715, 135.57857142857142, 141.28714285714284, 142.57157142857145],
  );
  close(d.mean, 71.35714285714285);
  close(d.stddev, 41.2392843224585);

  const ys = Array.from({ length: 373 }, (_, i) => ((i * 7919) % 997) * 0.013 + (i % 7) * 1.7);
  const e = describe(ys);
  assert.deepEqual(
    [e.p50, e.p90, e.p95, e.p99, e.p99_9],
    [11.545, 18.660399999999996, 20.2442, 21.25364, 21.297164],
  );
  close(e.mean, 11.698603217158176);
  close(e.stddev, 4.869011849387951);
});

test('describe does not modify its input; percentileOfSorted rejects bad percents', () => {
  const xs = [3, 1, 2];
  describe(xs);
  assert.deepEqual(xs, [3, 1, 2]);
  assert.ok(Number.isNaN(percentileOfSorted([], 50)));
  assert.throws(() => percentileOfSorted([1], 101), RangeError);
  assert.equal(percentileOfSorted([1, 2], 0), 1);
  assert.equal(percentileOfSorted([1, 2], 100), 2);
});
