/**
 * The pure parts of judging a point: the binomial tail behind the tail test, the tail
 * test on samples with a few slow requests, and the shapes judgeChange gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binomialUpperTail, judgeChange, tailTests } from './compare-point.js';
import type { ChangeTest, StatChange } from './diagnosis.js';
import type { RequestSample } from './point-data.js';

test('binomialUpperTail: exact values', () => {
  assert.equal(binomialUpperTail(0, 10, 0.5), 1);
  assert.equal(binomialUpperTail(11, 10, 0.5), 0);
  // P(X ≥ 8 | 10, ½) = (45 + 10 + 1) / 1024
  assert.ok(Math.abs(binomialUpperTail(8, 10, 0.5) - 56 / 1024) < 1e-12);
  assert.ok(binomialUpperTail(20, 300, 0.01) < 1e-8);
  assert.ok(binomialUpperTail(3, 300, 0.01) > 0.3);
  // Far below the mean (many requests, few above the p99): close to 1, not 0.
  assert.ok(binomialUpperTail(1, 80_000, 0.01) > 0.999_999);
  assert.ok(binomialUpperTail(5, 80_000, 0.01) > 0.999_999);
  // Just past the mean: about a half.
  const near = binomialUpperTail(801, 80_000, 0.01);
  assert.ok(near > 0.4 && near < 0.6, String(near));
});

const sample = (e2e: number, i: number): RequestSample => ({
  run_id: 'r',
  iteration: 0,
  request_id: `0-${i}`,
  trace_id: null,
  line: i + 1,
  ttft_ms: e2e / 4,
  tpot_ms: 1,
  e2e_latency_ms: e2e,
  client_queue_ms: 0,
});

test('tailTests: 5 % of requests far out is significant, the same samples are not', () => {
  const base = Array.from({ length: 300 }, (_, i) => sample(100 + (i % 10), i));
  const slow = base.map((r, i) => (i % 20 === 0 ? sample(600, i) : r));
  const tail = tailTests(slow, base).find((t) => t.metric === 'e2e_latency.tail');
  assert.ok(tail?.significant);
  const same = tailTests(base, base).find((t) => t.metric === 'e2e_latency.tail');
  assert.equal(same?.significant, false);
});

const stat = (metric: string, s: StatChange['stat'], change: number): StatChange => ({
  metric,
  field: `${metric}_ms`,
  unit: 'ms',
  stat: s,
  baseline: 100,
  current: 100 * (1 + change),
  relative_change: change,
  verdict: Math.abs(change) < 0.1 ? 'same' : change > 0 ? 'worse' : 'better',
});
const tst = (metric: string, significant: boolean): ChangeTest => ({
  method: 'requests',
  metric,
  samples_baseline: 300,
  samples_current: 300,
  shift: null,
  shift_low: null,
  shift_high: null,
  p_value: significant ? 1e-6 : 0.5,
  significant,
});

test('judgeChange: whole distribution, tail only, improved, unchanged', () => {
  const whole = [stat('ttft', 'p50', 0.5), stat('ttft', 'p99', 0.5), stat('ttft', 'mean', 0.5)];
  assert.deepEqual(judgeChange(whole, [tst('ttft', true)], null), {
    changed: true,
    shape: 'whole-distribution',
  });
  // The same numbers without a significant test are not a change.
  assert.deepEqual(judgeChange(whole, [tst('ttft', false)], null), { changed: false, shape: 'unchanged' });
  const tail = [
    stat('e2e_latency', 'p50', 0.02),
    stat('e2e_latency', 'p99', 1.2),
    stat('e2e_latency', 'mean', 0.12),
  ];
  assert.deepEqual(judgeChange(tail, [tst('e2e_latency', false), tst('e2e_latency.tail', true)], null), {
    changed: true,
    shape: 'tail-only',
  });
  const faster = [stat('tpot', 'p50', -0.3), stat('tpot', 'p99', -0.3), stat('tpot', 'mean', -0.3)];
  assert.deepEqual(judgeChange(faster, [tst('tpot', true)], null), { changed: true, shape: 'improved' });
  // A throughput drop is a change of the whole where a latency test says something changed…
  assert.deepEqual(judgeChange([], [tst('e2e_latency', true)], -0.3), {
    changed: true,
    shape: 'whole-distribution',
  });
  // …and not on its own (an A/A pair's throughput moves with host noise).
  assert.deepEqual(judgeChange([], [tst('e2e_latency', false)], -0.3), {
    changed: false,
    shape: 'unchanged',
  });
});

test('tailTests: too few requests for a p99 are not tested (a max of 5 is no threshold)', () => {
  const base = Array.from({ length: 5 }, (_, i) => sample(100 + i, i));
  const slower = Array.from({ length: 5 }, (_, i) => sample(103 + i, i));
  assert.deepEqual(tailTests(slower, base), []);
});
