import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveStatus, type Observed } from './status.js';

const base: Observed = {
  invalid: null,
  waiting: null,
  cancelRequested: false,
  job: null,
  pod: null,
  workers: 1,
};
const NOW = '2026-12-07T10:00:00.000Z';

test('Pending → Running → Completed follows the Job and its pod, with one transition each', () => {
  const pending = deriveStatus({}, base, NOW);
  assert.equal(pending.status.state, 'Pending');
  assert.equal(pending.details, 'creating the benchmark Job');
  assert.ok(pending.transition);
  const again = deriveStatus(pending.status, { ...base, job: { complete: false, failed: false } }, NOW);
  assert.equal(again.status.state, 'Pending');
  assert.equal(again.transition, null, 'no second event for the same state');
  const running = deriveStatus(
    pending.status,
    {
      ...base,
      job: { complete: false, failed: false },
      pod: { phase: 'Running', startTime: '2026-12-07T09:59:00.000Z' },
    },
    NOW,
  );
  assert.equal(running.status.state, 'Running');
  assert.equal(running.status.startTime, '2026-12-07T09:59:00.000Z');
  assert.equal(running.details, undefined, 'the runner owns details once it runs');
  const done = deriveStatus(
    running.status,
    { ...base, job: { complete: true, failed: false }, outcome: { result: 'succeeded' } },
    '2026-12-07T10:05:00.000Z',
  );
  assert.equal(done.status.state, 'Completed');
  assert.equal(done.status.completionTime, '2026-12-07T10:05:00.000Z');
  assert.equal(done.status.startTime, '2026-12-07T09:59:00.000Z');
  assert.equal(done.status.conditions?.find((c) => c.type === 'Succeeded')?.status, 'True');
  // Terminal stays terminal: the Job going away later does not reopen it.
  assert.equal(deriveStatus(done.status, base, NOW).status.state, 'Completed');
});

test("a failed run says why: the runner's reason, else the pod's message, else its exit code", () => {
  const running = { state: 'Running' as const };
  const byRunner = deriveStatus(
    running,
    {
      ...base,
      job: { complete: false, failed: true },
      outcome: { result: 'failed', reason: 'error rate 100% is over the limit 5%' },
    },
    NOW,
  );
  assert.equal(byRunner.status.state, 'Failed');
  assert.equal(byRunner.status.failureMessage, 'error rate 100% is over the limit 5%');
  assert.equal(byRunner.transition?.warning, true);
  // A Job that completed while the runner said failed is still a failure.
  assert.equal(
    deriveStatus(
      running,
      { ...base, job: { complete: true, failed: false }, outcome: { result: 'failed', reason: 'r' } },
      NOW,
    ).status.state,
    'Failed',
  );
  const byPod = deriveStatus(
    running,
    {
      ...base,
      job: { complete: false, failed: true },
      pod: { exitCode: 2, terminationMessage: 'x'.repeat(1000) },
    },
    NOW,
  );
  assert.ok(byPod.status.failureMessage!.length <= 401);
  const byCode = deriveStatus(
    running,
    { ...base, job: { complete: false, failed: true }, pod: { exitCode: 137 } },
    NOW,
  );
  assert.equal(byCode.status.failureMessage, 'the benchmark pod exited with code 137');
  const invalid = deriveStatus({}, { ...base, invalid: 'spec.task: expected one of …' }, NOW);
  assert.equal(invalid.status.state, 'Failed');
  assert.equal(invalid.status.failureMessage, 'spec.task: expected one of …');
});

test('cancel: before the pod runs it is Cancelled at once; while it runs, once the runner has ended', () => {
  assert.equal(deriveStatus({}, { ...base, cancelRequested: true }, NOW).status.state, 'Cancelled');
  const running = {
    ...base,
    cancelRequested: true,
    job: { complete: false, failed: false },
    pod: { phase: 'Running' },
  };
  assert.equal(deriveStatus({ state: 'Running' }, running, NOW).status.state, 'Running');
  const ended = {
    ...running,
    job: { complete: false, failed: true },
    pod: { phase: 'Failed', exitCode: 130 },
    outcome: { result: 'cancelled' as const },
  };
  assert.equal(deriveStatus({ state: 'Running' }, ended, NOW).status.state, 'Cancelled');
});

test('waiting for an InferenceService is Pending, and says so', () => {
  const waiting = deriveStatus(
    {},
    { ...base, waiting: 'waiting for InferenceService ns/m to be Ready' },
    NOW,
  );
  assert.equal(waiting.status.state, 'Pending');
  assert.equal(waiting.details, 'waiting for InferenceService ns/m to be Ready');
});
