// Peak figures: requests in flight, and output tokens per one-second bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peakConcurrency, peakOutputThroughput } from './peaks.js';
import { streamedRecord } from './testing/record-fixtures.js';

test('a request without any later stamp than sent_at is never in flight', () => {
  const instant = streamedRecord({ index: 0, sent_ms: 10, done_ms: null });
  assert.equal(peakConcurrency([instant]), 0);
  const overlapping = [
    streamedRecord({ index: 1, sent_ms: 0, headers_ms: 50 }),
    streamedRecord({ index: 2, sent_ms: 20, chunks_ms: [60] }),
  ];
  assert.equal(peakConcurrency([instant, ...overlapping]), 2);
});

test('the buckets sum to the server counts: unknown chunk sizes share a request evenly', () => {
  const r = streamedRecord({ index: 0, sent_ms: 0, chunks_ms: [100, 1100, 1200], output_tokens: 12 });
  r.chunk_tokens = [];
  // 4 tokens in the first second, 8 in the second.
  assert.equal(peakOutputThroughput([r], 0), 8);
  assert.equal(peakOutputThroughput([streamedRecord({ index: 1, sent_ms: 0 })], 0), null);
});
