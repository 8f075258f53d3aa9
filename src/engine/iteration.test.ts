/**
 * An iteration's line to its coordinator (fail fast across shards), against the real
 * simulator and backend in this process: the coordinator's word ends the iteration as the
 * shard's own fail fast would (what is in flight is cancelled, nothing more is sent), and
 * the shard's own trip is told once, at the moment it stops. The HTTP side of both is in
 * coordinator.test.ts; a whole split run against a failing server in cli/workers-fail-fast.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../backends/backend.js';
import { createBackend } from '../backends/openai.js';
import { nowUs } from '../base/clock.js';
import type { ProgressSnapshot } from '../metrics/run-events.js';
import type { IterationPlan } from '../plan/plan.js';
import { startSimulator, type SimulatorHandle } from '../sim/server.js';
import type { ItemSource } from '../workload/work-item.js';
import { FAIL_FAST_REQUESTS } from './fail-fast.js';
import { closedLoop } from './executors/closed-loop.js';
import { runIteration } from './iteration.js';

/** Streams for a second or so per request: an iteration the coordinator's word must cut. */
let slow: SimulatorHandle;
/** Answers every request with a quick 429. */
let refusing: SimulatorHandle;
const backends: Backend[] = [];

function backendFor(sim: SimulatorHandle): Backend {
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
  backends.push(backend);
  return backend;
}

before(async () => {
  slow = await startSimulator({ ttftMs: 5, ttftPerInputTokenMs: 0, itlMs: 10, itlJitterMs: 0 });
  refusing = await startSimulator({ rate429: 1 });
});

after(async () => {
  for (const backend of backends) await backend.close();
  await slow.close();
  await refusing.close();
});

const items: ItemSource = {
  description: { kind: 'iteration-test' },
  size: Infinity,
  itemAt: (index) => ({ index, prompt: 'hello', input_tokens: 1, max_tokens: 100 }),
};

function plan(overrides: Partial<IterationPlan> = {}): IterationPlan {
  return {
    index: 4,
    scenario: 'D(1,100)',
    mode: 'concurrency',
    concurrency: 3,
    max_requests: 60,
    max_time_s: 30,
    warmup: { requests: 0, seconds: 0 },
    max_in_flight: 3,
    ...overrides,
  };
}

test("the coordinator's word that another shard failed fast ends the iteration as fail fast: in flight cancelled, nothing more sent", async () => {
  const ended = new AbortController();
  const trips: ProgressSnapshot[] = [];
  let toldAtUs = 0;
  const running = runIteration(plan(), {
    backend: backendFor(slow),
    items,
    executor: closedLoop(3),
    onRecord: () => {},
    segment: { index: 0, of: 3 },
    link: { ended: ended.signal, failedFast: (snapshot) => trips.push(snapshot) },
  });
  // Mid-stream of its first request (each streams 100 tokens 10 ms apart).
  await new Promise((resolve) => setTimeout(resolve, 200));
  toldAtUs = nowUs();
  ended.abort(2);
  const outcome = await running;
  assert.equal(outcome.ended_by, 'fail_fast');
  assert.equal(outcome.ended_by_shard, 2);
  assert.equal(outcome.fail_fast, null, 'its own watch did not trip: the cause is the other shard`s');
  assert.deepEqual(trips, [], 'told, not tripped: nothing is sent back');
  const cancelled = outcome.records.filter((r) => r.status === 'cancelled');
  // The shard's slot of the three: its request was in flight, and is cancelled.
  assert.ok(cancelled.length >= 1);
  assert.equal(cancelled.length, outcome.records.length, 'none had finished: each was cut');
  assert.ok(
    outcome.records.every((r) => r.sent_at_us <= toldAtUs),
    'no request was sent after the word',
  );
  // What the server did: each cancelled request had not finished streaming (fewer than 100 tokens).
  assert.ok(cancelled.every((r) => r.output_tokens < 100));
  const lateMs = (outcome.ended_at_us - toldAtUs) / 1000;
  assert.ok(lateMs < 1000, `the iteration ended ${lateMs.toFixed(1)} ms after the word`);
});

test('its own fail fast is told once, as it stops; a later word changes nothing', async () => {
  const ended = new AbortController();
  const trips: ProgressSnapshot[] = [];
  const outcome = await runIteration(plan({ max_requests: 200 }), {
    backend: backendFor(refusing),
    items,
    executor: closedLoop(3),
    onRecord: () => {},
    segment: { index: 1, of: 3 },
    link: {
      ended: ended.signal,
      failedFast: (snapshot) => {
        trips.push(snapshot);
        // The coordinator answers the others, and perhaps this shard, after it tripped.
        ended.abort(0);
      },
    },
  });
  assert.equal(outcome.ended_by, 'fail_fast');
  assert.equal(outcome.fail_fast?.requests, FAIL_FAST_REQUESTS);
  assert.equal(outcome.fail_fast?.http_status, 429);
  assert.equal(outcome.ended_by_shard, undefined, 'it ended by its own watch');
  assert.equal(trips.length, 1);
  assert.ok(trips[0]!.errors >= FAIL_FAST_REQUESTS, JSON.stringify(trips[0]));
  assert.ok(outcome.records.length < FAIL_FAST_REQUESTS + 3 + 1, `${outcome.records.length} records`);
});

test('an iteration that already ended by its own reason keeps it when the word comes', async () => {
  const ended = new AbortController();
  const outcome = await runIteration(plan({ max_requests: 3, concurrency: 3 }), {
    backend: backendFor(refusing),
    items,
    executor: closedLoop(3),
    onRecord: () => {},
    segment: { index: 0, of: 3 },
    link: { ended: ended.signal, failedFast: () => assert.fail('3 requests cannot trip fail fast') },
  });
  ended.abort(1);
  assert.equal(outcome.ended_by, 'max_requests');
  assert.equal(outcome.ended_by_shard, undefined);
});
