/**
 * What `verify` reports and `infermark verify` prints for small run folders sealed
 * here (no simulator): each problem once, in the run's list and in its iteration's
 * line, and each iteration's record count once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport } from '../cli/verify.js';
import { sealIteration, sealRun } from './manifest.js';
import { RunFolder } from './run-folder.js';
import { verifyRunFolder } from './verify.js';

let tmp: string;
let cases = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-verify-'));
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A sealed run of two sealed iterations, with 2 and 3 records. */
async function sealedRun(): Promise<string> {
  const dir = join(tmp, `run-${++cases}`);
  await mkdir(dir, { recursive: true });
  const runId = 'run-1';
  const folder = await RunFolder.create(dir);
  await folder.writeJson('run.json', { run_id: runId, plan: [{ iteration: 0 }, { iteration: 1 }] });
  await folder.writeText('iterations/000/requests.jsonl', '{"i":0}\n{"i":1}\n');
  await sealIteration(folder, runId, 0);
  await folder.writeText('iterations/001/requests.jsonl', '{"i":0}\n{"i":1}\n{"i":2}\n');
  await sealIteration(folder, runId, 1);
  await sealRun(folder, runId, 'complete');
  return dir;
}

/** How many times `needle` occurs in `text`. */
function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

test('verify: a whole run prints each iteration with its record count once', async () => {
  const report = await verifyRunFolder(await sealedRun());
  assert.equal(report.status, 'complete', JSON.stringify(report.problems));
  assert.deepEqual(
    report.iterations.map((it) => [it.iteration, it.status, it.records]),
    [
      [0, 'complete', 2],
      [1, 'complete', 3],
    ],
  );
  const lines = renderReport(report).split('\n');
  const first = lines.find((line) => line.startsWith('  000 ')) ?? assert.fail(lines.join('\n'));
  const second = lines.find((line) => line.startsWith('  001 ')) ?? assert.fail(lines.join('\n'));
  assert.equal(occurrences(first, 'records'), 1, first);
  assert.equal(occurrences(second, 'records'), 1, second);
  assert.match(first, /^ {2}000 {2}complete +2 records {2}sealed and verified$/);
  assert.match(second, /^ {2}001 {2}complete +3 records {2}sealed and verified$/);
});

test("verify: a changed file in a sealed iteration is named once, in the run's list and the iteration's detail", async () => {
  const dir = await sealedRun();
  const path = join(dir, 'iterations', '000', 'requests.jsonl');
  const bytes = await readFile(path);
  // '{"i":0}' becomes '{"i":1}': still whole JSON, so the only problem is the digest.
  bytes[5] = (bytes[5] as number) ^ 0x01;
  await writeFile(path, bytes);

  const report = await verifyRunFolder(dir);
  assert.equal(report.status, 'corrupt');
  const named = report.problems.filter((p) => p.path === 'iterations/000/requests.jsonl');
  assert.equal(named.length, 1, JSON.stringify(report.problems));
  const problem = `iterations/000/requests.jsonl: ${named[0]?.problem}`;
  const [first, second] = report.iterations;
  assert.equal(first?.status, 'corrupt');
  assert.equal(occurrences(first?.detail ?? '', problem), 1, first?.detail);
  assert.equal(second?.status, 'complete', second?.detail);

  const printed = renderReport(report);
  const line = printed.split('\n').find((l) => l.startsWith('  000 ')) ?? assert.fail(printed);
  assert.equal(occurrences(line, problem), 1, line);
  assert.equal(occurrences(line, 'records'), 1, line);
  // Once in the iteration's line, once under "problems:".
  assert.equal(occurrences(printed, problem), 2, printed);
});

test('verify: a run folder stopped before run.json (nothing in it) is partial; run.json missing beside records is corrupt', async () => {
  const empty = join(tmp, `run-${++cases}`);
  await RunFolder.create(empty);
  const report = await verifyRunFolder(empty);
  assert.equal(report.status, 'partial', JSON.stringify(report.problems));
  assert.deepEqual(report.problems, []);
  assert.match(report.notes.join('\n'), /stopped before it wrote run\.json/);

  const withRecords = join(tmp, `run-${++cases}`);
  const folder = await RunFolder.create(withRecords);
  await folder.writeText('iterations/000/requests.jsonl', '{"i":0}\n');
  const damaged = await verifyRunFolder(withRecords);
  assert.equal(damaged.status, 'corrupt');
  assert.deepEqual(damaged.problems, [{ path: 'run.json', problem: 'missing' }]);
});
