// Per-request formulas (METRICS.md) on hand-built records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { streamedRecord } from './testing/record-fixtures.js';
import { requestMetrics } from './request-metrics.js';
import { meetsSlo } from './goodput.js';
import type { Slo } from '../spec/slo-types.js';

test('TTFT ends at the first real token, not at the headers; TTFO at the first non-reasoning output', () => {
  // Headers (and a role-only delta, which the backend does not stamp) at 40 ms,
  // reasoning from 120 ms, visible answer from 300 ms.
  const m = requestMetrics(
    streamedRecord({
      scheduled_ms: 990,
      sent_ms: 1000,
      headers_ms: 1040,
      chunks_ms: [1120, 1200, 1300, 1400],
      first_output_ms: 1300,
      done_ms: 1405,
    }),
  );
  assert.equal(m.ttfb_ms, 40);
  assert.equal(m.ttft_ms, 120);
  assert.equal(m.ttfo_ms, 300);
  assert.equal(m.e2e_latency_ms, 400);
  assert.equal(m.e2e_done_ms, 405);
  assert.equal(m.client_queue_ms, 10);
  assert.equal(m.e2e_plus_queue_ms, 410);
  assert.deepEqual(m.itl_ms, [80, 100, 100]);
});

test('TPOT = (e2e − ttft)/(n − 1) with server token counts; decode speed = 1/TPOT', () => {
  // 4 chunks but the server says 9 tokens: (400 − 100) / 8 = 37.5 ms
  const m = requestMetrics(
    streamedRecord({ sent_ms: 0, chunks_ms: [100, 200, 300, 400], chunk_tokens: [1, 2, 3, 3] }),
  );
  assert.equal(m.tpot_ms, 37.5);
  assert.equal(m.decode_speed_tokens_per_s, 1000 / 37.5);
});

test('TPOT and decode speed are undefined below 2 output tokens and when all output came in one event', () => {
  const one = requestMetrics(streamedRecord({ sent_ms: 0, chunks_ms: [100] }));
  assert.equal(one.tpot_ms, null);
  assert.equal(one.decode_speed_tokens_per_s, null);
  assert.deepEqual(one.itl_ms, []);
  const nonStreamed = requestMetrics(streamedRecord({ sent_ms: 0, chunks_ms: [500], chunk_tokens: [20] }));
  assert.equal(nonStreamed.tpot_ms, null);
  assert.equal(nonStreamed.decode_speed_tokens_per_s, null);
});

test('missing stamps give null, not 0', () => {
  const m = requestMetrics(streamedRecord({ sent_ms: 0, status: 'error', error_class: 'connection' }));
  assert.equal(m.ttft_ms, null);
  assert.equal(m.ttfb_ms, null);
  assert.equal(m.e2e_latency_ms, null);
  assert.equal(m.e2e_plus_queue_ms, null);
});

const slo = (metric: Slo['metric'], op: Slo['op'], threshold: number): Slo => ({
  text: `p99_${metric}${op}${threshold}`,
  metric,
  percentile: 99,
  op,
  threshold,
});

test('meetsSlo: per request; a missing metric fails; itl must hold for every gap', () => {
  const m = requestMetrics(streamedRecord({ sent_ms: 0, chunks_ms: [100, 110, 150] }));
  assert.equal(meetsSlo(m, slo('ttft_ms', '<=', 100)), true);
  assert.equal(meetsSlo(m, slo('ttft_ms', '<', 100)), false);
  assert.equal(meetsSlo(m, slo('itl_ms', '<=', 40)), true);
  assert.equal(meetsSlo(m, slo('itl_ms', '<=', 39)), false);
  assert.equal(meetsSlo(m, slo('tpot_ms', '<=', 25)), true);
  assert.equal(meetsSlo(m, slo('e2e_latency_ms', '>', 150)), false);
  const single = requestMetrics(streamedRecord({ sent_ms: 0, chunks_ms: [100] }));
  assert.equal(meetsSlo(single, slo('tpot_ms', '<=', 1e9)), false);
  assert.equal(meetsSlo(single, slo('itl_ms', '<=', 1e9)), false);
  assert.equal(meetsSlo(single, slo('ttfb_ms', '<=', 1e9)), false);
});
