// The summary's prefix_cache: requests by cache state with their TTFT, the token hit rate over
// the requests that report a cached count, and absence for workloads that share no prefix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeIteration } from './aggregate.js';
import type { IterationInfo } from './iteration-summary.js';
import { streamedRecord } from './testing/record-fixtures.js';

const info: IterationInfo = {
  iteration: 0,
  scenario: 'D(100,100)',
  mode: 'concurrency',
  concurrency: 4,
  wall_s: 10,
  warmup_requests: 0,
  ended_by: 'max_requests',
};

function record(index: number, ttft_ms: number, cached: number | null, over: Record<string, unknown> = {}) {
  const r = streamedRecord({
    index,
    sent_ms: 1000 * index,
    chunks_ms: [1000 * index + ttft_ms, 1000 * index + ttft_ms + 10],
    input_tokens: 400,
  });
  r.prefix_group = index % 2;
  r.cached_tokens = cached;
  return Object.assign(r, over);
}

test('prefix_cache: hit / miss / unknown TTFT and the token hit rate', () => {
  const records = [
    record(0, 100, 0),
    record(1, 100, 0),
    record(2, 40, 256),
    record(3, 30, 384),
    record(4, 80, null),
    // Warmup and errored requests are left out of every figure.
    record(5, 1, 400, { phase: 'warmup' }),
    record(6, 1, 400, { status: 'error', error_class: 'protocol' }),
  ];
  const s = summarizeIteration(records, info, []);
  const pc = s.prefix_cache;
  assert.ok(pc);
  assert.equal(pc.cached_tokens_total, 640);
  // 640 cached of the 1600 input tokens of the four requests that report a count (the unknown one is left out).
  assert.equal(pc.token_hit_rate, 640 / 1600);
  const by = Object.fromEntries(pc.by_state.map((b) => [b.state, b]));
  assert.deepEqual(
    pc.by_state.map((b) => [b.state, b.requests]),
    [
      ['hit', 2],
      ['miss', 2],
      ['unknown', 1],
    ],
  );
  assert.equal(by.hit!.ttft_ms.mean, 35);
  assert.equal(by.miss!.ttft_ms.mean, 100);
  assert.equal(by.unknown!.ttft_ms.max, 80);
});

test('prefix_cache: absent without prefix groups or cached counts; groups alone give unknown states', () => {
  const plain = streamedRecord({ sent_ms: 0, chunks_ms: [50, 60] });
  assert.equal(summarizeIteration([plain], info, []).prefix_cache, undefined);
  assert.equal('prefix_cache' in summarizeIteration([plain], info, []), false);
  const grouped = record(0, 50, null);
  const pc = summarizeIteration([grouped], info, []).prefix_cache;
  assert.ok(pc);
  assert.equal(pc.token_hit_rate, null);
  assert.deepEqual(
    pc.by_state.map((b) => b.requests),
    [0, 0, 1],
  );
});
