// Fail fast in a split run (issue 16): the built CLI with `--workers 3` against a
// simulator (its own process) that answers every request with a quick 429 stops as one
// process does: the iteration ends fail_fast, the run stops after it, and the shards send
// at most a bounded number of requests more than one client would have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FAIL_FAST_REQUESTS } from '../engine/fail-fast.js';
import {
  assertNoStack,
  cli,
  jsonLines,
  runFolderUnder,
  simulatorFixture,
  writeJobYaml,
} from './testing/harness.js';

const { sim, tmp } = simulatorFixture('infermark-workers-fail-fast-', { rate429: 1 });
// Every stream stalls far past the job's request timeout: each request fails as a timeout
// after 0.15 s, slowly enough that a shard hears the coordinator before its own watch trips.
const stalling = simulatorFixture('infermark-workers-fail-fast-stall-', {
  ttftMs: 5,
  itlMs: 5,
  itlJitterMs: 0,
  stallRate: 1,
  stallMs: 30_000,
});

const CONCURRENCY = 4;

interface RunSummary {
  status: string;
  failure: { kind: string; reason: string; fail_fast: { iteration: number; requests: number } | null };
  iterations_planned: number;
  iterations: {
    iteration: number;
    ended_by: string;
    requests: { total: number; errored: number; cancelled: number };
    shards?: { of: number; lost: unknown[]; failed_fast?: { index: number; reason: string }[] };
  }[];
}

async function failingRun(workers: number): Promise<{ dir: string; summary: RunSummary; records: number }> {
  const out = join(tmp(), `fail-fast-${workers}`);
  const file = await writeJobYaml(join(tmp(), `fail-fast-${workers}.yaml`), {
    name: `fail-fast-${workers}`,
    url: sim().url,
    scenarios: ['D(16,8)'],
    // Two iterations: the second must not start after the first failed fast.
    concurrency: [CONCURRENCY, CONCURRENCY * 2],
    maxRequestsPerIteration: 300,
    maxTimePerIteration: 1,
    spec: [`workers: ${workers}`, 'seed: 3'],
  });
  const result = await cli(['run', file, '--out', out, '--quiet', '--no-warehouse'], { timeoutMs: 60_000 });
  assert.equal(result.code, 1, result.stderr);
  assertNoStack(result);
  assert.match(result.stderr, /run failed: stopped early: the first \d+ measured requests of iteration 0/);
  const dir = await runFolderUnder(out);
  const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as RunSummary;
  const records = (await jsonLines(join(dir, 'iterations', '000', 'requests.jsonl'))).length;
  return { dir, summary, records };
}

test('--workers 3 against a server that refuses everything fails fast as --workers 1 does, sending a bounded few more', async () => {
  const one = await failingRun(1);
  const three = await failingRun(3);
  for (const { summary } of [one, three]) {
    assert.equal(summary.status, 'failed');
    assert.equal(summary.failure.kind, 'fail_fast');
    assert.equal(summary.failure.fail_fast?.iteration, 0);
    assert.equal(summary.iterations_planned, 2);
    assert.deepEqual(
      summary.iterations.map((i) => [i.iteration, i.ended_by]),
      [[0, 'fail_fast']],
      'the run stopped after the iteration that failed fast',
    );
  }
  // The merged iteration names the shards whose own first measured requests all failed alike.
  const merged = three.summary.iterations[0]!;
  const tripped = merged.shards?.failed_fast ?? [];
  assert.ok(tripped.length >= 1, JSON.stringify(merged.shards));
  for (const t of tripped) {
    assert.ok(t.index >= 0 && t.index < 3);
    assert.match(t.reason, /the first \d+ measured requests of iteration 0 all failed with http_429/);
  }
  // Each shard ended its part as fail fast: by its own watch, or told by the coordinator.
  for (const shard of ['000', '001', '002']) {
    const s = JSON.parse(
      await readFile(join(three.dir, 'shards', shard, 'iterations', '000', 'summary.json'), 'utf8'),
    ) as { ended_by: string; shard: { ended_by_shard?: number } };
    assert.equal(s.ended_by, 'fail_fast', `shard ${shard}`);
    const named = tripped.some((t) => t.index === Number(shard));
    assert.equal(named, s.shard.ended_by_shard === undefined, `shard ${shard}: named iff it tripped itself`);
  }
  // One client stops at its 20th failure with what is in flight; each shard at most at its
  // own 20th, or sooner when told: never the 300 planned.
  console.log(
    `# requests sent before stopping: --workers 1: ${one.records}, --workers 3: ${three.records}; failed fast: ${JSON.stringify(tripped)}`,
  );
  assert.ok(one.records <= FAIL_FAST_REQUESTS + CONCURRENCY, `${one.records}`);
  assert.ok(
    three.records <= one.records + 2 * FAIL_FAST_REQUESTS + CONCURRENCY,
    `--workers 3 sent ${three.records}, one client ${one.records}`,
  );
  // Evidence of a failure is evidence too: sealed and whole.
  assert.equal((await cli(['verify', three.dir])).code, 0);
});

test("the shards' watches add up: their first 20 measured requests together fail alike and every shard ends the iteration, none having seen 20 itself", async () => {
  const out = join(stalling.tmp(), 'told');
  const file = await writeJobYaml(join(stalling.tmp(), 'told.yaml'), {
    name: 'told',
    url: stalling.sim().url,
    scenarios: ['D(16,32)'],
    // 4 slots over 3 shards: shard 0 holds 2 and fails twice as fast as shards 1 and 2. The
    // run's 20th failure comes at about 10 + 5 + 5: no shard's own watch is near its 20th.
    concurrency: [4],
    maxRequestsPerIteration: 300,
    maxTimePerIteration: 30,
    spec: ['workers: 3', 'requestTimeoutSeconds: 0.15'],
  });
  const result = await cli(['run', file, '--out', out, '--quiet', '--no-warehouse'], { timeoutMs: 60_000 });
  assert.equal(result.code, 1, result.stderr);
  const said = /stopped early: the first (\d+) measured requests of iteration 0 all failed with timeout/.exec(
    result.stderr,
  );
  assert.ok(said, result.stderr);
  const dir = await runFolderUnder(out);
  const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as RunSummary;
  const merged = summary.iterations[0]!;
  assert.equal(merged.ended_by, 'fail_fast');
  // Each shard failed fast on its own part of the failures: all three are named.
  assert.deepEqual(
    merged.shards?.failed_fast?.map((t) => t.index),
    [0, 1, 2],
  );
  interface ShardRecord {
    status: string;
    phase: string;
    done_at_us: number | null;
    sent_at_us: number;
  }
  // Each worker's clock is its own process's: onto the coordinator's by its measured offset.
  const shardFiles = async (shard: string) => ({
    offsetUs: (
      JSON.parse(await readFile(join(dir, 'shards', shard, 'run.json'), 'utf8')) as {
        shard: { clock_offset_us: number };
      }
    ).shard.clock_offset_us,
    summary: JSON.parse(
      await readFile(join(dir, 'shards', shard, 'iterations', '000', 'summary.json'), 'utf8'),
    ) as { ended_by: string; shard: { ended_by_shard?: number; ended_at_us: number } },
    records: (await jsonLines(
      join(dir, 'shards', shard, 'iterations', '000', 'requests.jsonl'),
    )) as ShardRecord[],
  });
  const shards = await Promise.all(['000', '001', '002'].map(shardFiles));
  // The run's 20th failure, whichever shard saw it, on the coordinator's clock.
  const failuresUs = shards
    .flatMap((s) =>
      s.records.filter((r) => r.status === 'error').map((r) => (r.done_at_us ?? r.sent_at_us) - s.offsetUs),
    )
    .sort((a, b) => a - b);
  assert.ok(failuresUs.length >= FAIL_FAST_REQUESTS, `${failuresUs.length} failures`);
  const trippedAtUs = failuresUs[FAIL_FAST_REQUESTS - 1]!;
  // The merged cause counts every shard's part; what failed after the word went out is in flight.
  const counted = Number(said[1]);
  assert.ok(
    counted >= FAIL_FAST_REQUESTS && counted <= failuresUs.length,
    `${counted} of ${failuresUs.length}`,
  );
  for (const [index, told] of shards.entries()) {
    assert.equal(told.summary.ended_by, 'fail_fast', `shard ${index}`);
    assert.equal(told.summary.shard.ended_by_shard, undefined, `shard ${index} failed fast on its part`);
    const errors = told.records.filter((r) => r.status === 'error').length;
    assert.ok(errors < FAIL_FAST_REQUESTS, `shard ${index}: ${errors} failures, its own watch did not trip`);
    // Ended within a progress interval (250 ms) and a round trip; room for a loaded host.
    const lateMs = (told.summary.shard.ended_at_us - told.offsetUs - trippedAtUs) / 1000;
    console.log(
      `# shard ${index} ended ${lateMs.toFixed(0)} ms after the run's 20th failure, after ${errors} of its own`,
    );
    assert.ok(lateMs < 1000, `shard ${index} ended ${lateMs.toFixed(0)} ms after the run's 20th failure`);
    assert.ok(
      told.records.every((r) => r.sent_at_us <= told.summary.shard.ended_at_us),
      'nothing sent after its end',
    );
  }
});
