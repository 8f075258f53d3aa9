/**
 * The built CLI as a user runs it (`node dist/src/cli/main.js ...` in a child
 * process): exit codes, what it prints, and the run folder it leaves, against
 * a simulator in its own process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ROOT,
  assertNoStack,
  cli,
  jsonLines,
  runArgs,
  runFolderUnder,
  simulatorFixture,
} from './testing/harness.js';

// ~20 + 9 × 5 = 65 ms per D(20,10) request.
const { sim, tmp } = simulatorFixture('infermark-cli-', {
  ttftMs: 20,
  ttftPerInputTokenMs: 0,
  itlMs: 5,
  itlJitterMs: 0,
  batchSlowdown: 0,
});

/** `run` against the test's simulator with the command-line form; `extra` flags go last. */
function runD20(out: string, concurrency: string, maxRequests: number, ...extra: string[]): string[] {
  return runArgs({ url: sim().url, out, scenario: 'D(20,10)', concurrency, maxRequests, extra });
}

test('validate accepts both seed examples', async () => {
  const result = await cli(['validate', 'examples/seed-oci-llama.yaml', 'examples/seed-s3.yaml']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /seed-oci-llama\.yaml: valid/);
  assert.match(result.stdout, /seed-s3\.yaml: valid/);
});

test('validate on a bad job exits 2 naming file, field and value, without a stack trace', async () => {
  const original = await readFile(join(ROOT, 'examples', 'seed-s3.yaml'), 'utf8');
  const bad = original.replace(
    'task: text-to-text',
    'task: text-to-text\n   trafficScenarios: ["D(100,100)", "N(480,-1)/(300,150)"]',
  );
  assert.notEqual(bad, original);
  const file = join(tmp(), 'bad-job.yaml');
  await writeFile(file, bad);
  const result = await cli(['validate', file]);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.ok(result.stderr.includes(file), result.stderr);
  assert.ok(result.stderr.includes('spec.trafficScenarios[1]'), result.stderr);
  assert.ok(result.stderr.includes('"N(480,-1)/(300,150)"'), result.stderr);
  assertNoStack(result);
});

test('run with flags prints a row per iteration and the run folder, which holds the evidence', async () => {
  const out = join(tmp(), 'run-flags');
  const result = await cli(runD20(out, '1,2', 5));
  assert.equal(result.code, 0, result.stderr);
  assertNoStack(result);
  const dir = await runFolderUnder(out);
  assert.ok(result.stdout.includes(`run folder: ${dir}`), result.stdout);
  // One table row per concurrency level.
  const rows = result.stdout.split('\n').filter((line) => line.includes('D(20,10)'));
  assert.equal(rows.length, 2, result.stdout);
  for (const file of [
    'run.json',
    'summary.json',
    'iterations/000/requests.jsonl',
    'iterations/000/workload.json',
    'iterations/001/requests.jsonl',
  ]) {
    assert.ok(existsSync(join(dir, file)), `${file} missing in ${dir}`);
  }
  assert.equal((await jsonLines(join(dir, 'iterations', '000', 'requests.jsonl'))).length, 5);
  const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as {
    status: string;
    iterations: Array<{ concurrency: number; requests: { completed: number } }>;
  };
  assert.equal(summary.status, 'complete');
  assert.deepEqual(
    summary.iterations.map((s) => [s.concurrency, s.requests.completed]),
    [
      [1, 5],
      [2, 5],
    ],
  );
});

test('run --json prints one JSON document on stdout', async () => {
  const out = join(tmp(), 'run-json');
  const result = await cli(runD20(out, '1,2', 3, '--json'));
  assert.equal(result.code, 0, result.stderr);
  const parsed = JSON.parse(result.stdout) as { run_id: string; dir: string; iterations: unknown[] };
  assert.equal(typeof parsed.run_id, 'string');
  assert.equal(parsed.dir, await runFolderUnder(out));
  assert.equal(parsed.iterations.length, 2);
});

test('the same seed and flags send byte-identical prompts: equal workload digests', async () => {
  const digests: string[] = [];
  for (const name of ['same-seed-a', 'same-seed-b']) {
    const out = join(tmp(), name);
    const result = await cli(runD20(out, '1', 3, '--seed', '7', '--quiet'));
    assert.equal(result.code, 0, result.stderr);
    const dir = await runFolderUnder(out);
    const workload = JSON.parse(await readFile(join(dir, 'iterations', '000', 'workload.json'), 'utf8')) as {
      items: number;
      items_digest: string;
    };
    assert.equal(workload.items, 3);
    assert.match(workload.items_digest, /^sha256:[0-9a-f]{64}$/);
    digests.push(workload.items_digest);
  }
  assert.equal(digests[0], digests[1]);
  const other = join(tmp(), 'other-seed');
  assert.equal((await cli(runD20(other, '1', 3, '--seed', '8', '--quiet'))).code, 0);
  const otherWorkload = JSON.parse(
    await readFile(join(await runFolderUnder(other), 'iterations', '000', 'workload.json'), 'utf8'),
  ) as { items_digest: string };
  assert.notEqual(otherWorkload.items_digest, digests[0]);
});

test('SIGINT ends the run with 130 and keeps the finished iteration', async () => {
  const out = join(tmp(), 'run-sigint');
  let signalled = false;
  // Iteration 1 (c=4) takes ~0.3 s; iteration 2 (c=1, 40 × 65 ms) ~2.6 s: interrupt it early on.
  const result = await cli(runD20(out, '4,1', 40), {
    onStderr: (text, child) => {
      // The line a finished iteration prints (to stderr, terminal or not).
      if (!signalled && text.includes('[1/2]')) {
        signalled = true;
        setTimeout(() => child.kill('SIGINT'), 200);
      }
    },
  });
  assert.ok(signalled, `the first iteration never reported:\n${result.stderr}`);
  assert.equal(result.code, 130, result.stdout + result.stderr);
  assertNoStack(result);
  assert.match(result.stdout, /interrupted/);
  const dir = await runFolderUnder(out);
  const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as {
    status: string;
    iterations_completed: number;
    iterations: Array<{ ended_by: string; requests: { completed: number; total: number } }>;
  };
  assert.equal(summary.status, 'interrupted');
  assert.equal(summary.iterations_completed, 1);
  assert.equal(summary.iterations[0]?.ended_by, 'max_requests');
  assert.equal(summary.iterations[0]?.requests.completed, 40);
  assert.equal((await jsonLines(join(dir, 'iterations', '000', 'requests.jsonl'))).length, 40);
  assert.ok(existsSync(join(dir, 'iterations', '000', 'summary.json')));
  // The interrupted iteration kept what it finished, on disk and in its summary.
  const second = summary.iterations[1];
  assert.equal(second?.ended_by, 'interrupted');
  const secondLines = await jsonLines(join(dir, 'iterations', '001', 'requests.jsonl'));
  assert.equal(secondLines.length, second?.requests.total);
  assert.ok((second?.requests.completed ?? 0) < 40);
});

test('bad flag values exit 2 and name the flag', async () => {
  const result = await cli([
    'run',
    '--url',
    sim().url,
    '--model',
    'm',
    '--concurrency',
    '0,x',
    '--out',
    tmp(),
  ]);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /--concurrency\[0\]/);
  assert.match(result.stderr, /--concurrency\[1\]/);
  assertNoStack(result);
});
