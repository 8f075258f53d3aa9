/**
 * The runner's status writer (and its API requests) against an API server that is slow, silent
 * or down (a raw HTTP stand-in on 127.0.0.1: the real API server cannot be made to behave
 * so; runner-status.k8s.test.ts runs the same code against the real one): patches are
 * merge patches to the status subresource, one in flight, throttled, the newest state
 * last; an update never waits on the API; a failure is told once without the token; the
 * final flush is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { kubeStatusApi } from './runner-api.js';
import { StatusWriter, type RunnerStatus } from './runner-status.js';
import { startApiStandIn } from './testing/api-stand-in.js';

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
