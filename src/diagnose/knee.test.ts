/**
 * The saturation knee: the demo's shape (throughput still rising a little from 4 to 16
 * streams while the median TTFT climbs from 43 to 672 ms) is a knee at 4; linear scaling
 * is none; a scenario is judged on its own levels only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { knees, type KneeLevel } from './knee.js';

const level = (scenario: string, concurrency: number, tps: number, ttft: number): KneeLevel<string> => ({
  scenario,
  concurrency,
  output_throughput_tokens_per_s: tps,
  ttft_p50_ms: ttft,
  point: `${scenario}@c${concurrency}`,
});

test('the demo: throughput +40 % for 4× the streams while TTFT grows 15×: the knee is at 4', () => {
  const found = knees([level('D', 1, 60, 40), level('D', 4, 230, 43), level('D', 16, 320, 672)]);
  assert.deepEqual(
    found.map((k) => [k.knee.point, k.next.point]),
    [['D@c4', 'D@c16']],
  );
});

test('linear scaling, or TTFT that holds, is no knee', () => {
  assert.deepEqual(knees([level('D', 1, 60, 40), level('D', 4, 240, 41), level('D', 16, 950, 45)]), []);
  // Throughput flat but TTFT steady (a client-bound run) is not the server saturating.
  assert.deepEqual(knees([level('D', 1, 60, 40), level('D', 4, 61, 42)]), []);
});

test('each scenario on its own levels, in concurrency order whatever the input order', () => {
  const found = knees([
    level('B', 8, 300, 500),
    level('A', 1, 60, 40),
    level('B', 2, 200, 50),
    level('A', 2, 120, 41),
  ]);
  assert.deepEqual(
    found.map((k) => k.knee.point),
    ['B@c2'],
  );
});
