// The fail-fast watch on hand-built records: it trips on the 20th measured failure of one class, once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorClass } from '../metrics/record.js';
import { streamedRecord } from '../metrics/testing/record-fixtures.js';
import { FAIL_FAST_REQUESTS, FailFastWatch, describeFailFast } from './fail-fast.js';

const failure = (index: number, error_class: ErrorClass = 'http_4xx') => ({
  ...streamedRecord({ index, sent_ms: 0, status: 'error', error_class, done_ms: 1 }),
  http_status: 404,
  error_message: 'HTTP 404: Not found: POST /v2/generate/v1/chat/completions',
});

test('trips on the 20th measured failure of one class, once, quoting the first', () => {
  const watch = new FailFastWatch();
  assert.equal(FAIL_FAST_REQUESTS, 20);
  // Warmup and cancelled records do not count.
  assert.equal(watch.observe({ ...failure(0, 'timeout'), phase: 'warmup' }), false);
  assert.equal(watch.observe({ ...failure(1, 'timeout'), status: 'cancelled' }), false);
  const trips = Array.from({ length: 25 }, (_, i) => watch.observe(failure(2 + i)));
  assert.deepEqual(
    trips.map((t, i) => (t ? i : -1)).filter((i) => i >= 0),
    [19],
  );
  assert.equal(watch.cause?.error_class, 'http_4xx');
  assert.equal(watch.cause?.requests, 20);
  assert.equal(watch.cause?.request_id, '0-2');
  assert.match(
    describeFailFast(watch.cause!),
    /^the first 20 measured requests of iteration 0 all failed with http_4xx: HTTP 404: Not found: POST \/v2\/generate\/v1\/chat\/completions \(first: request 0-2\)$/,
  );
});

test('a completed request or a second error class settles it for the iteration', () => {
  const ok = new FailFastWatch();
  for (let i = 0; i < 19; i++) ok.observe(failure(i));
  ok.observe(streamedRecord({ index: 19, sent_ms: 0, chunks_ms: [1, 2] }));
  assert.ok(Array.from({ length: 40 }, (_, i) => ok.observe(failure(20 + i))).every((t) => !t));
  assert.equal(ok.cause, null);

  const mixed = new FailFastWatch();
  mixed.observe(failure(0, 'http_5xx'));
  mixed.observe(failure(1, 'timeout'));
  assert.ok(Array.from({ length: 40 }, (_, i) => mixed.observe(failure(2 + i, 'http_5xx'))).every((t) => !t));
});
