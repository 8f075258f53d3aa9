/**
 * The run folder as evidence, end to end: real runs by the built CLI against the
 * simulator in its own process, then `verify`. A sealed folder verifies; any
 * changed, added or removed byte is named; a run killed with SIGKILL mid-iteration
 * keeps its finished iterations whole and every record it had written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  cli,
  cliRunFolder,
  jsonLines,
  runArgs,
  runFolderUnder,
  simulatorFixture,
} from '../cli/testing/harness.js';
import { listFiles } from './manifest.js';
import { verifyRunFolder, type VerifyReport } from './verify.js';

// ~10 + 7 × 3 = 31 ms per D(20,8) request.
const { sim, tmp } = simulatorFixture(
  'infermark-evidence-',
  { ttftMs: 10, ttftPerInputTokenMs: 0, itlMs: 3, itlJitterMs: 0, batchSlowdown: 0 },
  {
    setUp: async () => {
      const out = join(tmp(), 'sealed');
      sealedRun = await cliRunFolder(runD20(out, '1,2', 6), out);
    },
  },
);
let sealedRun: string;

function runD20(out: string, concurrency: string, maxRequests: number): string[] {
  return runArgs({ url: sim().url, out, scenario: 'D(20,8)', concurrency, maxRequests, quiet: true });
}

test('a sealed run verifies whole; its manifest digest is the sha256 of manifest.json', async () => {
  const result = await cli(['verify', sealedRun, '--json']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout) as VerifyReport;
  assert.equal(report.status, 'complete');
  assert.equal(report.sealed, true);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(
    report.iterations.map((it) => [it.iteration, it.status, it.records]),
    [
      [0, 'complete', 6],
      [1, 'complete', 6],
    ],
  );
  const digest = (await readFile(join(sealedRun, 'manifest.sha256'), 'utf8')).trim();
  assert.equal(report.artifact_manifest_digest, digest);
  const manifest = JSON.parse(await readFile(join(sealedRun, 'manifest.json'), 'utf8')) as {
    artifacts: { path: string }[];
  };
  const files = await listFiles(sealedRun);
  assert.deepEqual(
    manifest.artifacts.map((a) => a.path).sort(),
    files.filter((f) => f !== 'manifest.json' && f !== 'manifest.sha256'),
    'the manifest lists every file',
  );
  const run = JSON.parse(await readFile(join(sealedRun, 'run.json'), 'utf8')) as Record<string, unknown>;
  assert.match(String(run.benchmark_case_id), /^sha256:[0-9a-f]{64}$/);
  assert.match(String(run.workload_spec_digest), /^sha256:[0-9a-f]{64}$/);
  assert.equal(run.intent, 'exploratory');
  const records = (await jsonLines(join(sealedRun, 'iterations', '000', 'requests.jsonl'))) as {
    trace_id: string;
    request_id: string;
  }[];
  const traceIds = new Set(records.map((r) => r.trace_id));
  assert.equal(traceIds.size, records.length, 'one trace id per request');
  for (const id of traceIds) assert.match(id, /^[0-9a-f]{32}$/);
});

test('one flipped byte in any file of a sealed run is named by verify (exit 1)', async () => {
  const files = await listFiles(sealedRun);
  for (const file of files) {
    const copy = join(tmp(), 'flip');
    await rm(copy, { recursive: true, force: true });
    await cp(sealedRun, copy, { recursive: true });
    const path = join(copy, file);
    const bytes = await readFile(path);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] as number) ^ 0x01;
    await writeFile(path, bytes);
    const report = await verifyRunFolder(copy);
    assert.equal(report.status, 'corrupt', file);
    const named = report.problems.map((p) => p.path);
    assert.ok(named.includes(file), `${file}: problems ${JSON.stringify(report.problems)}`);
  }
  const copy = join(tmp(), 'flip');
  const result = await cli(['verify', copy]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /CORRUPT/);
});

test('an added or a removed file is named', async () => {
  const copy = join(tmp(), 'added');
  await cp(sealedRun, copy, { recursive: true });
  await writeFile(join(copy, 'iterations', '001', 'extra.txt'), 'x');
  await unlink(join(copy, 'iterations', '000', 'summary.json'));
  const report = await verifyRunFolder(copy);
  assert.equal(report.status, 'corrupt');
  const byPath = new Map(report.problems.map((p) => [p.path, p.problem]));
  assert.match(byPath.get('iterations/001/extra.txt') ?? '', /not in the manifest/);
  assert.match(byPath.get('iterations/000/summary.json') ?? '', /missing/);
  assert.equal(report.iterations.find((it) => it.iteration === 0)?.status, 'corrupt');
});

test('SIGKILL mid-iteration: finished iterations verify, the cut one is partial, no written record is lost', async () => {
  const out = join(tmp(), 'killed');
  let seenBeforeKill = 0;
  let killed = false;
  // Three iterations of 40 requests (~1.2 s, 0.6 s, 0.3 s); killed during the second.
  const result = await cli(runD20(out, '1,2,4', 40), {
    timeoutMs: 60_000,
    onSpawn: (child) => {
      // Once the second iteration has written a few records, kill without warning.
      const poll = setInterval(() => {
        void (async () => {
          if (killed) return;
          const path = await secondRecordsFile(out);
          if (path === null) return;
          const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean).length;
          if (lines < 5 || killed) return;
          killed = true;
          clearInterval(poll);
          child.kill('SIGKILL');
          seenBeforeKill = lines;
        })();
      }, 5);
      child.on('exit', () => clearInterval(poll));
    },
  });
  assert.equal(result.signal, 'SIGKILL', `not killed: ${result.stderr}`);
  const dir = await runFolderUnder(out);
  const report = await verifyRunFolder(dir);
  assert.equal(report.status, 'partial', JSON.stringify(report, null, 2));
  assert.equal(report.sealed, false);
  assert.deepEqual(report.problems, []);
  const [first, second] = report.iterations;
  assert.equal(first?.status, 'complete');
  assert.equal(first?.sealed, true);
  assert.equal(first?.records, 40);
  assert.equal(second?.status, 'partial');
  assert.equal(second?.sealed, false);
  assert.ok(
    (second?.records ?? 0) >= seenBeforeKill,
    `${second?.records} records after the kill, ${seenBeforeKill} seen before`,
  );
  assert.equal(report.iterations.length, 2, 'the third iteration never started');
  const records = (await jsonLines(join(dir, 'iterations', '001', 'requests.jsonl'))) as {
    request_id: string;
  }[];
  assert.equal(new Set(records.map((r) => r.request_id)).size, records.length, 'each record once');

  const verify = await cli(['verify', dir]);
  assert.equal(verify.code, 3, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /PARTIAL, not sealed/);
  assert.match(verify.stdout, /000 {2}complete/);
  assert.match(verify.stdout, /001 {2}partial/);
});

/** The second iteration's records file once it has bytes, else null. */
async function secondRecordsFile(out: string): Promise<string | null> {
  const runs = join(out);
  if (!existsSync(runs)) return null;
  for (const entry of await readdir(runs)) {
    const path = join(runs, entry, 'iterations', '001', 'requests.jsonl');
    if (existsSync(path) && (await stat(path)).size > 0) return path;
  }
  return null;
}
