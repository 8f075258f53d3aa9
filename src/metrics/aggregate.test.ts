// Iteration aggregates (METRICS.md) on hand-built records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeIteration } from './aggregate.js';
import { eventLoopThresholdMs, MIN_SAMPLES_FOR_P99 } from './iteration-flags.js';
import { peakConcurrency, peakOutputThroughput } from './peaks.js';
import { type IterationInfo } from './iteration-summary.js';
import { evenChunks, streamedRecord } from './testing/record-fixtures.js';
import { listMetrics, metricsMarkdownTable } from './definitions.js';
import type { Slo } from '../spec/slo-types.js';

const info = (over: Partial<IterationInfo> = {}): IterationInfo => ({
  iteration: 0,
  scenario: 'D(100,100)',
  mode: 'concurrency',
  concurrency: 4,
  wall_s: 10,
  warmup_requests: 0,
  ended_by: 'max_requests',
  ...over,
});

test('duration = max(last_token_at) − min(sent_at); throughputs count completed requests over it', () => {
  const records = [
    // sent at 1.0 s, last token at 2.0 s, [DONE] later at 3.5 s: done does not extend the window
    streamedRecord({
      index: 0,
      sent_ms: 1000,
      chunks_ms: [1100, 1500, 2000],
      done_ms: 3500,
      input_tokens: 50,
    }),
    streamedRecord({ index: 1, sent_ms: 1500, chunks_ms: [1600, 2800, 3000], input_tokens: 70 }),
    // an error without tokens: in the window's start candidates, not in the throughput
    streamedRecord({
      index: 2,
      sent_ms: 1200,
      status: 'error',
      error_class: 'http_5xx',
      headers_ms: 1250,
      done_ms: 1250,
    }),
  ];
  const s = summarizeIteration(records, info({ wall_s: 9 }), []);
  assert.equal(s.duration_s, 2);
  assert.equal(s.duration_basis, 'last_token');
  assert.equal(s.wall_s, 9);
  assert.equal(s.request_throughput_rps, 1);
  assert.equal(s.output_throughput_tokens_per_s, 3);
  assert.equal(s.input_throughput_tokens_per_s, 60);
  assert.equal(s.total_token_throughput_tokens_per_s, 63);
  assert.equal(s.tokens.output_total, 6);
  assert.equal(s.tokens.input_total, 120);
  assert.deepEqual(s.tokens.output_tokens_source, { server: 2, tokenizer: 0 });
  assert.equal(s.goodput_rps, null);
  assert.equal(s.goodput, null);
});

test('warmup requests are excluded from every figure but counted', () => {
  const records = [
    streamedRecord({ index: 0, phase: 'warmup', sent_ms: 0, chunks_ms: [5000, 5001] }),
    streamedRecord({ index: 1, sent_ms: 1000, chunks_ms: [1100, 1200] }),
    streamedRecord({ index: 2, sent_ms: 1000, chunks_ms: [1300, 2000] }),
  ];
  const s = summarizeIteration(records, info({ warmup_requests: 1 }), []);
  assert.equal(s.requests.total, 3);
  assert.equal(s.requests.warmup, 1);
  assert.equal(s.requests.measured, 2);
  assert.equal(s.duration_s, 1);
  assert.equal(s.distributions.ttft_ms.count, 2);
  assert.equal(s.distributions.ttft_ms.max, 300);
  assert.equal(s.peak_concurrency, 2);
});

test('cancelled requests are not errors; error rate is by class over completed + errored', () => {
  const ok = (i: number) =>
    streamedRecord({ index: i, sent_ms: i * 10, chunks_ms: [i * 10 + 100, i * 10 + 200] });
  const records = [
    ok(0),
    ok(1),
    ok(2),
    streamedRecord({ index: 3, sent_ms: 0, status: 'error', error_class: 'http_5xx', done_ms: 50 }),
    streamedRecord({ index: 4, sent_ms: 0, status: 'error', error_class: 'timeout', done_ms: 60 }),
    streamedRecord({ index: 5, sent_ms: 100, status: 'cancelled', chunks_ms: [150] }),
    streamedRecord({ index: 6, sent_ms: 100, status: 'cancelled' }),
  ];
  const s = summarizeIteration(records, info({ ended_by: 'max_time' }), []);
  assert.equal(s.requests.completed, 3);
  assert.equal(s.requests.errored, 2);
  assert.equal(s.requests.cancelled, 2);
  assert.equal(s.error_rate, 0.4);
  assert.equal(s.requests.errors_by_class.http_5xx, 1);
  assert.equal(s.requests.errors_by_class.timeout, 1);
  assert.equal(s.requests.errors_by_class.http_429, 0);
  assert.equal(s.error_rate_by_class?.http_5xx, 0.2);
  assert.equal(s.error_rate_by_class?.timeout, 0.2);
  // latencies come from completed requests only
  assert.equal(s.distributions.ttft_ms.count, 3);
  assert.match(s.warnings.join('\n'), /2 requests cancelled/);
});

test('TPOT excludes requests with fewer than 2 output tokens', () => {
  const records = [
    streamedRecord({ index: 0, sent_ms: 0, chunks_ms: [100] }),
    streamedRecord({ index: 1, sent_ms: 0, chunks_ms: [100, 120, 140] }), // tpot 20
    streamedRecord({ index: 2, sent_ms: 0, chunks_ms: [100, 160] }), // tpot 60
  ];
  const s = summarizeIteration(records, info(), []);
  assert.equal(s.distributions.tpot_ms.count, 2);
  assert.equal(s.distributions.tpot_ms.mean, 40);
  assert.equal(s.distributions.decode_speed_tokens_per_s.count, 2);
  assert.equal(s.distributions.ttft_ms.count, 3);
  assert.equal(s.distributions.output_tokens.count, 3);
});

test('ITL is pooled over every gap of every request, never averaged per request', () => {
  const records = [
    streamedRecord({ index: 0, sent_ms: 0, chunks_ms: evenChunks(100, 10, 5) }), // 4 gaps of 10
    streamedRecord({ index: 1, sent_ms: 0, chunks_ms: [100, 200] }), // 1 gap of 100
  ];
  const s = summarizeIteration(records, info(), []);
  assert.equal(s.distributions.itl_ms.count, 5);
  assert.equal(s.distributions.itl_ms.mean, 28); // pooled; per-request averaging would give 55
  assert.equal(s.distributions.itl_ms.p50, 10);
  assert.equal(s.distributions.itl_ms.max, 100);
  assert.equal(s.distributions.tokens_per_chunk.count, 7);
});

test('goodput: completed requests meeting every SLO, per second of the window', () => {
  const slos: Slo[] = [
    { text: 'p99_ttft_ms<=200', metric: 'ttft_ms', percentile: 99, op: '<=', threshold: 200 },
    { text: 'p50_tpot_ms<=50', metric: 'tpot_ms', percentile: 50, op: '<=', threshold: 50 },
    { text: 'itl_ms<100', metric: 'itl_ms', percentile: null, op: '<', threshold: 100 },
  ];
  const records = [
    // meets all three
    streamedRecord({ index: 0, sent_ms: 0, chunks_ms: [100, 140, 180] }),
    // ttft 300: fails ttft only
    streamedRecord({ index: 1, sent_ms: 0, chunks_ms: [300, 340, 380] }),
    // tpot 55 and one gap of 100 (not < 100): fails tpot and itl
    streamedRecord({ index: 2, sent_ms: 0, chunks_ms: [100, 110, 210] }),
    // one token: lacks tpot and itl — fails both
    streamedRecord({ index: 3, sent_ms: 0, chunks_ms: [150] }),
    // meets all three; sets the window to 2 s
    streamedRecord({ index: 4, sent_ms: 1000, chunks_ms: [1100, 1150, 2000] }),
    // errors meet nothing
    streamedRecord({ index: 5, sent_ms: 0, status: 'error', error_class: 'http_429', done_ms: 10 }),
  ];
  // index 4: gaps 50 and 850 → fails itl; ttft 100, tpot 450 → fails tpot too
  const s = summarizeIteration(records, info(), slos);
  assert.equal(s.duration_s, 2);
  assert.ok(s.goodput);
  assert.deepEqual(
    s.goodput.slos.map((x) => x.met),
    [4, 2, 2],
  );
  assert.equal(s.goodput.met_all, 1);
  assert.equal(s.goodput.attainment, 1 / 6);
  assert.equal(s.goodput_rps, 0.5);
});

test('peak concurrency: sweep line over half-open [sent_at, done_at)', () => {
  const back2back = [
    streamedRecord({ index: 0, sent_ms: 0, chunks_ms: [50, 100] }),
    streamedRecord({ index: 1, sent_ms: 50, chunks_ms: [100, 150] }),
    streamedRecord({ index: 2, sent_ms: 100, chunks_ms: [150, 200] }),
  ];
  assert.equal(peakConcurrency(back2back), 2);
  const nested = [
    streamedRecord({ index: 0, sent_ms: 0, chunks_ms: [50, 100] }),
    streamedRecord({ index: 1, sent_ms: 10, chunks_ms: [15, 20] }),
    streamedRecord({ index: 2, sent_ms: 15, chunks_ms: [20, 30] }),
    // an error without done_at ends at its latest stamp (headers)
    streamedRecord({ index: 3, sent_ms: 16, headers_ms: 18, done_ms: null, status: 'error' }),
  ];
  assert.equal(peakConcurrency(nested), 4);
  assert.equal(peakConcurrency([]), 0);
});

test('peak output throughput: max tokens in a 1-s bucket, tokens at their chunk times', () => {
  const records = [
    // second 0: 10 tokens; second 1: 10 tokens
    streamedRecord({ index: 0, sent_ms: 0, chunks_ms: [100, 900, 1500], chunk_tokens: [5, 5, 10] }),
    // second 1: 20 more tokens (chunk counts unknown → shared evenly: 10 + 10); second 2: 10
    streamedRecord({
      index: 1,
      sent_ms: 500,
      chunks_ms: [1200, 1800, 2100],
      chunk_tokens: [],
      output_tokens: 30,
    }),
  ];
  assert.equal(peakOutputThroughput(records, 0), 30);
  const s = summarizeIteration(records, info(), []);
  assert.equal(s.peak_output_throughput_tokens_per_s, 30);
  // chunk counts scaled to the server's count: 2 chunk tokens but 8 server tokens → 4 each
  const scaled = [
    streamedRecord({ sent_ms: 0, chunks_ms: [100, 1100], chunk_tokens: [1, 1], output_tokens: 8 }),
  ];
  assert.equal(peakOutputThroughput(scaled, 0), 4);
});

test('open loop reports client queue and e2e + queue; closed loop leaves e2e + queue out', () => {
  const records = [
    streamedRecord({ index: 0, scheduled_ms: 0, sent_ms: 30, chunks_ms: [130, 230] }),
    streamedRecord({ index: 1, scheduled_ms: 100, sent_ms: 100, chunks_ms: [200, 300] }),
  ];
  const open = summarizeIteration(records, info({ mode: 'rate', rate_rps: 10, concurrency: undefined }), []);
  assert.equal(open.rate_rps, 10);
  assert.equal(open.concurrency, null);
  assert.equal(open.distributions.client_queue_ms.max, 30);
  assert.equal(open.distributions.e2e_plus_queue_ms?.max, 230);
  assert.equal(open.distributions.e2e_latency_ms.max, 200);
  const closed = summarizeIteration(records, info(), []);
  assert.equal(closed.distributions.e2e_plus_queue_ms, null);
});

test('low-sample flag below ~370 samples; not at 370', () => {
  const make = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      streamedRecord({ index: i, sent_ms: i, chunks_ms: [i + 100, i + 110] }),
    );
  const few = summarizeIteration(make(10), info(), []);
  assert.equal(few.flags.low_samples, true);
  assert.ok(few.flags.low_sample_metrics.includes('ttft_ms'));
  assert.match(few.warnings.join('\n'), /fewer than 370 samples.*ttft_ms n=10/);
  const enough = summarizeIteration(make(MIN_SAMPLES_FOR_P99), info(), []);
  assert.equal(enough.flags.low_samples, false);
  assert.deepEqual(enough.flags.low_sample_metrics, []);
});

test('event-loop flag: p99 delay above 10% of median ITL, clamped to [2, 10] ms', () => {
  assert.equal(eventLoopThresholdMs(null), 10);
  assert.equal(eventLoopThresholdMs(500), 10);
  assert.equal(eventLoopThresholdMs(30), 3);
  assert.equal(eventLoopThresholdMs(4), 2);
  const records = [streamedRecord({ sent_ms: 0, chunks_ms: evenChunks(100, 30, 10) })];
  const calm = summarizeIteration(records, info({ event_loop_delay: { p99_ms: 2.5, max_ms: 8 } }), []);
  assert.equal(calm.flags.event_loop_flag, false);
  assert.deepEqual(calm.flags.event_loop, { p99_ms: 2.5, max_ms: 8, threshold_ms: 3 });
  const busy = summarizeIteration(records, info({ event_loop_delay: { p99_ms: 3.5, max_ms: 8 } }), []);
  assert.equal(busy.flags.event_loop_flag, true);
  assert.match(busy.warnings.join('\n'), /event-loop delay p99 3\.50 ms exceeds 3\.00 ms/);
  const unknown = summarizeIteration(records, info(), []);
  assert.equal(unknown.flags.event_loop, null);
  assert.equal(unknown.flags.event_loop_flag, false);
});

test('dropped arrivals are flagged; empty iterations give nulls, not NaN', () => {
  const s = summarizeIteration(
    [],
    info({ mode: 'rate', rate_rps: 50, dropped_arrivals: 12, late_arrivals: 3 }),
    [],
  );
  assert.equal(s.flags.dropped_arrivals, true);
  assert.equal(s.requests.dropped_arrivals, 12);
  assert.equal(s.duration_s, null);
  assert.equal(s.request_throughput_rps, null);
  assert.equal(s.error_rate, null);
  assert.equal(s.peak_output_throughput_tokens_per_s, null);
  assert.equal(s.distributions.ttft_ms.count, 0);
  assert.match(s.warnings.join('\n'), /12 arrivals dropped/);
});

test('no token at all: duration falls back to done_at', () => {
  const records = [
    streamedRecord({ index: 0, sent_ms: 0, status: 'error', error_class: 'http_4xx', done_ms: 500 }),
    streamedRecord({ index: 1, sent_ms: 100, status: 'error', error_class: 'http_4xx', done_ms: 1000 }),
  ];
  const s = summarizeIteration(records, info(), []);
  assert.equal(s.duration_s, 1);
  assert.equal(s.duration_basis, 'done');
  assert.equal(s.error_rate, 1);
});

test('a point with no completed request has null throughputs, not 0', () => {
  const records = [
    streamedRecord({ index: 0, sent_ms: 0, status: 'error', error_class: 'http_5xx', done_ms: 500 }),
    streamedRecord({ index: 1, sent_ms: 100, status: 'error', error_class: 'timeout', done_ms: 1000 }),
  ];
  const slos: Slo[] = [
    { text: 'ttft_ms<=500', metric: 'ttft_ms', percentile: null, op: '<=', threshold: 500 },
  ];
  const s = summarizeIteration(records, info(), slos);
  assert.equal(s.duration_s, 1, 'the window is still measured');
  assert.equal(s.request_throughput_rps, null);
  assert.equal(s.output_throughput_tokens_per_s, null);
  assert.equal(s.input_throughput_tokens_per_s, null);
  assert.equal(s.total_token_throughput_tokens_per_s, null);
  assert.equal(s.goodput_rps, null);
  assert.equal(s.peak_output_throughput_tokens_per_s, null);
  assert.equal(s.goodput?.attainment, 0, 'attainment still counts the errors');
  assert.equal(s.error_rate, 1);
});

test('the summary is plain JSON and carries every metric of the registry', () => {
  const records = [
    streamedRecord({ index: 0, sent_ms: 0, headers_ms: 20, chunks_ms: [100, 120, 140] }),
    streamedRecord({ index: 1, sent_ms: 10, headers_ms: 30, chunks_ms: [90, 150] }),
  ];
  const slos: Slo[] = [
    { text: 'ttft_ms<=500', metric: 'ttft_ms', percentile: null, op: '<=', threshold: 500 },
  ];
  const s = summarizeIteration(records, info({ mode: 'trace' }), slos);
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  for (const m of listMetrics('request')) {
    assert.ok(m.field in s.distributions, `distributions.${m.field}`);
    const d = s.distributions[m.field as keyof typeof s.distributions];
    assert.ok(d !== null && d.count > 0, `${m.field} has samples`);
  }
  for (const m of listMetrics('iteration')) {
    const value = (s as unknown as Record<string, unknown>)[m.field];
    assert.equal(typeof value, 'number', `${m.field} is a number`);
  }
});

test('metricsMarkdownTable lists every metric with its formula', () => {
  const md = metricsMarkdownTable();
  for (const m of listMetrics()) {
    assert.ok(md.includes(`\`${m.name}\``), m.name);
    assert.ok(md.includes(`\`${m.field}\``), m.field);
  }
  assert.match(md, /\| `ttft` \| `ttft_ms` \| ms \| lower \| first_token_at − sent_at \|/);
  assert.match(md, /vLLM TPOT, genai-bench TPOT/);
  assert.match(md, /`e2e_plus_queue` \(open loop\)/);
});
