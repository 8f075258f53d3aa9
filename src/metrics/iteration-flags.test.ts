// Flags and warnings that say when an iteration's figures should not be trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describe, emptyDistribution } from './percentiles.js';
import type { IterationDistributions, IterationInfo } from './iteration-summary.js';
import { iterationFlags, MIN_SAMPLES_FOR_P99 } from './iteration-flags.js';

const samples = (n: number, value = 20): number[] => Array.from({ length: n }, () => value);

function distributions(over: Partial<IterationDistributions> = {}): IterationDistributions {
  const empty = emptyDistribution();
  return {
    ttfb_ms: empty,
    ttft_ms: empty,
    ttfo_ms: empty,
    e2e_latency_ms: empty,
    e2e_done_ms: empty,
    client_queue_ms: empty,
    e2e_plus_queue_ms: null,
    tpot_ms: empty,
    itl_ms: empty,
    tokens_per_chunk: empty,
    decode_speed_tokens_per_s: empty,
    output_tokens: empty,
    input_tokens: empty,
    ...over,
  };
}

const info: IterationInfo = {
  iteration: 0,
  scenario: 'D(100,100)',
  mode: 'rate',
  rate_rps: 5,
  wall_s: 1,
  warmup_requests: 0,
  ended_by: 'max_time',
};

test('low samples: latency fields with 1..369 samples, never non-latency ones or empty ones', () => {
  const { flags, warnings } = iterationFlags(
    distributions({
      ttft_ms: describe(samples(12)),
      tpot_ms: describe(samples(MIN_SAMPLES_FOR_P99)),
      output_tokens: describe(samples(3)),
    }),
    info,
  );
  assert.equal(flags.low_samples, true);
  assert.deepEqual(flags.low_sample_metrics, ['ttft_ms']);
  assert.deepEqual(warnings, [
    'p99 from fewer than 370 samples (no distribution-free 95% interval): ttft_ms n=12',
  ]);
});

test('event loop, dropped and late arrivals: flags and warnings in that order', () => {
  const { flags, warnings } = iterationFlags(distributions({ itl_ms: describe(samples(400, 40)) }), {
    ...info,
    event_loop_delay: { p99_ms: 4.5, max_ms: 9 },
    dropped_arrivals: 3,
    late_arrivals: 2,
  });
  assert.deepEqual(flags, {
    low_samples: false,
    low_sample_metrics: [],
    event_loop_flag: true,
    event_loop: { p99_ms: 4.5, max_ms: 9, threshold_ms: 4 },
    dropped_arrivals: true,
  });
  assert.deepEqual(warnings, [
    'client event-loop delay p99 4.50 ms exceeds 4.00 ms: timestamps may be skewed',
    '3 arrivals dropped (no free slot): the offered load was not fully sent',
    '2 arrivals sent late: see client_queue_ms',
  ]);
});

test('nothing to distrust: no flag, no warning, no event-loop figures when none were taken', () => {
  const { flags, warnings } = iterationFlags(distributions(), info);
  assert.deepEqual(flags, {
    low_samples: false,
    low_sample_metrics: [],
    event_loop_flag: false,
    event_loop: null,
    dropped_arrivals: false,
  });
  assert.deepEqual(warnings, []);
});
