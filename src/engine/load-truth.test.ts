/**
 * Load truth: open-loop Poisson arrivals are sent when the seeded schedule says,
 * counted from the iteration's start, however long the responses take. A request
 * that waited for an earlier response (coordinated omission) would show as
 * client-queue time (sent_at − scheduled_at) and as a schedule that depends on
 * the server's speed; both are checked against a simulator in its own process.
 * What the server did is taken from its write log, per request, never from its
 * nominal settings: a simulator late on a loaded host is not the client's error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend } from '../backends/openai.js';
import type { RequestRecord } from '../metrics/record.js';
import { spawnSimulator } from '../sim/spawn.js';
import type { WriteLogSnapshot } from '../sim/write-log.js';
import type { SimulatorOptions } from '../sim/options.js';
import { parseScenario } from '../spec/scenario.js';
import { Prng, keyFromString } from '../base/prng.js';
import { createItemSource } from '../workload/sampler.js';
import { loadTokenizer } from '../workload/tokenizer.js';
import { arrivalOffsets, type Random } from './arrivals.js';
import { openLoopRate } from './executors/open-loop-rate.js';
import { runIteration, type IterationOutcome } from './iteration.js';
import type { ArrivalSpec, IterationPlan } from '../plan/plan.js';
import { pairWithWrites, percentileOf } from './testing/server-truth.js';
import { writesById } from '../sim/write-log.js';

const RATE_RPS = 40;
const WINDOW_S = 15;
const SEED = 2024;
const POISSON: ArrivalSpec = { distribution: 'poisson', burstiness: 1 };
const SCENARIO = 'D(20,50)';

function seeded(seed: number): Random {
  const [a, b] = keyFromString(`load-truth:${seed}`);
  const prng = new Prng(a, b);
  return () => prng.nextFloat();
}

/** The schedule the executor must follow: offsets below `windowS`, from the same seeded stream. */
function expectedOffsets(windowS: number): number[] {
  const next = arrivalOffsets(RATE_RPS, POISSON, seeded(SEED));
  const offsets: number[] = [];
  for (let offset = next(); offset < windowS * 1e6; offset = next()) offsets.push(offset);
  return offsets;
}

/** Runs one open-loop iteration of `windowS` seconds (the time limit ends it) against a fresh simulator. */
async function openLoopRun(
  windowS: number,
  sim: Partial<SimulatorOptions>,
): Promise<{ outcome: IterationOutcome; records: RequestRecord[]; writes: WriteLogSnapshot }> {
  const server = await spawnSimulator({
    ttftPerInputTokenMs: 0,
    ttftJitterMs: 0,
    itlJitterMs: 0,
    capacity: 512,
    batchSlowdown: 0,
    writeLogRequests: 4096,
    ...sim,
  });
  const tokenizer = await loadTokenizer();
  const parsed = parseScenario(SCENARIO);
  assert.ok(parsed.ok);
  const items = await createItemSource({
    scenario: parsed.scenario,
    tokenizer,
    seed: SEED,
    iterationKey: 'load-truth',
    task: 'text-to-text',
  });
  const backend = createBackend('openai-chat', {
    baseUrl: server.url,
    model: 'sim',
    stream: true,
    requestTimeoutMs: 30_000,
    additionalParams: {},
    forceOutputLength: true,
    connections: 1024,
    countTokens: (text) => tokenizer.countBounded(text),
  });
  const plan: IterationPlan = {
    index: 0,
    scenario: SCENARIO,
    mode: 'rate',
    rate_rps: RATE_RPS,
    arrival: POISSON,
    // Far more than the window can send: the time limit ends the iteration.
    max_requests: 100_000,
    max_time_s: windowS,
    warmup: { requests: 0, seconds: 0 },
    max_in_flight: 1024,
  };
  try {
    const outcome = await runIteration(plan, {
      backend,
      items,
      executor: openLoopRate(RATE_RPS, POISSON, seeded(SEED)),
      onRecord: () => {},
    });
    const records = [...outcome.records].sort((a, b) => a.index - b.index);
    return { outcome, records, writes: await server.writeLog() };
  } finally {
    await backend.close();
    await server.close();
  }
}

function percentile(sorted: number[], p: number): number {
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
}

/** Client queue in ms, sorted. */
function queueMs(records: RequestRecord[]): number[] {
  return records.map((r) => (r.sent_at_us - r.scheduled_at_us) / 1000).sort((a, b) => a - b);
}

/** Scheduled offsets from the iteration start, in dispatch order. */
function scheduledOffsets(outcome: IterationOutcome, records: RequestRecord[]): number[] {
  return records.map((r) => r.scheduled_at_us - outcome.started_at_us);
}

/** Arrivals of the schedule that the window could have cut short: the deadline timer may win a race. */
function assertFollowsSchedule(offsets: number[], expected: number[]): void {
  assert.ok(
    offsets.length === expected.length || offsets.length === expected.length - 1,
    `sent ${offsets.length} of the ${expected.length} scheduled arrivals`,
  );
  assert.deepEqual(offsets, expected.slice(0, offsets.length));
}

/**
 * Client lateness bounds (ms): far below a response time (about 540 ms here, which is how
 * late an arrival paced by a response would be), and above the timer lateness and GC
 * pauses of a 2-core host shared with other work (a p99 of 15 ms has been seen there).
 */
const QUEUE_P99_BOUND_MS = 40;
const QUEUE_MAX_BOUND_MS = 120;

/**
 * Per request, the server's write log agrees with the record: a request the client
 * completed was completed by the server, one it cancelled at the deadline was still
 * being answered (the server saw the client go), and no client TTFT is shorter than
 * the server's own.
 */
function assertServerAgrees(records: RequestRecord[], writes: WriteLogSnapshot): void {
  assert.equal(writes.dropped, 0);
  const byId = writesById(writes);
  for (const record of records) {
    const entry = byId.get(record.request_id);
    assert.ok(entry, `${record.request_id}: not in the server's write log`);
    if (record.status === 'ok') assert.equal(entry.outcome, 'completed', record.request_id);
    if (record.status === 'cancelled') assert.notEqual(entry.outcome, 'completed', record.request_id);
  }
  const pairs = pairWithWrites(records, writes);
  const excess = pairs.map((p) => p.ttft_excess_ms);
  if (pairs.length > 0) {
    console.log(
      `# against the server's writes: ${pairs.length} completed; client TTFT − server TTFT p50 ` +
        `${percentileOf(excess, 50).toFixed(3)} ms, p99 ${percentileOf(excess, 99).toFixed(3)} ms`,
    );
  }
  for (const p of pairs) assert.ok(p.ttft_excess_ms >= -0.5, JSON.stringify(p));
}

let fastOffsets: number[] | null = null;

test(
  `Poisson at ${RATE_RPS} req/s for ${WINDOW_S} s: achieved rate and no arrival waits for a response`,
  { timeout: 60_000 },
  async () => {
    // 50 + 49 × 10 ≈ 540 ms per response: ~20 requests in flight at every arrival.
    const { outcome, records, writes } = await openLoopRun(WINDOW_S, { ttftMs: 50, itlMs: 10 });
    const expected = expectedOffsets(WINDOW_S);
    const offsets = scheduledOffsets(outcome, records);
    fastOffsets = offsets;

    assert.equal(outcome.ended_by, 'max_time');
    assert.equal(outcome.dropped_arrivals, 0);
    // Each request exactly once, in schedule order.
    assert.deepEqual(
      records.map((r) => r.index),
      records.map((_, i) => i),
    );
    assertFollowsSchedule(offsets, expected);

    const achievedRps = records.length / WINDOW_S;
    const gaps = offsets.slice(1).map((offset, i) => offset - (offsets[i] as number));
    const meanGapMs = gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length / 1000;
    const queue = queueMs(records);
    const queueP99 = percentile(queue, 99);
    const queueMax = queue[queue.length - 1] as number;
    // Arrivals sent while an earlier request was still streaming: the responses overlap the schedule.
    const overlapped = records.filter((r, i) =>
      records.slice(0, i).some((prev) => (prev.done_at_us ?? prev.sent_at_us) > r.sent_at_us),
    ).length;
    const ok = records.filter((r) => r.status === 'ok').length;
    const cancelled = records.filter((r) => r.status === 'cancelled').length;
    console.log(
      `# load truth: ${records.length} sent in ${WINDOW_S} s = ${achievedRps.toFixed(2)} req/s; ` +
        `mean gap ${meanGapMs.toFixed(2)} ms; client queue p99 ${queueP99.toFixed(3)} ms, max ${queueMax.toFixed(3)} ms; ` +
        `${overlapped} sent while another was in flight; ${ok} ok, ${cancelled} cancelled at the deadline; ` +
        `client event loop p99 ${outcome.event_loop_delay.p99_ms.toFixed(2)} ms, max ${outcome.event_loop_delay.max_ms.toFixed(2)} ms`,
    );

    assert.ok(Math.abs(achievedRps - RATE_RPS) <= RATE_RPS * 0.05, `achieved ${achievedRps} req/s`);
    assert.ok(Math.abs(meanGapMs - 1000 / RATE_RPS) <= (1000 / RATE_RPS) * 0.05, `mean gap ${meanGapMs} ms`);
    // A client paced by responses would send ~540 ms late (one response time). The bounds sit an
    // order of magnitude below that and above the 10–14 ms GC pauses a shared 2-core CI host shows.
    assert.ok(queueP99 < QUEUE_P99_BOUND_MS, `client queue p99 ${queueP99} ms`);
    // One stall of the whole process (the host took the core away: CI saw 147 ms once) shows
    // in the loop's own delay too; what this bound is for, a client paced by responses, does not.
    const stallMs = outcome.event_loop_delay.max_ms;
    assert.ok(
      queueMax < QUEUE_MAX_BOUND_MS + stallMs,
      `client queue max ${queueMax} ms (event loop max ${stallMs} ms)`,
    );
    assert.ok(
      overlapped >= records.length * 0.9,
      `only ${overlapped} of ${records.length} overlapped a response`,
    );
    // Everything finished but what the deadline cut off; nothing failed.
    assert.equal(records.filter((r) => r.status === 'error').length, 0);
    assert.equal(ok + cancelled, records.length);
    assertServerAgrees(records, writes);
  },
);

test(
  'a slow server does not move the schedule: same seed, same arrival times',
  { timeout: 30_000 },
  async () => {
    const windowS = 3;
    // 3000 + 49 × 20 ≈ 4 s per response, longer than the window: every arrival finds all earlier ones in flight.
    const { outcome, records, writes } = await openLoopRun(windowS, { ttftMs: 3000, itlMs: 20 });
    const offsets = scheduledOffsets(outcome, records);
    assertFollowsSchedule(offsets, expectedOffsets(windowS));
    if (fastOffsets) assert.deepEqual(offsets, fastOffsets.slice(0, offsets.length));
    const queue = queueMs(records);
    const queueP99 = percentile(queue, 99);
    console.log(
      `# slow server: ${records.length} sent in ${windowS} s; client queue p99 ${queueP99.toFixed(3)} ms, ` +
        `max ${(queue[queue.length - 1] as number).toFixed(3)} ms; ` +
        `${records.filter((r) => r.status === 'ok').length} finished before the deadline`,
    );
    // ~110 samples make a p99 the second-largest value (the first test checks the p99 over ~600);
    // what matters here is that no arrival waited anywhere near a response time (~4 s).
    assert.ok(
      (queue[queue.length - 1] as number) < QUEUE_MAX_BOUND_MS,
      `client queue max ${queue[queue.length - 1]} ms`,
    );
    // The window is shorter than one response: nothing finished, so nothing could have paced the arrivals.
    assert.equal(records.filter((r) => r.status === 'ok').length, 0);
    assert.equal(outcome.ended_by, 'max_time');
    assertServerAgrees(records, writes);
  },
);
