// How measured requests ended, and error rates over the finished ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countOutcomes, ERROR_CLASSES, errorRatesByClass, zeroErrorCounts } from './request-outcomes.js';
import { streamedRecord } from './testing/record-fixtures.js';

test('completed, errored by class (unclassified without a class) and cancelled', () => {
  const unclassified = streamedRecord({ index: 3, sent_ms: 0, status: 'error', done_ms: 5 });
  unclassified.error_class = null;
  const records = [
    streamedRecord({ index: 0, sent_ms: 0, chunks_ms: [10, 20] }),
    streamedRecord({ index: 1, sent_ms: 0, status: 'error', error_class: 'timeout', done_ms: 5 }),
    streamedRecord({ index: 2, sent_ms: 0, status: 'cancelled', chunks_ms: [10] }),
    unclassified,
    streamedRecord({ index: 4, sent_ms: 0, chunks_ms: [30] }),
  ];
  const o = countOutcomes(records);
  assert.deepEqual(
    o.completed.map((r) => r.index),
    [0, 4],
  );
  assert.equal(o.errored, 2);
  assert.equal(o.cancelled, 1);
  assert.deepEqual(o.errorsByClass, { ...zeroErrorCounts(), timeout: 1, unclassified: 1 });
});

test('error rates by class are over completed + errored and sum to the error rate; null when none finished', () => {
  const counts = { ...zeroErrorCounts(), http_429: 1, http_5xx: 3 };
  const rates = errorRatesByClass(counts, 8);
  assert.ok(rates);
  assert.equal(rates.http_429, 0.125);
  assert.equal(rates.http_5xx, 0.375);
  assert.equal(
    Object.values(rates).reduce((a, b) => a + b, 0),
    0.5,
  );
  assert.equal(errorRatesByClass(zeroErrorCounts(), 0), null);
});

test('the classes are listed in one order (ERROR_CLASSES), every one at 0', () => {
  assert.deepEqual(Object.keys(zeroErrorCounts()), [
    'http_4xx',
    'http_429',
    'http_5xx',
    'timeout',
    'connection',
    'protocol',
    'oversize',
    'unclassified',
  ]);
  assert.ok(Object.values(zeroErrorCounts()).every((n) => n === 0));
  assert.deepEqual(ERROR_CLASSES, Object.keys(zeroErrorCounts()));
});
