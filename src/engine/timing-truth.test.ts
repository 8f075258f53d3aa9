/**
 * Timing truth: against a simulator with a fixed TTFT and inter-token gap (no
 * jitter, no batch slowdown), 64 concurrent streams through the real run path
 * (executeRun: job → plan → closed loop → backend → records → summary) must
 * measure what the server was told to do. The simulator runs in its own process
 * so the client's event loop measures, and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSimulator } from '../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { executeRun } from './run.js';

const TTFT_MS = 200;
const ITL_MS = 20;
const CONCURRENCY = 64;
// 64 streams of 30–70 tokens (200 + 49 × 20 ≈ 1.2 s on average): one warmup round, three measured.
// Lengths vary so the streams fall out of step: identical lengths end and restart all 64 in one
// burst, and the last request of a burst waits ~1–2 ms behind the others on both sides.
const REQUESTS = 192;
// The first round opens 64 connections at once against a cold server; the backend stamps
// sent_at before the pool connects, so that round's TTFT carries connection setup (tens of ms
// on a loaded machine). Warmup is the job's own answer to that, and what this test uses.
const WARMUP = CONCURRENCY;

test('64 concurrent streams measure the TTFT and TPOT the server produced', { timeout: 60_000 }, async () => {
  const sim = await spawnSimulator({
    ttftMs: TTFT_MS,
    ttftPerInputTokenMs: 0,
    ttftJitterMs: 0,
    itlMs: ITL_MS,
    itlJitterMs: 0,
    capacity: 128,
    batchSlowdown: 0,
    seed: 7,
  });
  const outRoot = await mkdtemp(join(tmpdir(), 'infermark-timing-'));
  try {
    const job = jobFromCli({
      url: sim.url,
      model: 'sim',
      scenarios: ['U(100,100)/(30,70)'],
      concurrency: [CONCURRENCY],
      maxRequests: REQUESTS,
      maxTimeMinutes: 1,
      warmupRequests: WARMUP,
      seed: 11,
    });
    const result = await executeRun({
      job,
      jobFile: null,
      endpoint: resolveEndpoint(job, {}),
      outRoot,
    });
    assert.equal(result.interrupted, false);
    assert.equal(result.summaries.length, 1);
    const summary = result.summaries[0]!;
    assert.equal(summary.ended_by, 'max_requests');
    assert.equal(summary.requests.warmup, WARMUP);
    assert.equal(summary.requests.completed, REQUESTS, JSON.stringify(summary.requests));
    assert.equal(summary.requests.errored, 0);
    assert.equal(summary.peak_concurrency, CONCURRENCY);

    const ttft = summary.distributions.ttft_ms;
    const tpot = summary.distributions.tpot_ms;
    const figures = `ttft p50 ${ttft.p50} p99 ${ttft.p99}; tpot p50 ${tpot.p50} p99 ${tpot.p99}`;
    console.log(`# timing truth at c=${CONCURRENCY}: ${figures}`);
    assert.equal(ttft.count, REQUESTS);
    assert.ok(
      Math.abs((ttft.p50 as number) - TTFT_MS) <= 2,
      `TTFT p50 not within 2 ms of ${TTFT_MS}: ${figures}`,
    );
    assert.ok(
      Math.abs((tpot.p50 as number) - ITL_MS) <= 0.5,
      `TPOT p50 not within 0.5 ms of ${ITL_MS}: ${figures}`,
    );
    // Every request came back with the length it asked for (30–70), as the server reported it.
    assert.ok((summary.distributions.output_tokens.min as number) >= 30);
    assert.ok((summary.distributions.output_tokens.max as number) <= 70);

    // The evidence on disk holds the same requests.
    const lines = (await readFile(join(result.dir, 'iterations', '000', 'requests.jsonl'), 'utf8'))
      .split('\n')
      .filter((line) => line !== '');
    assert.equal(lines.length, WARMUP + REQUESTS);
  } finally {
    await sim.close();
    await rm(outRoot, { recursive: true, force: true });
  }
});
