/**
 * The run's events as the runner's status, written through the real client to a raw HTTP
 * stand-in for the API server (testing/api-stand-in.ts; the real one is in
 * runner-status.k8s.test.ts): details, runId, the iteration lines and their bound, and the
 * outcome's agreement with the exit code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubeStatusApi } from './runner-api.js';
import { iterationStatus, MAX_STATUS_ITERATIONS, runOutcome, statusEvents } from './runner-events.js';
import { StatusWriter, type RunnerStatus } from './runner-status.js';
import { startApiStandIn } from './testing/api-stand-in.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { IterationPlan } from '../plan/plan.js';

const TOKEN = 'runner-token-0123456789abcdef';
const TARGET = { name: 'bench', namespace: 'team' };

test("the run's events become details, runId and one line per finished iteration", async () => {
  const api = await startApiStandIn();
  try {
    const writer = new StatusWriter(kubeStatusApi(api.kubeConfig(TOKEN), TARGET), 'bench', { intervalMs: 0 });
    const events = statusEvents(writer);
    const plans = [
      { index: 0, scenario: 'D(100,100)', concurrency: 1 },
      { index: 1, scenario: 'D(100,100)', concurrency: 4 },
    ] as unknown as IterationPlan[];
    const seen: string[] = [];
    const settle = async (): Promise<void> => {
      await writer.flush(2000);
      const body = api.requests[api.requests.length - 1]?.body as { status: RunnerStatus };
      seen.push(body.status.details ?? '');
    };
    events.onRunStart?.({
      runId: 'RUN1',
      dir: '/x',
      plans,
      benchmarkCaseId: 'c',
      runGroupId: 'RUN1',
      repeat: 0,
      repeats: 1,
    });
    events.onIterationStart?.(plans[1] as IterationPlan, 2);
    events.onIterationStart?.(plans[1] as IterationPlan, 2);
    events.onProgress?.(plans[1] as IterationPlan, {
      sent: 8,
      done: 7,
      errors: 1,
      in_flight: 1,
      measured_done: 5,
      max_requests: 20,
      elapsed_s: 1,
      max_time_s: 60,
    });
    await settle();
    assert.equal(seen[0], 'Running iteration 2/2: D(100,100) concurrency=4, 5/20 requests done, 1 errors');
    const statuses = api.requests.map((r) => (r.body as { status: RunnerStatus }).status);
    assert.ok(statuses.some((s) => s.runId === 'RUN1'));
    const summary = {
      iteration: 1,
      scenario: 'D(100,100)',
      concurrency: 4,
      rate_rps: null,
      requests: { measured: 20, completed: 19, errored: 1 },
      distributions: { ttft_ms: { p50: 12.3456, p99: 40.1 } },
      output_throughput_tokens_per_s: 812.5,
    } as unknown as IterationSummary;
    assert.deepEqual(iterationStatus(summary), {
      index: 1,
      scenario: 'D(100,100)',
      concurrency: 4,
      requests: 20,
      errors: 1,
      ttftP50Ms: 12.35,
      ttftP99Ms: 40.1,
      outputTokensPerS: 812.5,
    });
  } finally {
    await api.close();
  }
});

test('the status lists the latest MAX_STATUS_ITERATIONS iterations: a huge plan cannot outgrow the object', async () => {
  const api = await startApiStandIn();
  try {
    const writer = new StatusWriter(kubeStatusApi(api.kubeConfig(TOKEN), TARGET), 'bench', { intervalMs: 0 });
    const events = statusEvents(writer);
    const total = MAX_STATUS_ITERATIONS + 44;
    const plan = { index: 0, scenario: 'D(1,1)', concurrency: 1 } as unknown as IterationPlan;
    const summary = (iteration: number) =>
      ({
        iteration,
        scenario: 'D(1,1)',
        concurrency: 1,
        rate_rps: null,
        requests: { measured: 1, completed: 1, errored: 0 },
        distributions: { ttft_ms: { p50: 1, p99: 1 } },
        output_throughput_tokens_per_s: 1,
      }) as unknown as IterationSummary;
    for (let i = 0; i < total; i++) {
      events.onIterationStart?.(plan, total);
      events.onIterationEnd?.(plan, summary(i));
    }
    await writer.flush(5000);
    const last = (api.requests[api.requests.length - 1]?.body as { status: RunnerStatus }).status;
    assert.equal(last.iterations?.length, MAX_STATUS_ITERATIONS);
    assert.equal(last.iterations?.[MAX_STATUS_ITERATIONS - 1]?.index, total - 1);
    assert.equal(
      last.details,
      `Finished iteration ${total}/${total}: D(1,1) concurrency=1, 1 requests, 0 errors`,
    );
  } finally {
    await api.close();
  }
});

test('the outcome agrees with the exit code: cancelled, failed with the reason, succeeded', () => {
  const run = (over: Record<string, unknown> = {}) => ({
    status: 'complete',
    failure: null,
    upload: null,
    warehouse: null,
    ...over,
  });
  assert.deepEqual(runOutcome({ interrupted: false, runs: [run()] }, null), { result: 'succeeded' });
  assert.deepEqual(
    runOutcome(
      { interrupted: false, runs: [run({ status: 'failed', failure: { reason: 'error rate 100%' } })] },
      null,
    ),
    { result: 'failed', reason: 'error rate 100%' },
  );
  assert.deepEqual(runOutcome({ interrupted: true, runs: [run()] }, 'cancelled: spec.cancel is true'), {
    result: 'cancelled',
    reason: 'cancelled: spec.cancel is true',
  });
  assert.deepEqual(
    runOutcome({ interrupted: false, runs: [run({ upload: { ok: false, error: 'no bucket' } })] }, null),
    {
      result: 'failed',
      reason: 'upload failed: no bucket',
    },
  );
});
