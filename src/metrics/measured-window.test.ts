// The measured window: duration for throughputs, and the window for server scrapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measuredDuration, measuredWindowUs } from './measured-window.js';
import { streamedRecord } from './testing/record-fixtures.js';

test('duration runs from the first sent_at to the last token, not to a later done_at', () => {
  const d = measuredDuration([
    streamedRecord({ index: 0, sent_ms: 1000, chunks_ms: [1100, 2000], done_ms: 3500 }),
    streamedRecord({ index: 1, sent_ms: 1500, chunks_ms: [1600, 1900] }),
  ]);
  assert.deepEqual(d, { start_us: 1_000_000, duration_s: 1, duration_basis: 'last_token' });
});

test('without any token the duration runs to the last done_at; without anything it is null', () => {
  const tokenless = streamedRecord({ index: 0, sent_ms: 0, headers_ms: 10, done_ms: 250 });
  assert.deepEqual(measuredDuration([tokenless]), {
    start_us: 0,
    duration_s: 0.25,
    duration_basis: 'done',
  });
  const unfinished = streamedRecord({ index: 0, sent_ms: 5, done_ms: null });
  assert.deepEqual(measuredDuration([unfinished]), {
    start_us: 5000,
    duration_s: null,
    duration_basis: null,
  });
  assert.deepEqual(measuredDuration([]), { start_us: Infinity, duration_s: null, duration_basis: null });
});

test('the scrape window leaves warmup out and ends each request at its last token, else done, else sent', () => {
  const records = [
    streamedRecord({ index: 0, phase: 'warmup', sent_ms: 0, chunks_ms: [5000] }),
    streamedRecord({ index: 1, sent_ms: 100, chunks_ms: [200, 300], done_ms: 900 }),
    streamedRecord({ index: 2, sent_ms: 150, status: 'error', done_ms: 400 }),
  ];
  assert.deepEqual(measuredWindowUs(records), { start_us: 100_000, end_us: 400_000 });
  assert.equal(measuredWindowUs(records.slice(0, 1)), null);
});
