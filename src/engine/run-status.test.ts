// A run's status from its iteration summaries: interrupted, failed (and why) or complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeIteration } from '../metrics/aggregate.js';
import { type IterationInfo } from '../metrics/iteration-summary.js';
import type { ErrorClass } from '../metrics/record.js';
import { streamedRecord } from '../metrics/testing/record-fixtures.js';
import { DEFAULT_MAX_ERROR_RATE, judgeRun } from './run-status.js';

const info: IterationInfo = {
  iteration: 0,
  scenario: 'D(8,4)',
  mode: 'concurrency',
  concurrency: 1,
  wall_s: 1,
  warmup_requests: 0,
  ended_by: 'max_requests',
};

/** An iteration with `ok` completed requests and one failure per listed class. */
function point(ok: number, errors: ErrorClass[], iteration = 0) {
  const records = [
    ...Array.from({ length: ok }, (_, i) =>
      streamedRecord({ index: i, sent_ms: i, chunks_ms: [i + 5, i + 6] }),
    ),
    ...errors.map((error_class, i) =>
      streamedRecord({ index: ok + i, sent_ms: 0, status: 'error', error_class, done_ms: 3 }),
    ),
  ];
  return summarizeIteration(records, { ...info, iteration }, []);
}

const judge = (summaries: ReturnType<typeof point>[], maxErrorRate = DEFAULT_MAX_ERROR_RATE) =>
  judgeRun(summaries, { interrupted: false, failFast: null, maxErrorRate });

test('the error rate is over the whole run: above the maximum fails, at it passes', () => {
  assert.equal(DEFAULT_MAX_ERROR_RATE, 0.5);
  // 3 errors of 6 measured requests over two points: 50%, not above 50%.
  const half = [point(3, ['http_5xx', 'http_5xx']), point(0, ['timeout'], 1)];
  assert.deepEqual(judge(half), { status: 'complete', failure: null });
  const verdict = judge(half, 0.4);
  assert.equal(verdict.status, 'failed');
  assert.equal(verdict.failure?.kind, 'error_rate');
  assert.equal(verdict.failure?.error_rate, 0.5);
  assert.deepEqual(verdict.failure?.errors_by_class, { http_5xx: 2, timeout: 1 });
  assert.equal(
    verdict.failure?.reason,
    'error rate 50% (3 of 6 measured requests: http_5xx 2, timeout 1) is above the maximum 40% (--max-error-rate, spec.maxErrorRate)',
  );
});

test('nothing completed fails whatever the maximum; an interruption stands; fail fast says its cause', () => {
  const none = judge([point(0, ['connection', 'connection'])], 1);
  assert.equal(none.failure?.kind, 'no_request_completed');
  assert.equal(none.failure?.reason, 'no measured request completed (2 errored: connection 2)');
  assert.deepEqual(
    judgeRun([point(0, ['connection'])], { interrupted: true, failFast: null, maxErrorRate: 0.5 }),
    {
      status: 'interrupted',
      failure: null,
    },
  );
  const cause = {
    iteration: 0,
    error_class: 'http_4xx' as const,
    requests: 20,
    request_id: '0-0',
    http_status: 404,
    error_message: 'HTTP 404: Not found',
  };
  const fast = judgeRun([point(0, Array(20).fill('http_4xx'))], {
    interrupted: false,
    failFast: cause,
    maxErrorRate: 0.5,
  });
  assert.equal(fast.failure?.kind, 'fail_fast');
  assert.match(
    fast.failure?.reason ?? '',
    /^stopped early: the first 20 measured requests of iteration 0 all failed with http_4xx: HTTP 404: Not found/,
  );
});
