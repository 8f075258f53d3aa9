// A run that failed says so (issue 14, point 3): the built CLI against simulators and raw
// node:http servers on loopback, with small request counts and millisecond latencies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import { runDetail } from '../server/api.js';
import { runPage } from '../server/pages.js';
import { Warehouse } from '../warehouse/warehouse.js';
import {
  assertNoStack,
  cli,
  jsonLines,
  runArgs,
  runFolderUnder,
  simulatorFixture,
} from './testing/harness.js';

const FAST = { ttftMs: 2, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0, batchSlowdown: 0 } as const;

/** A healthy simulator serving model `m`. */
const { sim, tmp } = simulatorFixture('infermark-failed-', FAST);

interface RunSummaryJson {
  status: string;
  failure: { kind: string; reason: string; error_rate: number | null; max_error_rate: number } | null;
  iterations: Array<{
    ended_by: string;
    error_rate: number | null;
    request_throughput_rps: number | null;
    output_throughput_tokens_per_s: number | null;
    total_token_throughput_tokens_per_s: number | null;
    requests: { measured: number; completed: number; errored: number; cancelled: number };
  }>;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

async function withSimulator<T>(
  options: Parameters<typeof spawnSimulator>[0],
  body: (s: SpawnedSimulator) => Promise<T>,
): Promise<T> {
  const s = await spawnSimulator({ model: 'm', ...FAST, ...options });
  try {
    return await body(s);
  } finally {
    await s.close();
  }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

test('a run where every request fails is failed: summary.json, manifest, warehouse row, exit 1', async () => {
  await withSimulator({ errorRate: 1 }, async (failing) => {
    const out = join(tmp(), 'all-fail');
    const warehouse = join(tmp(), 'all-fail.duckdb');
    // 6 requests: below the fail-fast count, so this is the "nothing completed" verdict.
    const result = await cli(
      runArgs({ url: failing.url, out, scenario: 'D(8,4)', concurrency: '2', maxRequests: 6, warehouse }),
    );
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assertNoStack(result);
    assert.match(
      result.stderr,
      /infermark: run failed: no measured request completed \(6 errored: http_5xx 6\)/,
    );
    assert.match(result.stdout, /\(failed\)/);
    assert.match(result.stdout, /100\.0 \(http_5xx 6\)/, 'the error column names the class');
    const dir = await runFolderUnder(out);
    const summary = await readJson<RunSummaryJson>(join(dir, 'summary.json'));
    assert.equal(summary.status, 'failed');
    assert.equal(summary.failure?.kind, 'no_request_completed');
    const point = summary.iterations[0];
    assert.equal(point?.requests.errored, 6);
    assert.equal(point?.request_throughput_rps, null, 'no throughput without a completed request');
    assert.equal(point?.output_throughput_tokens_per_s, null);
    assert.equal(point?.total_token_throughput_tokens_per_s, null);
    const manifest = await readJson<{ status: string }>(join(dir, 'manifest.json'));
    assert.equal(manifest.status, 'failed');

    // Sealed and verifiable: nothing is lost by failing.
    const verified = await cli(['verify', dir, '--json']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const report = JSON.parse(verified.stdout) as { status: string; run_status: string; notes: string[] };
    assert.equal(report.status, 'complete');
    assert.equal(report.run_status, 'failed');
    assert.match(report.notes.join('\n'), /the run failed/);

    const w = await Warehouse.open(warehouse);
    try {
      const [run] = await w.all('SELECT run_id, status FROM benchmark_run_fact');
      assert.equal(run?.status, 'failed');
      const [outcome] = await w.all(
        'SELECT request_throughput_rps, output_throughput_tokens_per_s, goodput_rps, error_rate FROM serving_outcome_fact',
      );
      assert.equal(outcome?.request_throughput_rps, null);
      assert.equal(outcome?.output_throughput_tokens_per_s, null);
      assert.equal(outcome?.error_rate, 1);
      const [requests] = await w.all(
        "SELECT count(*)::INTEGER AS n FROM request_fact WHERE status = 'error'",
      );
      assert.equal(requests?.n, 6);
      // The dashboard's run page shows the status it was ingested with.
      assert.match(runPage(await runDetail(w, String(run?.run_id)), 'n'), />failed</);
    } finally {
      w.close();
    }
    // So does the report, whose figures of that point are all missing (—), not 0.
    const runId = dir.split(/[\\/]/).pop() as string;
    const md = await cli(['report', runId, '--warehouse', warehouse, '--format', 'md', '-o', '-']);
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /\| failed \| m \|/);
    assert.match(md.stdout, /\| D\(8,4\) @ concurrency 2 \| 1 \| — \| — \|/);
    // A gate refuses it: the latencies of a failed run's few survivors are not the service's.
    const gate = await cli(['gate', 'baseline', '--from', dir, '-o', join(tmp(), 'failed-baseline.json')]);
    assert.equal(gate.code, 2, gate.stdout + gate.stderr);
    assertNoStack(gate);
    assert.match(
      gate.stderr,
      /the run failed \(its summary\.json says why\); a gate compares runs that completed only/,
    );
  });
});

test('--max-error-rate: above it the run fails with exit 1 and the rate, at or below it exits 0', async () => {
  await withSimulator({ errorRate: 0.3, seed: 11 }, async (flaky) => {
    const run = (name: string, maxErrorRate: string): ReturnType<typeof cli> =>
      cli(
        runArgs({
          url: flaky.url,
          out: join(tmp(), name),
          scenario: 'D(8,4)',
          concurrency: '2',
          maxRequests: 16,
          warehouse: false,
          quiet: true,
          extra: ['--max-error-rate', maxErrorRate],
        }),
      );
    const strict = await run('strict', '0.05');
    const dir = await runFolderUnder(join(tmp(), 'strict'));
    const summary = await readJson<RunSummaryJson>(join(dir, 'summary.json'));
    const rate = summary.iterations[0]?.error_rate ?? 0;
    // The simulator's seeded faults: some errors, far from all (checked, not assumed).
    assert.ok(rate > 0.05 && rate <= 0.9, `error rate ${rate}`);
    assert.equal(strict.code, 1, strict.stderr);
    assert.equal(summary.status, 'failed');
    assert.equal(summary.failure?.kind, 'error_rate');
    assert.equal(summary.failure?.max_error_rate, 0.05);
    assert.match(
      strict.stderr,
      /run failed: error rate [\d.]+% \(\d+ of 16 measured requests: http_5xx \d+\) is above the maximum 5%/,
    );

    const lenient = await run('lenient', '0.9');
    assert.equal(lenient.code, 0, lenient.stderr);
    const ok = await readJson<RunSummaryJson>(
      join(await runFolderUnder(join(tmp(), 'lenient')), 'summary.json'),
    );
    assert.equal(ok.status, 'complete');
    assert.equal(ok.failure, null);
  });
});

test('--max-error-rate outside 0..1, and spec.maxErrorRate likewise, exit 2 naming the field', async () => {
  const flag = await cli([
    ...runArgs({ url: sim().url, out: tmp(), scenario: 'D(8,4)', concurrency: '1', maxRequests: 1 }),
    '--max-error-rate',
    '1.5',
  ]);
  assert.equal(flag.code, 2, flag.stderr);
  assert.match(flag.stderr, /command line: --max-error-rate: 1\.5: /);
  assertNoStack(flag);
  const { writeJobYaml } = await import('./testing/harness.js');
  const job = await writeJobYaml(join(tmp(), 'bad-rate.yaml'), {
    name: 'bad-rate',
    url: sim().url,
    scenarios: ['D(8,4)'],
    concurrency: [1],
    maxRequestsPerIteration: 1,
    spec: ['maxErrorRate: -0.1'],
  });
  const file = await cli(['validate', job]);
  assert.equal(file.code, 2, file.stderr);
  assert.match(file.stderr, /bad-rate\.yaml: spec\.maxErrorRate: -0\.1: /);
});

test('preflight: a model the server does not list stops the run (exit 2) before any load, listing the served models', async () => {
  const before = (await sim().stats()).requests;
  const out = join(tmp(), 'wrong-model');
  const args = runArgs({
    url: sim().url,
    out,
    scenario: 'D(8,4)',
    concurrency: '1',
    maxRequests: 2,
    warehouse: false,
  });
  args[args.indexOf('--model') + 1] = 'M';
  const result = await cli(args);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assertNoStack(result);
  assert.match(
    result.stderr,
    /command line: --model: "M": not served by http:\/\/127\.0\.0\.1:\d+\/v1\/models, which lists "m" \(did you mean "m"\?\); --no-preflight/,
  );
  assert.equal((await sim().stats()).requests, before, 'no inference request was sent');
});

test('--no-preflight skips the model check: a server that accepts any name is run', async () => {
  const out = join(tmp(), 'no-preflight');
  const args = runArgs({
    url: sim().url,
    out,
    scenario: 'D(8,4)',
    concurrency: '1',
    maxRequests: 2,
    warehouse: false,
  });
  args[args.indexOf('--model') + 1] = 'any-name';
  const result = await cli([...args, '--no-preflight']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.doesNotMatch(result.stderr, /model not checked/);
  const summary = await readJson<RunSummaryJson>(join(await runFolderUnder(out), 'summary.json'));
  assert.equal(summary.status, 'complete');
  assert.equal(summary.iterations[0]?.requests.completed, 2);
});

test('preflight: a server with no /v1/models (404) gets a notice, and the run goes on', async () => {
  // Passes everything to the simulator except the model list.
  const target = new URL(sim().url);
  const proxy = createServer((req, res) => {
    if (req.url === '/v1/models') {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such route');
      return;
    }
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const url = await listen(proxy);
  try {
    const out = join(tmp(), 'no-models');
    const result = await cli(
      runArgs({ url, out, scenario: 'D(8,4)', concurrency: '1', maxRequests: 2, warehouse: false }),
    );
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(
      result.stderr,
      /model not checked at http:\/\/127\.0\.0\.1:\d+\/v1\/models: the server has no model list \(HTTP 404\)/,
    );
    const summary = await readJson<RunSummaryJson>(join(await runFolderUnder(out), 'summary.json'));
    assert.equal(summary.status, 'complete');
  } finally {
    await close(proxy);
  }
});

test('fail fast: a wrong URL path stops the run after 20 failures of one class, the cause on stderr', async () => {
  const out = join(tmp(), 'wrong-path');
  const warehouse = join(tmp(), 'wrong-path.duckdb');
  // Two iterations of 200 requests planned; the first 20 answers are all 404s.
  const result = await cli(
    runArgs({
      url: `${sim().url}/v2/generate`,
      out,
      scenario: 'D(8,4)',
      concurrency: '4,1',
      maxRequests: 200,
      quiet: true,
      warehouse,
    }),
  );
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assertNoStack(result);
  assert.match(
    result.stderr,
    /run failed: stopped early: the first 20 measured requests of iteration 0 all failed with http_4xx: HTTP 404: .*POST \/v2\/generate\/v1\/chat\/completions/,
  );
  const dir = await runFolderUnder(out);
  const summary = await readJson<RunSummaryJson>(join(dir, 'summary.json'));
  assert.equal(summary.status, 'failed');
  assert.equal(summary.failure?.kind, 'fail_fast');
  assert.equal(summary.iterations.length, 1, 'the second iteration never ran');
  assert.equal(summary.iterations[0]?.ended_by, 'fail_fast');
  // The records that were sent are kept: the 20 failures, and at most the 3 others in flight.
  const records = (await jsonLines(join(dir, 'iterations', '000', 'requests.jsonl'))) as Array<{
    status: string;
  }>;
  assert.ok(records.length >= 20 && records.length <= 23, `${records.length} records`);
  assert.equal(records.length, summary.iterations[0]?.requests.measured);
  assert.ok(records.filter((r) => r.status === 'error').length >= 20);
  const verified = await cli(['verify', dir]);
  assert.equal(verified.code, 0, verified.stdout);
  const w = await Warehouse.open(warehouse);
  try {
    const [run] = await w.all(
      'SELECT status, iterations_planned, iterations_completed FROM benchmark_run_fact',
    );
    assert.deepEqual({ ...run }, { status: 'failed', iterations_planned: 2, iterations_completed: 1 });
  } finally {
    w.close();
  }
});

test('a failed repeat ends its group: the later repeats would fail alike', async () => {
  await withSimulator({ errorRate: 1 }, async (failing) => {
    const out = join(tmp(), 'group-fail');
    const result = await cli(
      runArgs({
        url: failing.url,
        out,
        scenario: 'D(8,4)',
        concurrency: '1',
        maxRequests: 3,
        warehouse: false,
        quiet: true,
        extra: ['--repeats', '3'],
      }),
    );
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /run failed \(repeat 1\/3\): no measured request completed/);
    assert.match(result.stdout, /1 of 3 repeats/);
    const [groupId] = await readdir(out);
    const group = await readJson<{ runs: Array<{ status: string }> }>(
      join(out, groupId as string, 'group.json'),
    );
    assert.deepEqual(
      group.runs.map((r) => r.status),
      ['failed'],
    );
  });
});
