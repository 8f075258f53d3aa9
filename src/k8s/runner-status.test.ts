/**
 * The runner's status writer and cancel watch against an API server that is slow, silent
 * or down (a raw HTTP stand-in on 127.0.0.1: the real API server cannot be made to behave
 * so; runner-status.k8s.test.ts runs the same code against the real one): patches are
 * merge patches to the status subresource, one in flight, throttled, the newest state
 * last; an update never waits on the API; a failure is told once without the token; the
 * final flush is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { SPEC_ANNOTATION } from './names.js';
import { watchCancel } from './runner-cancel.js';
import {
  iterationStatus,
  kubeStatusApi,
  MAX_STATUS_ITERATIONS,
  runOutcome,
  statusEvents,
  StatusWriter,
  type RunnerStatus,
} from './runner-status.js';
import { startApiStandIn } from './testing/api-stand-in.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { IterationPlan } from '../plan/plan.js';

const TOKEN = 'runner-token-0123456789abcdef';
const TARGET = { name: 'bench', namespace: 'team' };
const STATUS_PATH = '/apis/ome.io/v1beta1/namespaces/team/benchmarkjobs/bench/status';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('status patches are merge patches, one in flight, throttled; an update never waits; the newest state is written last', async () => {
  const api = await startApiStandIn({ delayMs: 300 });
  try {
    const writer = new StatusWriter(kubeStatusApi(api.kubeConfig(TOKEN), TARGET), 'bench', {
      intervalMs: 500,
      report: (message) => assert.fail(`no failure expected: ${message}`),
    });
    const started = Date.now();
    let slowestUpdateMs = 0;
    for (let step = 0; step < 40; step++) {
      const t0 = performance.now();
      writer.update({ details: `step ${step}` }, step === 10 || step === 30);
      slowestUpdateMs = Math.max(slowestUpdateMs, performance.now() - t0);
      await sleep(50);
    }
    await writer.flush(5000);
    const elapsedMs = Date.now() - started;
    const patches = api.requests;
    assert.ok(patches.length >= 3, `${patches.length} patches`);
    // One per interval, the two urgent ones, and the final flush, at most.
    assert.ok(
      patches.length <= Math.ceil(elapsedMs / 500) + 3,
      `${patches.length} patches in ${elapsedMs} ms`,
    );
    assert.equal(api.maxInFlight, 1);
    for (const patch of patches) {
      assert.equal(patch.method, 'PATCH');
      assert.equal(patch.url, STATUS_PATH);
      assert.equal(patch.contentType, 'application/merge-patch+json');
      assert.equal(patch.authorization, `Bearer ${TOKEN}`);
    }
    const last = patches[patches.length - 1]?.body as { status: RunnerStatus };
    assert.equal(last.status.details, 'step 39');
    assert.ok(slowestUpdateMs < 20, `an update took ${slowestUpdateMs.toFixed(1)} ms`);
    assert.equal(writer.counts.failed, 0);
  } finally {
    await api.close();
  }
});

test('an API server that never answers: each patch ends at its timeout, the failure is told once without the token, the flush is bounded', async () => {
  const api = await startApiStandIn({ silent: true });
  const reports: string[] = [];
  try {
    const writer = new StatusWriter(kubeStatusApi(api.kubeConfig(TOKEN), TARGET), 'BenchmarkJob team/bench', {
      intervalMs: 100,
      timeoutMs: 300,
      report: (message) => reports.push(message),
    });
    for (let step = 0; step < 10; step++) {
      writer.update({ details: `step ${step}` });
      await sleep(100);
    }
    const t0 = Date.now();
    await writer.flush(2000);
    const flushMs = Date.now() - t0;
    assert.ok(flushMs < 2500, `flush took ${flushMs} ms`);
    assert.ok(writer.counts.failed >= 2, `${writer.counts.failed} failures`);
    assert.equal(api.maxInFlight, 1, 'a timed-out patch is ended before the next');
    const told = reports.filter((line) => line.includes('not updated'));
    assert.equal(told.length, 1, reports.join('\n'));
    assert.match(told[0] as string, /BenchmarkJob team\/bench not updated \(no answer in 0\.3 s\)/);
    assert.ok(!reports.join('\n').includes(TOKEN));
  } finally {
    await api.close();
  }
});

test('an API server that is down: the run is not held, the failure is told once, the flush ends', async () => {
  const api = await startApiStandIn();
  const kc = api.kubeConfig(TOKEN);
  await api.close();
  const reports: string[] = [];
  const writer = new StatusWriter(kubeStatusApi(kc, TARGET), 'bench', {
    intervalMs: 50,
    report: (message) => reports.push(message),
  });
  writer.update({ details: 'a' }, true);
  await sleep(200);
  writer.update({ outcome: { result: 'succeeded' } }, true);
  const t0 = Date.now();
  await writer.flush(3000);
  assert.ok(Date.now() - t0 < 3500);
  assert.equal(reports.filter((line) => line.includes('not updated')).length, 1, reports.join('\n'));
  assert.ok(!reports.join('\n').includes(TOKEN));
});

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

test('spec.cancel in the spec or in the infermark.io/spec annotation ends the watch once', async () => {
  const api = await startApiStandIn();
  try {
    api.object = { spec: { task: 'text-to-text' }, metadata: { annotations: {} } };
    let cancels = 0;
    const watch = watchCancel(kubeStatusApi(api.kubeConfig(TOKEN), TARGET), 'bench', () => cancels++, {
      intervalMs: 50,
    });
    await sleep(300);
    assert.equal(cancels, 0);
    const readsBefore = api.requests.length;
    assert.ok(readsBefore >= 2, `${readsBefore} reads`);
    assert.equal(api.requests[0]?.method, 'GET');
    assert.equal(api.requests[0]?.url, '/apis/ome.io/v1beta1/namespaces/team/benchmarkjobs/bench');
    // OME's CRD prunes spec.cancel: the annotation carries it.
    api.object = { spec: {}, metadata: { annotations: { [SPEC_ANNOTATION]: '{"cancel":true}' } } };
    for (let i = 0; i < 40 && cancels === 0; i++) await sleep(50);
    assert.equal(cancels, 1);
    const readsAtCancel = api.requests.length;
    await sleep(300);
    assert.equal(api.requests.length, readsAtCancel, 'no read after the cancel');
    watch.stop();
  } finally {
    await api.close();
  }
});
