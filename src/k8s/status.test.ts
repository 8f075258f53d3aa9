import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveStatus, POD_WAIT_LIMIT_MS, type Observed } from './status.js';

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

test('a pod that finished before its Job says so is still Running, never back to Pending', () => {
  const done = deriveStatus(
    { state: 'Running' },
    { ...base, job: { complete: false, failed: false }, pod: { phase: 'Succeeded', exitCode: 0 } },
    NOW,
  );
  assert.equal(done.status.state, 'Running');
  assert.equal(done.transition, null);
});

test('a pod that cannot start says why; a hopeless reason, or a wait past the limit, fails the job', () => {
  const created = '2026-12-07T09:58:00.000Z';
  const pulling = deriveStatus(
    {},
    {
      ...base,
      job: { complete: false, failed: false },
      pod: {
        createdAt: created,
        waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' },
      },
    },
    NOW,
  );
  assert.equal(pulling.status.state, 'Pending');
  assert.match(pulling.details ?? '', /waiting: ImagePullBackOff: Back-off pulling image/);
  const bad = deriveStatus(
    {},
    {
      ...base,
      job: { complete: false, failed: false },
      pod: { createdAt: created, waiting: { reason: 'InvalidImageName' } },
    },
    NOW,
  );
  assert.equal(bad.status.state, 'Failed');
  assert.match(bad.status.failureMessage ?? '', /InvalidImageName/);
  const late = new Date(new Date(created).getTime() + POD_WAIT_LIMIT_MS + 1000).toISOString();
  const stuck = deriveStatus(
    {},
    {
      ...base,
      job: { complete: false, failed: false },
      pod: {
        createdAt: created,
        waiting: { reason: 'CreateContainerConfigError', message: 'secret "keys" not found' },
      },
    },
    late,
  );
  assert.equal(stuck.status.state, 'Failed');
  assert.match(stuck.status.failureMessage ?? '', /secret "keys" not found/);
});

test('a Job deleted after the run started fails the job; it is not made again', () => {
  const gone = deriveStatus({ state: 'Running', startTime: NOW }, { ...base, jobGone: true }, NOW);
  assert.equal(gone.status.state, 'Failed');
  assert.match(gone.status.failureMessage ?? '', /deleted before the run ended/);
});
