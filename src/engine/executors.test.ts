/**
 * The executors and the dispatcher's limits, fast: a fake backend with chosen
 * latencies counts what is in flight exactly, and the real backend against an
 * in-process simulator shows that cancellation reaches the wire. Each case runs
 * in well under a second. The fake stands in for the backend only where a test
 * must count requests in flight at the executor boundary, which no server can see
 * exactly; the real path (backend, simulator) is covered here for cancellation and in
 * timing-truth, load-truth and faults tests for everything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, RequestContext } from '../backends/backend.js';
import { createBackend } from '../backends/openai.js';
import { summarizeIteration } from '../metrics/aggregate.js';
import { emptyRecord, type RequestRecord } from '../metrics/record.js';
import { startSimulator } from '../sim/server.js';
import type { ItemSource, WorkItem } from '../workload/work-item.js';
import { Prng } from '../base/prng.js';
import { LATE_ARRIVAL_THRESHOLD_US } from './dispatcher.js';
import { arrivalOffsets } from './arrivals.js';
import { nowUs } from '../base/clock.js';
import { closedLoop } from './executors/closed-loop.js';
import type { Executor } from './executors/executor.js';
import { openLoopRate } from './executors/open-loop-rate.js';
import { runIteration, type IterationDeps, type IterationOutcome } from './iteration.js';
import type { ArrivalSpec, IterationPlan } from '../plan/plan.js';

/** Answers after `latencyMs(index)` with two tokens, or `cancelled` when the engine aborts. */
class FakeBackend implements Backend {
  readonly kind = 'openai-chat' as const;
  inFlight = 0;
  peak = 0;
  sent = 0;
  constructor(private readonly latencyMs: (index: number) => number) {}

  send(item: WorkItem, ctx: RequestContext): Promise<RequestRecord> {
    const rec = emptyRecord(
      ctx.request_id,
      ctx.iteration,
      ctx.index,
      ctx.phase,
      ctx.scheduled_at_us,
      item.input_tokens,
    );
    rec.sent_at_us = nowUs();
    this.sent++;
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    return new Promise((resolve) => {
      const finish = (): void => {
        this.inFlight--;
        resolve(rec);
      };
      const onAbort = (): void => {
        clearTimeout(timer);
        rec.status = 'cancelled';
        finish();
      };
      const timer = setTimeout(() => {
        ctx.signal.removeEventListener('abort', onAbort);
        const now = nowUs();
        rec.headers_at_us = now;
        rec.first_token_at_us = now;
        rec.first_output_at_us = now;
        rec.last_token_at_us = now;
        rec.done_at_us = now;
        rec.chunk_times_us = [now, now];
        rec.chunk_tokens = [1, 1];
        rec.output_tokens = 2;
        rec.http_status = 200;
        finish();
      }, this.latencyMs(ctx.index));
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {}
}

const items: ItemSource = {
  description: { kind: 'test' },
  size: Infinity,
  itemAt: (index) => ({ index, prompt: 'hello', input_tokens: 1, max_tokens: 2 }),
};

function plan(overrides: Partial<IterationPlan>): IterationPlan {
  return {
    index: 0,
    scenario: 'D(1,2)',
    mode: 'concurrency',
    concurrency: 1,
    max_requests: 10,
    max_time_s: 30,
    warmup: { requests: 0, seconds: 0 },
    max_in_flight: 1024,
    ...overrides,
  };
}

function run(
  p: IterationPlan,
  backend: Backend,
  executor: Executor,
  extra: Partial<IterationDeps> = {},
): Promise<IterationOutcome> {
  return runIteration(p, { backend, items, executor, onRecord: () => {}, ...extra });
}

function seededRandom(seed: number): () => number {
  const prng = new Prng(seed, 0x9e3779b9);
  return () => prng.nextFloat();
}

const byIndex = (records: readonly RequestRecord[]): RequestRecord[] =>
  [...records].sort((a, b) => a.index - b.index);

test('closed loop keeps exactly N in flight, never more', async () => {
  // Latencies of 1..7 ms in an irregular pattern, so slots free at different times.
  const backend = new FakeBackend((index) => 1 + ((index * 5) % 7));
  const outcome = await run(plan({ concurrency: 4, max_requests: 60 }), backend, closedLoop(4));
  assert.equal(backend.peak, 4);
  assert.equal(outcome.records.length, 60);
  assert.equal(backend.sent, 60);
  // A slot's next request is scheduled the moment its previous one finished, and sent at once.
  for (const r of outcome.records) assert.ok(r.sent_at_us - r.scheduled_at_us < 5_000);
});

test('max_requests ends the iteration by draining: nothing cancelled, nothing extra sent', async () => {
  const closed = new FakeBackend(() => 20);
  const outcome = await run(plan({ concurrency: 4, max_requests: 10 }), closed, closedLoop(4));
  assert.equal(outcome.ended_by, 'max_requests');
  assert.equal(closed.sent, 10);
  assert.equal(closed.inFlight, 0, 'drained before returning');
  assert.deepEqual(
    outcome.records.map((r) => r.status),
    Array(10).fill('ok'),
  );

  const open = new FakeBackend(() => 30);
  const constant: ArrivalSpec = { distribution: 'constant', burstiness: 1 };
  const openOutcome = await run(
    plan({ mode: 'rate', rate_rps: 500, arrival: constant, max_requests: 10 }),
    open,
    openLoopRate(500, constant, seededRandom(1)),
  );
  assert.equal(openOutcome.ended_by, 'max_requests');
  assert.equal(open.sent, 10);
  assert.equal(open.inFlight, 0);
  assert.ok(openOutcome.records.every((r) => r.status === 'ok'));
});

test('the time limit cancels what is in flight, through the real backend; each counted as cancelled', async () => {
  const sim = await startSimulator({ ttftMs: 5_000, ttftPerInputTokenMs: 0, itlMs: 10 });
  const backend = createBackend('openai-chat', {
    baseUrl: sim.url,
    model: 'sim',
    stream: true,
    requestTimeoutMs: 30_000,
    additionalParams: {},
    forceOutputLength: true,
    connections: 8,
    countTokens: (text) => text.length,
  });
  try {
    const p = plan({ concurrency: 3, max_requests: 100, max_time_s: 0.3 });
    const outcome = await run(p, backend, closedLoop(3));
    assert.equal(outcome.ended_by, 'max_time');
    assert.ok(outcome.wall_s < 2, `ended after ${outcome.wall_s} s`);
    assert.equal(outcome.records.length, 3);
    assert.ok(outcome.records.every((r) => r.status === 'cancelled' && r.error_class === null));
    const summary = summarizeIteration(
      outcome.records,
      {
        iteration: 0,
        scenario: p.scenario,
        mode: 'concurrency',
        concurrency: 3,
        wall_s: outcome.wall_s,
        warmup_requests: 0,
        ended_by: outcome.ended_by,
      },
      [],
    );
    assert.equal(summary.requests.cancelled, 3);
    assert.equal(summary.requests.errored, 0);
    assert.equal(summary.requests.completed, 0);
    // The server saw the client go away.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(sim.stats().cancelled, 3);
  } finally {
    await backend.close();
    await sim.close();
  }
});

test('warmup requests are labelled warmup and left out of the measured counts', async () => {
  const backend = new FakeBackend(() => 2);
  const p = plan({ concurrency: 2, max_requests: 6, warmup: { requests: 4, seconds: 0 } });
  const outcome = await run(p, backend, closedLoop(2));
  const records = byIndex(outcome.records);
  assert.equal(records.length, 10);
  assert.deepEqual(
    records.map((r) => r.phase),
    [...Array(4).fill('warmup'), ...Array(6).fill('measured')],
  );
  const summary = summarizeIteration(
    records,
    {
      iteration: 0,
      scenario: p.scenario,
      mode: 'concurrency',
      concurrency: 2,
      wall_s: outcome.wall_s,
      warmup_requests: 4,
      ended_by: outcome.ended_by,
    },
    [],
  );
  assert.equal(summary.requests.total, 10);
  assert.equal(summary.requests.warmup, 4);
  assert.equal(summary.requests.measured, 6);
  assert.equal(summary.requests.completed, 6);
  assert.equal(summary.distributions.ttft_ms.count, 6);

  // Warmup by time: arrivals scheduled in the first 50 ms (0, 10, ..., 40 ms at 100 req/s) are warmup.
  const constant: ArrivalSpec = { distribution: 'constant', burstiness: 1 };
  const timed = await run(
    plan({
      mode: 'rate',
      rate_rps: 100,
      arrival: constant,
      max_requests: 3,
      warmup: { requests: 0, seconds: 0.05 },
    }),
    new FakeBackend(() => 1),
    openLoopRate(100, constant, seededRandom(2)),
  );
  assert.deepEqual(
    byIndex(timed.records).map((r) => r.phase),
    [...Array(5).fill('warmup'), ...Array(3).fill('measured')],
  );
});

test('constant-rate arrivals are at start + i × period, exactly', async () => {
  const constant: ArrivalSpec = { distribution: 'constant', burstiness: 1 };
  const next = arrivalOffsets(3, constant, seededRandom(3));
  assert.deepEqual(
    Array.from({ length: 5 }, () => next()),
    [0, 333_333, 666_667, 1_000_000, 1_333_333],
  );
  const outcome = await run(
    plan({ mode: 'rate', rate_rps: 200, arrival: constant, max_requests: 12 }),
    new FakeBackend(() => 1),
    openLoopRate(200, constant, seededRandom(3)),
  );
  const records = byIndex(outcome.records);
  assert.deepEqual(
    records.map((r) => r.scheduled_at_us - outcome.started_at_us),
    records.map((_, i) => i * 5_000),
  );
  // The schedule is exact (above); sending follows it within timer lateness, which a loaded host stretches.
  for (const r of records) assert.ok(r.sent_at_us - r.scheduled_at_us < 25_000, 'sent on schedule');
});

test('Poisson and gamma gaps have mean 1/rate and the variance their shape gives', () => {
  const cases: Array<{ spec: ArrivalSpec; cv2: number }> = [
    { spec: { distribution: 'poisson', burstiness: 1 }, cv2: 1 },
    { spec: { distribution: 'gamma', burstiness: 0.5 }, cv2: 2 },
    { spec: { distribution: 'gamma', burstiness: 4 }, cv2: 0.25 },
  ];
  const rate = 20;
  const n = 20_000;
  for (const { spec, cv2 } of cases) {
    const next = arrivalOffsets(rate, spec, seededRandom(4));
    assert.equal(next(), 0, 'the first arrival is at the start');
    let previous = 0;
    const gaps: number[] = [];
    for (let i = 0; i < n; i++) {
      const offset = next();
      gaps.push(offset - previous);
      previous = offset;
    }
    const mean = gaps.reduce((a, b) => a + b, 0) / n;
    const variance = gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    const label = `${spec.distribution}(${spec.burstiness})`;
    assert.ok(Math.abs(mean / (1e6 / rate) - 1) < 0.03, `${label}: mean gap ${mean} µs`);
    assert.ok(Math.abs(variance / mean ** 2 / cv2 - 1) < 0.1, `${label}: CV² ${variance / mean ** 2}`);
  }
});

test('open loop drops arrivals that find max_in_flight outstanding, and does not delay the rest', async () => {
  const backend = new FakeBackend(() => 100);
  const constant: ArrivalSpec = { distribution: 'constant', burstiness: 1 };
  // 1000 req/s against 100 ms responses with 3 slots: most arrivals find no slot.
  const p = plan({ mode: 'rate', rate_rps: 1000, arrival: constant, max_requests: 100, max_in_flight: 3 });
  const outcome = await run(p, backend, openLoopRate(1000, constant, seededRandom(5)));
  assert.ok(backend.peak <= 3, `peak in flight ${backend.peak}`);
  assert.ok(outcome.dropped_arrivals > 50, `${outcome.dropped_arrivals} dropped`);
  // Every scheduled arrival was either sent or dropped, once.
  assert.equal(outcome.records.length + outcome.dropped_arrivals, 100);
  // The ones sent went at their own scheduled time (start + i ms), not when a slot freed
  // (up to 100 ms later). The bound leaves room for timer lateness on a loaded 2-core host.
  for (const r of outcome.records) {
    assert.equal(r.scheduled_at_us - outcome.started_at_us, r.index * 1_000);
    assert.ok(r.sent_at_us - r.scheduled_at_us < 25_000, `sent ${r.sent_at_us - r.scheduled_at_us} µs late`);
  }
  const late = outcome.records.filter(
    (r) => r.sent_at_us - r.scheduled_at_us > LATE_ARRIVAL_THRESHOLD_US,
  ).length;
  assert.equal(outcome.late_arrivals, late);
  const summary = summarizeIteration(
    outcome.records,
    {
      iteration: 0,
      scenario: p.scenario,
      mode: 'rate',
      rate_rps: 1000,
      wall_s: outcome.wall_s,
      dropped_arrivals: outcome.dropped_arrivals,
      warmup_requests: 0,
      ended_by: outcome.ended_by,
    },
    [],
  );
  assert.equal(summary.requests.dropped_arrivals, outcome.dropped_arrivals);
  assert.equal(summary.flags.dropped_arrivals, true);
});

test('an interruption ends the iteration, cancels what is in flight and keeps every finished record', async () => {
  // The first 8 requests are quick; the ones after hang until cancelled.
  const backend = new FakeBackend((index) => (index < 8 ? 3 : 60_000));
  const controller = new AbortController();
  const seen: RequestRecord[] = [];
  const pending = run(plan({ concurrency: 2, max_requests: 100 }), backend, closedLoop(2), {
    signal: controller.signal,
    onRecord: (record) => seen.push(record),
  });
  setTimeout(() => controller.abort(), 150);
  const outcome = await pending;
  assert.equal(outcome.ended_by, 'interrupted');
  const records = byIndex(outcome.records);
  assert.deepEqual(
    records.map((r) => r.status),
    [...Array(8).fill('ok'), 'cancelled', 'cancelled'],
  );
  assert.equal(seen.length, records.length, 'every record reached the sink');
  assert.equal(backend.inFlight, 0);

  // Already interrupted before it starts: nothing is sent.
  const idle = new FakeBackend(() => 1);
  const none = await run(plan({ concurrency: 2 }), idle, closedLoop(2), { signal: AbortSignal.abort() });
  assert.equal(none.ended_by, 'interrupted');
  assert.equal(idle.sent, 0);
});
