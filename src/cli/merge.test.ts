/**
 * `infermark merge` as a user runs it (the built CLI in a child process) on a split run
 * made in this process against the simulator: it prints the table, the run folder and
 * its digest (or JSON), leaves a merged folder that is already merged alone, and refuses
 * a folder that is not a split run with exit 2 and no stack trace.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSplitInProcess } from '../engine/testing/split-run.js';
import { startSimulator, type SimulatorHandle } from '../sim/server.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { assertNoStack, cli } from './testing/harness.js';

let sim: SimulatorHandle;
let tmp: string;
let split: string;

before(async () => {
  sim = await startSimulator({ ttftMs: 3, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0 });
  tmp = await mkdtemp(join(tmpdir(), 'infermark-merge-cli-'));
  const job = jobFromCli({
    url: sim.url,
    model: 'sim',
    scenarios: ['D(8,4)'],
    concurrency: [2],
    maxRequests: 6,
    maxTimeMinutes: 1,
    seed: 9,
  });
  split = join(tmp, 'split');
  await runSplitInProcess(job, resolveEndpoint(job), split, 2, 'cli-merged-run');
});

after(async () => {
  await sim.close();
  await rm(tmp, { recursive: true, force: true });
});

test('infermark merge prints the merged run like run does; again, it leaves it as it is', async () => {
  const first = await cli(['merge', split]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(
    first.stdout,
    /run cli-merged-run\nrun folder: .*split\nartifact_manifest_digest sha256:[0-9a-f]{64}\n/,
  );
  assert.match(first.stdout, /D\(8,4\)/, 'the summary table');
  const again = await cli(['merge', split, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const printed = JSON.parse(again.stdout) as {
    run_id: string;
    status: string;
    already_merged: boolean;
    artifact_manifest_digest: string;
    iterations: { requests: { total: number }; shards: { of: number } }[];
  };
  assert.equal(printed.run_id, 'cli-merged-run');
  assert.equal(printed.status, 'complete');
  assert.equal(printed.already_merged, true);
  assert.equal(printed.artifact_manifest_digest, /sha256:[0-9a-f]{64}/.exec(first.stdout)?.[0]);
  assert.equal(printed.iterations[0]?.requests.total, 6);
  assert.equal(printed.iterations[0]?.shards.of, 2);
});

test('infermark merge of a folder that is not a split run exits 2, naming it, with no stack', async () => {
  const result = await cli(['merge', tmp]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /cannot merge: no shards\/ folder/);
  assert.ok(result.stderr.includes(tmp));
  assertNoStack(result);
});
