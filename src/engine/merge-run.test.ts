/**
 * A split run merged from real shard folders: three shards run in this process against
 * the simulator (executeRun with a shard role, started together by an in-process gate
 * standing in for the coordinator), then merged. The merged run verifies, names an
 * altered shard file, has the requests and workload digest of the same job run by one
 * process, ingests into a DuckDB file once with each request's shard, host and pid; a
 * shard whose worker was killed mid-iteration leaves the iteration incomplete, naming it.
 */
import { sealIteration, sealRun } from '../evidence/manifest.js';
import { RunFolder } from '../evidence/run-folder.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfermarkError } from '../base/errors.js';
import { verifyRunFolder } from '../evidence/verify.js';
import { startSimulator, type SimulatorHandle } from '../sim/server.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { ingestRunFolder } from '../warehouse/ingest-run.js';
import { traceLineage } from '../warehouse/lineage.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { mergeIterationFromShards } from './merge-iteration.js';
import { mergeRunFolder } from './merge-run.js';
import { executeRun, type RunResult } from './run.js';
import { runSplitInProcess } from './testing/split-run.js';

const SHARDS = 3;
let sim: SimulatorHandle;
let tmp: string;
/** The same job, whole and split. */
let whole: RunResult;
/** A split run's folder with its three sealed shards and nothing merged yet. */
let split: string;
let coordinatedRunId: string;

function job() {
  return jobFromCli({
    url: sim.url,
    model: 'sim',
    name: 'merge-run',
    scenarios: ['D(8,4)'],
    // At least one slot per shard: a closed-loop shard with 0 slots sends none of the indexes it owns
    // (reported on issue 16), so c < 3 would lose requests.
    concurrency: [3, 4],
    maxRequests: 12,
    warmupRequests: 1,
    maxTimeMinutes: 1,
    seed: 5,
    slos: ['p99_ttft_ms<=5000'],
  });
}

before(async () => {
  sim = await startSimulator({ ttftMs: 3, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0 });
  tmp = await mkdtemp(join(tmpdir(), 'infermark-merge-run-'));
  const j = job();
  whole = await executeRun({
    job: j,
    jobFile: null,
    endpoint: resolveEndpoint(j),
    outRoot: join(tmp, 'whole'),
  });
  split = join(tmp, 'split');
  coordinatedRunId = 'coordinated-run-1';
  await runSplitInProcess(j, resolveEndpoint(j), split, SHARDS, coordinatedRunId);
});

after(async () => {
  await sim.close();
  await rm(tmp, { recursive: true, force: true });
});

/** A copy of the unmerged split run, to merge or damage on its own. */
/**
 * Seals a shard folder again after a test rewrote it on purpose (as the shard itself would
 * have written it): the merge verifies every shard and refuses one that was changed.
 */
async function reseal(shardDir: string): Promise<void> {
  const run = JSON.parse(await readFile(join(shardDir, 'run.json'), 'utf8')) as { run_id: string };
  const manifest = JSON.parse(await readFile(join(shardDir, 'manifest.json'), 'utf8')) as {
    status: 'complete' | 'interrupted' | 'failed';
  };
  const folder = await RunFolder.create(shardDir);
  for (const name of await readdir(join(shardDir, 'iterations'))) {
    await sealIteration(folder, run.run_id, Number(name));
  }
  await sealRun(folder, run.run_id, manifest.status);
}

async function copyOfSplit(name: string): Promise<string> {
  const dir = join(tmp, name);
  await cp(split, dir, { recursive: true });
  return dir;
}

const lines = async (path: string): Promise<Record<string, unknown>[]> =>
  (await readFile(path, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

test('the merged run verifies, is the single-process run`s requests and workload, and ingests once with its shards', async () => {
  const dir = await copyOfSplit('merged');
  const merged = await mergeRunFolder(dir);
  assert.equal(merged.runId, coordinatedRunId);
  assert.equal(merged.status, 'complete', JSON.stringify(merged.failure));
  assert.equal(merged.alreadyMerged, false);
  assert.equal(merged.benchmarkCaseId, whole.benchmarkCaseId, 'the same benchmark case as one process');

  const report = await verifyRunFolder(dir);
  assert.equal(report.status, 'complete', JSON.stringify(report.problems));
  assert.equal(report.run_id, coordinatedRunId);
  assert.ok(
    report.artifacts_checked > 3 * 10,
    `the manifest covers the shards' files too (${report.artifacts_checked} checked)`,
  );

  for (const iteration of ['000', '001']) {
    const mergedRecords = await lines(join(dir, 'iterations', iteration, 'requests.jsonl'));
    const wholeRecords = await lines(join(whole.dir, 'iterations', iteration, 'requests.jsonl'));
    assert.equal(
      mergedRecords.length,
      wholeRecords.length,
      `iteration ${iteration}: same number of requests`,
    );
    assert.deepEqual(
      mergedRecords.map((r) => r.index).sort((a, b) => Number(a) - Number(b)),
      wholeRecords.map((r) => r.index).sort((a, b) => Number(a) - Number(b)),
    );
    const workload = async (d: string): Promise<{ items_digest: string }> =>
      JSON.parse(await readFile(join(d, 'iterations', iteration, 'workload.json'), 'utf8')) as {
        items_digest: string;
      };
    assert.equal((await workload(dir)).items_digest, (await workload(whole.dir)).items_digest);
    // Each merged line points at its shard's line, which holds the same request.
    for (const record of mergedRecords) {
      const shardFile = join(
        dir,
        'shards',
        String(record.shard_index).padStart(3, '0'),
        'iterations',
        iteration,
        'requests.jsonl',
      );
      const source = (await lines(shardFile))[Number(record.shard_line) - 1];
      assert.equal(source?.request_id, record.request_id);
      // Closed loop deals by slot (plan/segments.ts): request j is slot j mod c's, which is shard (j mod c) mod 3's.
      const concurrency = iteration === '000' ? 3 : 4;
      assert.equal(
        (Number(record.index) % concurrency) % SHARDS,
        record.shard_index,
        "request j came from its slot's shard",
      );
    }
    const finished = mergedRecords.map((r) => Number(r.done_at_us ?? r.last_token_at_us ?? r.sent_at_us));
    assert.deepEqual(
      finished,
      [...finished].sort((a, b) => a - b),
      'in the order they finished',
    );
  }
  const s = merged.summaries[1]!;
  assert.deepEqual(s.shards, { of: SHARDS, lost: [] });
  assert.equal(s.requests.completed, whole.summaries[1]!.requests.completed);
  assert.equal(s.requests.planned, whole.summaries[1]!.requests.planned);
  assert.deepEqual(
    s.slo_checks?.map((c) => [c.slo, c.samples, c.met]),
    [['p99_ttft_ms<=5000', whole.summaries[1]!.requests.completed, true]],
    'the SLOs are checked on the merged records',
  );
  const runJson = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(runJson.shard, undefined);
  assert.deepEqual(
    (runJson.shards as { index: number; host: string; status: string; dir: string }[]).map((e) => [
      e.index,
      e.host,
      e.status,
      e.dir,
    ]),
    [
      [0, 'host-0', 'complete', 'shards/000'],
      [1, 'host-1', 'complete', 'shards/001'],
      [2, 'host-2', 'complete', 'shards/002'],
    ],
  );

  // Merging again changes nothing: a sealed folder is never rewritten.
  const again = await mergeRunFolder(dir);
  assert.equal(again.alreadyMerged, true);
  assert.equal(again.artifactManifestDigest, merged.artifactManifestDigest);

  const warehousePath = join(tmp, 'merged.duckdb');
  await Warehouse.using(warehousePath, {}, async (w) => {
    assert.equal((await ingestRunFolder(w, dir)).outcome, 'ingested');
    assert.equal((await ingestRunFolder(w, dir)).outcome, 'unchanged');
    assert.equal((await ingestRunFolder(w, whole.dir)).outcome, 'ingested');
    const rows = await w.all(
      `SELECT run_id, count(*) AS n, count(shard_index) AS with_shard, count(shard_line) AS with_line,
         count(*) FILTER (WHERE shard_host = 'host-' || shard_index AND shard_pid = 1000 + shard_index) AS with_host
       FROM request_fact GROUP BY run_id ORDER BY run_id`,
    );
    const byRun = new Map(rows.map((r) => [String(r.run_id), r]));
    const m = byRun.get(coordinatedRunId)!;
    assert.equal(
      Number(m.n),
      whole.summaries.reduce((n, x) => n + x.requests.total, 0),
    );
    assert.equal(Number(m.with_shard), Number(m.n));
    assert.equal(Number(m.with_line), Number(m.n));
    assert.equal(Number(m.with_host), Number(m.n), 'each request carries its shard`s host and pid');
    const single = byRun.get(whole.runId)!;
    assert.equal(Number(single.with_shard), 0, 'a run by one process has no shard');
    const runs = await w.all('SELECT run_id FROM benchmark_run_fact ORDER BY run_id');
    assert.equal(runs.length, 2, 'the shard folders are not runs of their own');
    // A merged number walks back to the shard files its records came from.
    const lineage = await traceLineage(w, {
      query: 'serving_points',
      runId: coordinatedRunId,
      iteration: 1,
      column: 'ttft_ms_p50',
    });
    assert.equal(lineage.publication_safe, true);
    const sources = lineage.evidence[0]!.artifacts.filter((a) => a.source).map((a) => a.path);
    for (const shard of ['000', '001', '002'])
      assert.ok(sources.includes(`shards/${shard}/iterations/001/requests.jsonl`), sources.join(', '));
    assert.ok(!sources.includes('shards/001/iterations/000/requests.jsonl'), 'not the other iteration');
  });
});

test('a shard whose clock runs 5 s ahead lands on the coordinator`s clock by its recorded offset', async () => {
  const aligned = await copyOfSplit('aligned');
  await mergeRunFolder(aligned);
  const ahead = await copyOfSplit('ahead');
  const AHEAD_US = 5_000_000;
  // Shard 0 as a host whose clock reads 5 s more would have written it: every time +5 s, and its offset.
  const shard = join(ahead, 'shards', '000');
  const runJsonPath = join(shard, 'run.json');
  const runJson = JSON.parse(await readFile(runJsonPath, 'utf8')) as {
    shard: { clock_offset_us: number };
    clock: { anchor_mono_us: number };
  };
  runJson.shard.clock_offset_us = AHEAD_US;
  runJson.clock.anchor_mono_us += AHEAD_US;
  await writeFile(runJsonPath, JSON.stringify(runJson));
  const recordsPath = join(shard, 'iterations', '000', 'requests.jsonl');
  const shifted = (await lines(recordsPath)).map((r) => {
    const out: Record<string, unknown> = { ...r };
    for (const [key, value] of Object.entries(r))
      if (key.endsWith('_at_us') && typeof value === 'number') out[key] = value + AHEAD_US;
    out.chunk_times_us = (r.chunk_times_us as number[]).map((t) => t + AHEAD_US);
    return JSON.stringify(out);
  });
  await writeFile(recordsPath, `${shifted.join('\n')}\n`);
  const indexPath = join(shard, 'iterations', '000', 'telemetry', 'server', 'index.json');
  const index = JSON.parse(await readFile(indexPath, 'utf8')) as {
    scrapes: { sent_at_us: number; done_at_us: number }[];
  };
  for (const entry of index.scrapes) {
    entry.sent_at_us += AHEAD_US;
    entry.done_at_us += AHEAD_US;
  }
  await writeFile(indexPath, JSON.stringify(index));
  const summaryPath = join(shard, 'iterations', '000', 'summary.json');
  const shardSummary = JSON.parse(await readFile(summaryPath, 'utf8')) as {
    shard: { started_at_us: number; ended_at_us: number };
  };
  shardSummary.shard.started_at_us += AHEAD_US;
  shardSummary.shard.ended_at_us += AHEAD_US;
  await writeFile(summaryPath, JSON.stringify(shardSummary));
  await reseal(shard);
  await mergeRunFolder(ahead);

  const read = async (dir: string, path: string): Promise<unknown> =>
    JSON.parse(await readFile(join(dir, path), 'utf8'));
  assert.deepEqual(
    await lines(join(ahead, 'iterations', '000', 'requests.jsonl')),
    await lines(join(aligned, 'iterations', '000', 'requests.jsonl')),
    'the same records, times and order as with one clock',
  );
  assert.deepEqual(
    (await read(ahead, 'iterations/000/telemetry/server/index.json')) as object,
    (await read(aligned, 'iterations/000/telemetry/server/index.json')) as object,
    'the scrapes kept are shard 0`s, on the coordinator`s clock',
  );
  const clock = (dir: string): Promise<unknown> =>
    read(dir, 'run.json').then((r) => (r as { clock: unknown }).clock);
  assert.deepEqual(await clock(ahead), await clock(aligned), 'the anchor is on the coordinator`s clock');
  const summary = (dir: string): Promise<{ wall_s: number; duration_s: number }> =>
    read(dir, 'iterations/000/summary.json') as Promise<{ wall_s: number; duration_s: number }>;
  assert.equal((await summary(ahead)).duration_s, (await summary(aligned)).duration_s);
  assert.equal((await summary(ahead)).wall_s, (await summary(aligned)).wall_s);
});

test('altering one byte of a shard`s records makes verify name that file, and a merge of it is refused', async () => {
  const dir = await copyOfSplit('altered');
  await mergeRunFolder(dir);
  const path = join(dir, 'shards', '001', 'iterations', '000', 'requests.jsonl');
  const bytes = await readFile(path);
  const at = bytes.indexOf('"status":"ok"') + '"status":"'.length;
  bytes[at] = 'O'.charCodeAt(0);
  await writeFile(path, bytes);
  const report = await verifyRunFolder(dir);
  assert.equal(report.status, 'corrupt');
  assert.deepEqual(
    [...new Set(report.problems.map((p) => p.path))],
    ['shards/001/iterations/000/requests.jsonl'],
  );
  await assert.rejects(mergeRunFolder(dir), (error: InfermarkError) => {
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /no longer verifies.*shards\/001\/iterations\/000\/requests\.jsonl/);
    assert.ok(error.message.startsWith(dir));
    return true;
  });
});

test('a shard caught mid-seal (its manifest there, its digest not yet): an iteration merge during the run takes it, the final merge refuses it', async () => {
  const dir = await copyOfSplit('mid-seal');
  // What the coordinator sees between a shipped manifest.json and its manifest.sha256 (or
  // a local worker between writing the two): the k8s workers run failed on it now and then.
  await rm(join(dir, 'shards', '002', 'manifest.sha256'));
  const merged = await mergeIterationFromShards(dir, 0, { during: true });
  assert.equal(merged.lost.length, 0);
  assert.equal(merged.summary.requests.total, whole.summaries[0]!.requests.total);
  await assert.rejects(mergeIterationFromShards(dir, 0), /shards\/002\/manifest\.sha256: missing/);
  // An altered iteration is refused during the run too.
  const records = join(dir, 'shards', '001', 'iterations', '000', 'requests.jsonl');
  const bytes = await readFile(records);
  bytes[bytes.indexOf('"status":"ok"') + '"status":"'.length] = 'O'.charCodeAt(0);
  await writeFile(records, bytes);
  await assert.rejects(
    mergeIterationFromShards(dir, 0, { during: true }),
    /shards\/001\/iterations\/000\/requests\.jsonl/,
  );
});

test('a worker killed mid-iteration: the iteration is incomplete, names the shard, keeps every whole record', async () => {
  const dir = await copyOfSplit('killed');
  const shard = join(dir, 'shards', '001');
  // What SIGKILL leaves mid-iteration 001: no run seal, no summaries, the iteration unsealed, a line cut in half.
  for (const file of [
    'manifest.json',
    'manifest.sha256',
    'summary.json',
    'iterations/001/manifest.json',
    'iterations/001/summary.json',
  ])
    await rm(join(shard, file));
  const records = join(shard, 'iterations', '001', 'requests.jsonl');
  const text = await readFile(records, 'utf8');
  const lastLine = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
  await truncate(records, Buffer.byteLength(text) - Math.ceil(Buffer.byteLength(lastLine) / 2));
  const shardWhole = (await lines(join(split, 'shards', '001', 'iterations', '001', 'requests.jsonl')))
    .length;

  const progress = await mergeIterationFromShards(dir, 1);
  assert.deepEqual(progress.lost, [{ index: 1, reason: 'its folder is not sealed' }]);

  const merged = await mergeRunFolder(dir, { lostReasons: new Map([[1, 'worker exited on SIGKILL']]) });
  assert.equal(merged.status, 'failed');
  assert.equal(merged.failure?.kind, 'incomplete');
  assert.match(
    merged.failure?.reason ?? '',
    /iteration 001 is incomplete: shard 1 lost \(worker exited on SIGKILL\)/,
  );
  assert.deepEqual(merged.summaries[0]!.shards, { of: SHARDS, lost: [] });
  assert.deepEqual(merged.summaries[1]!.shards, {
    of: SHARDS,
    lost: [{ index: 1, reason: 'worker exited on SIGKILL' }],
  });
  const mergedRecords = await lines(join(dir, 'iterations', '001', 'requests.jsonl'));
  const wholeCount = (await lines(join(whole.dir, 'iterations', '001', 'requests.jsonl'))).length;
  assert.equal(
    mergedRecords.filter((r) => r.shard_index === 1).length,
    shardWhole - 1,
    'every whole line of the lost shard',
  );
  assert.equal(mergedRecords.length, wholeCount - 1, 'all but the cut record');
  const runJson = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as {
    shards: { status: string }[];
  };
  assert.deepEqual(
    runJson.shards.map((s) => s.status),
    ['complete', 'lost', 'complete'],
  );
  const report = await verifyRunFolder(dir);
  assert.equal(report.run_status, 'failed');
  assert.equal(
    report.status,
    'complete',
    `the failed run's evidence is whole: ${JSON.stringify(report.problems)}`,
  );
});

test('a shard lost without a summary: the merged planned count is still its share of a short trace, not maxRequests', async () => {
  // 7 arrivals, 5 ms apart, under a plan of up to 100 requests: each shard plans its part of 7.
  const trace = join(tmp, 'short-trace.jsonl');
  const arrivals = Array.from({ length: 7 }, (_, i) =>
    JSON.stringify({ timestamp: i * 5, input_length: 8, output_length: 4 }),
  );
  await writeFile(trace, `${arrivals.join('\n')}\n`);
  const j = jobFromCli({
    url: sim.url,
    model: 'sim',
    name: 'short-trace',
    trace,
    maxRequests: 100,
    maxTimeMinutes: 1,
    seed: 5,
  });
  const one = await executeRun({
    job: j,
    jobFile: null,
    endpoint: resolveEndpoint(j),
    outRoot: join(tmp, 'trace-one'),
  });
  assert.equal(one.summaries[0]!.requests.planned, 7);
  const dir = join(tmp, 'trace-split');
  await runSplitInProcess(j, resolveEndpoint(j), dir, SHARDS, 'coordinated-trace');
  // Shard 1 killed mid-iteration: no summary of its own (so its planned share is not written anywhere).
  const shard = join(dir, 'shards', '001');
  for (const file of [
    'manifest.json',
    'manifest.sha256',
    'summary.json',
    'iterations/000/manifest.json',
    'iterations/000/summary.json',
  ])
    await rm(join(shard, file));
  const merged = await mergeRunFolder(dir, { lostReasons: new Map([[1, 'worker exited on SIGKILL']]) });
  const s = merged.summaries[0]!;
  assert.deepEqual(s.shards?.lost, [{ index: 1, reason: 'worker exited on SIGKILL' }]);
  assert.equal(s.requests.planned, 7, 'shards 0 and 2 wrote 3 and 2; shard 1 owns arrivals 1 and 4');
});

test('shards that are not one run, or a shard missing, are refused naming the folder (exit 2)', async () => {
  const other = await copyOfSplit('other-run');
  const runJsonPath = join(other, 'shards', '002', 'run.json');
  const runJson = JSON.parse(await readFile(runJsonPath, 'utf8')) as { shard: { run_id: string } };
  runJson.shard.run_id = 'another-run';
  await writeFile(runJsonPath, JSON.stringify(runJson));
  await reseal(join(other, 'shards', '002'));
  await assert.rejects(mergeRunFolder(other), (error: InfermarkError) => {
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /shards\/002\/run\.json: shard\.run_id is another-run/);
    assert.ok(error.message.startsWith(other));
    return true;
  });

  const missing = await copyOfSplit('missing');
  await rm(join(missing, 'shards', '002'), { recursive: true });
  await assert.rejects(mergeRunFolder(missing), /shards\/002: shard 2 of 3 is missing/);
  await assert.rejects(mergeRunFolder(join(tmp, 'whole')), /no shards\/ folder/);
  await assert.rejects(mergeRunFolder(whole.dir), /a sealed run with no shards \(not a split run/);
});
