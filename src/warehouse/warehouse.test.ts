/**
 * The warehouse on real run folders: runs by the built CLI against the simulator
 * (in its own process) are ingested into DuckDB on disk; every canonical table's
 * grain and keys are checked, its numbers against the run folder's, re-ingest
 * changes no row, and lineage walks a number down to the raw artifacts (and says
 * which one is gone when one is deleted).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  cli,
  jsonLines,
  runArgs,
  cliRunFolder,
  simulatorFixture,
  VLLM_ON_2_H100,
  writeJobYaml,
} from '../cli/testing/harness.js';
import { CANONICAL_TABLES } from './migrations.js';
import { Warehouse } from './warehouse.js';

let warehousePath: string;
/** Two real runs: one from a job file (labels, price, service metadata), one from flags. */
let jobRun: string;
let flagRun: string;

const { sim, tmp } = simulatorFixture(
  'infermark-warehouse-',
  { ttftMs: 8, ttftPerInputTokenMs: 0, itlMs: 2, itlJitterMs: 1, batchSlowdown: 0 },
  {
    setUp: async () => {
      warehousePath = join(tmp(), 'warehouse.duckdb');
      const job = await writeJobYaml(join(tmp(), 'job.yaml'), {
        name: 'wh-test',
        namespace: 'bench',
        labels: { 'infermark.io/cluster': 'lab', 'topology.kubernetes.io/region': 'us-east-1' },
        url: sim().url,
        scenarios: ['D(16,6)', 'D(32,4)'],
        concurrency: [1, 3],
        maxRequestsPerIteration: 9,
        spec: [VLLM_ON_2_H100, 'costPerHourUsd: 7.2', 'warmup: { requests: 1 }'],
      });
      const [outA, outB] = [join(tmp(), 'runs-a'), join(tmp(), 'runs-b')];
      jobRun = await cliRunFolder(['run', job, '--out', outA, '--quiet', '--warehouse', warehousePath], outA);
      flagRun = await cliRunFolder(
        runArgs({
          url: sim().url,
          out: outB,
          scenario: 'D(16,6)',
          concurrency: '2',
          maxRequests: 7,
          quiet: true,
          warehouse: warehousePath,
        }),
        outB,
      );
    },
  },
);

function withWarehouse<T>(work: (w: Warehouse) => Promise<T>): Promise<T> {
  return Warehouse.using(warehousePath, {}, work);
}

/** Every canonical table's rows, sorted, as text: equal dumps mean no row changed. */
async function dump(w: Warehouse): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of CANONICAL_TABLES) {
    const { rows } = await w.json(`SELECT * FROM ${table}`);
    out[table] = rows
      .map((r) => JSON.stringify(r))
      .sort()
      .join('\n');
  }
  return out;
}

async function count(w: Warehouse, sql: string, params: (string | number)[] = []): Promise<number> {
  return Number((await w.all(sql, params))[0]?.n);
}

test('each canonical table has its grain and keys, and every row names its run and digests', async () => {
  const runJson = JSON.parse(await readFile(join(jobRun, 'run.json'), 'utf8')) as {
    run_id: string;
    benchmark_case_id: string;
    workload_spec_digest: string;
    plan: unknown[];
  };
  const manifest = JSON.parse(await readFile(join(jobRun, 'manifest.json'), 'utf8')) as {
    artifacts: unknown[];
  };
  const digest = (await readFile(join(jobRun, 'manifest.sha256'), 'utf8')).trim();
  await withWarehouse(async (w) => {
    // benchmark_run_fact: one row per run.
    assert.equal(await count(w, 'SELECT count(*) n FROM benchmark_run_fact'), 2);
    const run = (await w.all('SELECT * FROM benchmark_run_fact WHERE run_id = $1', [runJson.run_id]))[0];
    assert.ok(run);
    assert.equal(run.benchmark_case_id, runJson.benchmark_case_id);
    assert.equal(run.workload_spec_digest, runJson.workload_spec_digest);
    assert.equal(run.artifact_manifest_digest, digest);
    assert.equal(run.intent, 'exploratory');
    assert.equal(run.engine, 'vLLM');
    assert.equal(run.gpu_count, 2);
    // serving_outcome_fact: one row per run × point, keyed (run_id, iteration), carrying the digests.
    assert.equal(
      await count(w, 'SELECT count(*) n FROM serving_outcome_fact WHERE run_id = $1', [runJson.run_id]),
      4,
    );
    assert.equal(
      await count(w, 'SELECT count(*) n FROM (SELECT DISTINCT run_id, iteration FROM serving_outcome_fact)'),
      await count(w, 'SELECT count(*) n FROM serving_outcome_fact'),
    );
    assert.equal(
      await count(
        w,
        `SELECT count(*) n FROM serving_outcome_fact o JOIN benchmark_run_fact r USING (run_id)
         WHERE o.benchmark_case_id IS DISTINCT FROM r.benchmark_case_id
            OR o.artifact_manifest_digest IS DISTINCT FROM r.artifact_manifest_digest OR o.workload_spec_digest IS NULL`,
      ),
      0,
    );
    // workload_dim: each frozen workload once; every outcome's workload is there.
    assert.equal(
      await count(
        w,
        'SELECT count(*) n FROM serving_outcome_fact o ANTI JOIN workload_dim d USING (workload_spec_digest)',
      ),
      0,
    );
    assert.equal(
      await count(
        w,
        'SELECT count(*) n FROM (SELECT workload_spec_digest FROM workload_dim GROUP BY 1 HAVING count(*) > 1)',
      ),
      0,
    );
    // Dimensions: deduplicated by digest, and every run points at its rows.
    for (const [table, key] of [
      ['software_version_dim', 'software_version_id'],
      ['hardware_topology_dim', 'hardware_topology_id'],
      ['cluster_region_dim', 'cluster_region_id'],
    ]) {
      assert.equal(
        await count(w, `SELECT count(*) n FROM benchmark_run_fact r ANTI JOIN ${table} d USING (${key})`),
        0,
        table,
      );
      assert.equal(await count(w, `SELECT count(*) - count(DISTINCT ${key}) n FROM ${table}`), 0, table);
    }
    const cluster = (
      await w.all(
        'SELECT cluster, region, namespace FROM cluster_region_dim JOIN benchmark_run_fact USING (cluster_region_id) WHERE run_id = $1',
        [runJson.run_id],
      )
    )[0];
    assert.deepEqual(cluster, { cluster: 'lab', region: 'us-east-1', namespace: 'bench' });
    // request_fact: one row per record of the run folder, unique per (run_id, request_id).
    let records = 0;
    for (let it = 0; it < runJson.plan.length; it++) {
      records += (await jsonLines(join(jobRun, 'iterations', String(it).padStart(3, '0'), 'requests.jsonl')))
        .length;
    }
    assert.equal(
      await count(w, 'SELECT count(*) n FROM request_fact WHERE run_id = $1', [runJson.run_id]),
      records,
    );
    assert.equal(
      await count(w, 'SELECT count(*) - count(DISTINCT (run_id, request_id)) n FROM request_fact'),
      0,
    );
    assert.equal(await count(w, 'SELECT count(*) n FROM request_fact WHERE trace_id IS NULL'), 0);
    // artifact_lineage_dim: one per run; run_artifact: one per manifest entry.
    assert.equal(await count(w, 'SELECT count(*) n FROM artifact_lineage_dim'), 2);
    assert.equal(
      await count(w, 'SELECT count(*) n FROM run_artifact WHERE run_id = $1', [runJson.run_id]),
      manifest.artifacts.length,
    );
    // telemetry_slice_fact: the simulator's /metrics deltas, per iteration.
    assert.ok(
      (await count(w, 'SELECT count(*) n FROM telemetry_slice_fact WHERE run_id = $1', [runJson.run_id])) > 0,
    );
    const tokens = await w.all(
      `SELECT scope_id, value FROM telemetry_slice_fact
       WHERE run_id = $1 AND metric LIKE 'vllm:generation_tokens_total%' ORDER BY scope_id`,
      [runJson.run_id],
    );
    assert.equal(tokens.length, 4);
    assert.ok(tokens.every((t) => Number(t.value) > 0));
  });
});

test("the warehouse's per-request rows reproduce the run folder's percentiles; costs follow the price", async () => {
  await withWarehouse(async (w) => {
    const rows = await w.all(
      `SELECT o.run_id, o.iteration, o.ttft_ms_p50, o.ttft_ms_p99, o.tpot_ms_p50, o.e2e_latency_ms_p99,
         o.request_throughput_rps, o.output_throughput_tokens_per_s, o.cost_per_request_usd,
         o.cost_per_million_output_tokens_usd, r.price_per_hour_usd,
         q.ttft_p50, q.ttft_p99, q.tpot_p50, q.e2e_p99
       FROM serving_outcome_fact o JOIN benchmark_run_fact r USING (run_id)
       JOIN (SELECT run_id, iteration, quantile_cont(ttft_ms, 0.5) ttft_p50, quantile_cont(ttft_ms, 0.99) ttft_p99,
               quantile_cont(tpot_ms, 0.5) tpot_p50, quantile_cont(e2e_latency_ms, 0.99) e2e_p99
             FROM request_fact WHERE phase = 'measured' AND status = 'ok' GROUP BY ALL) q USING (run_id, iteration)`,
    );
    assert.equal(rows.length, 5);
    for (const row of rows) {
      for (const [a, b] of [
        ['ttft_ms_p50', 'ttft_p50'],
        ['ttft_ms_p99', 'ttft_p99'],
        ['tpot_ms_p50', 'tpot_p50'],
        ['e2e_latency_ms_p99', 'e2e_p99'],
      ] as const) {
        assert.ok(Math.abs(Number(row[a]) - Number(row[b])) < 1e-9, `${a}: ${row[a]} vs ${b}: ${row[b]}`);
      }
      if (row.price_per_hour_usd === null) {
        assert.equal(row.cost_per_request_usd, null);
        continue;
      }
      assert.ok(
        Math.abs(Number(row.cost_per_request_usd) - 7.2 / 3600 / Number(row.request_throughput_rps)) < 1e-12,
      );
      assert.ok(
        Math.abs(
          Number(row.cost_per_million_output_tokens_usd) -
            (7.2 / 3600 / Number(row.output_throughput_tokens_per_s)) * 1e6,
        ) < 1e-9,
      );
    }
  });
});

test('re-ingest changes no row; a changed or unsealed folder is refused (exit 2)', async () => {
  const before = await withWarehouse(dump);
  const again = await cli([
    'warehouse',
    'ingest',
    jobRun,
    flagRun,
    '--warehouse',
    warehousePath,
    '--format',
    'json',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(
    (JSON.parse(again.stdout) as { outcome: string }[]).map((r) => r.outcome),
    ['unchanged', 'unchanged'],
  );
  assert.deepEqual(await withWarehouse(dump), before);

  const altered = join(tmp(), 'altered');
  await cp(flagRun, altered, { recursive: true });
  await writeFile(join(altered, 'iterations', '000', 'summary.json'), '{}');
  const refused = await cli(['warehouse', 'ingest', altered, '--warehouse', warehousePath]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /not ingested: it does not verify \(iterations\/000\/summary\.json: changed/);
  await rm(join(altered, 'manifest.json'));
  await rm(join(altered, 'manifest.sha256'));
  const unsealed = await cli(['warehouse', 'ingest', altered, '--warehouse', warehousePath]);
  assert.equal(unsealed.code, 2);
  assert.match(unsealed.stderr, /not ingested: it was not sealed/);
  assert.deepEqual(await withWarehouse(dump), before);
});

test('runs, show, compare and named queries print tables, CSV and JSON', async () => {
  const runs = await cli(['warehouse', 'runs', '--warehouse', warehousePath, '--format', 'json']);
  assert.equal(runs.code, 0, runs.stderr);
  const list = JSON.parse(runs.stdout) as { run_id: string }[];
  assert.equal(list.length, 2);
  const [newest, oldest] = list.map((r) => r.run_id) as [string, string];
  const show = await cli(['warehouse', 'show', oldest.slice(0, 13), '--warehouse', warehousePath]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /benchmark_case_id/);
  assert.match(show.stdout, /D\(32,4\)/);
  const compare = await cli([
    'warehouse',
    'compare',
    oldest,
    newest,
    '--warehouse',
    warehousePath,
    '--format',
    'csv',
  ]);
  assert.equal(compare.code, 0, compare.stderr);
  const lines = compare.stdout.trim().split('\n');
  assert.match(
    lines[0] ?? '',
    /^scenario,mode,concurrency,rate_rps,ttft_ms_p50_a,ttft_ms_p50_b,ttft_ms_p50_change_pct/,
  );
  // Points of either run: 4 of the job run and 1 of the flag run, none shared.
  assert.equal(lines.length, 1 + 5);
  const named = await cli(['warehouse', 'named', 'serving_points', '--warehouse', warehousePath]);
  assert.equal(named.code, 0, named.stderr);
  assert.match(named.stdout, /^serving_points {2}query_spec_digest sha256:[0-9a-f]{64}/);
  assert.match(named.stdout, /\(5 rows\)/);
});

test('query --format table|json|csv: the same rows for people and for programs; another format exits 2', async () => {
  const sql = "SELECT count(*) AS n, 'a,b' AS label FROM request_fact";
  const run = (format: string) =>
    cli(['warehouse', 'query', sql, '--warehouse', warehousePath, '--format', format]);
  const json = await run('json');
  assert.equal(json.code, 0, json.stderr);
  // DuckDB's JSON form writes a BIGINT as a string, so no digit is lost.
  const rows = JSON.parse(json.stdout) as { n: string; label: string }[];
  assert.equal(rows.length, 1);
  const n = rows[0]?.n ?? '';
  assert.match(n, /^[1-9]\d*$/, json.stdout);
  assert.equal(rows[0]?.label, 'a,b');
  const csv = await run('csv');
  assert.equal(csv.stdout, `n,label\n${n},"a,b"\n`);
  const table = await run('table');
  assert.match(table.stdout, new RegExp(`^n +label\\n-+ +-+\\n *${n} +a,b\\n\\(1 row\\)\\n$`));
  const bad = await run('yaml');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--format: "yaml": expected one of table, csv, json/);
});

test('query is read-only: writes, files and bad ids are refused with a clear error', async () => {
  const ok = await cli([
    'warehouse',
    'query',
    'SELECT count(*) AS n FROM request_fact',
    '--warehouse',
    warehousePath,
    '--format',
    'csv',
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  for (const sql of [
    'DELETE FROM request_fact',
    "COPY request_fact TO '/tmp/infermark-stolen.csv'",
    "SELECT * FROM read_csv('/etc/passwd')",
  ]) {
    const refused = await cli(['warehouse', 'query', sql, '--warehouse', warehousePath]);
    assert.notEqual(refused.code, 0, sql);
    assert.doesNotMatch(refused.stderr, /^ {4}at /m, sql);
  }
  const bad = await cli([
    'warehouse',
    'show',
    "x'; DROP TABLE benchmark_run_fact; --",
    '--warehouse',
    warehousePath,
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /expected a run_id or a prefix/);
  const missing = await cli(['warehouse', 'show', '0000aaaa', '--warehouse', warehousePath]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no run 0000aaaa in the warehouse/);
  assert.equal(await withWarehouse((w) => count(w, 'SELECT count(*) n FROM benchmark_run_fact')), 2);
});

test('lineage walks a number to its run, digests and raw artifacts; a deleted artifact is named', async () => {
  const runJson = JSON.parse(await readFile(join(jobRun, 'run.json'), 'utf8')) as { run_id: string };
  const args = [
    'lineage',
    'serving_points',
    '--column',
    'ttft_ms_p99',
    '--run',
    runJson.run_id,
    '--iteration',
    '2',
  ];
  const ok = await cli([...args, '--warehouse', warehousePath]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^number {4}ttft_ms_p99 = [\d.]+ {2}\(row \d+ of serving_points\)/m);
  assert.match(ok.stdout, /^query {5}serving_points {2}query_spec_digest sha256:/m);
  assert.match(ok.stdout, new RegExp(`^run {7}${runJson.run_id} {2}iteration 2`, 'm'));
  assert.match(ok.stdout, /artifact_manifest_digest sha256:[0-9a-f]{64}/);
  assert.match(ok.stdout, /^ {10}OK {8}iterations\/002\/requests\.jsonl {2}sha256:[0-9a-f]{64}$/m);
  assert.match(ok.stdout, /publication-safe: yes/);

  await unlink(join(jobRun, 'iterations', '002', 'requests.jsonl'));
  const broken = await cli([...args, '--warehouse', warehousePath, '--format', 'table']);
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /1 of \d+ artifacts NOT OK/);
  assert.match(broken.stdout, /^ {10}MISSING {3}iterations\/002\/requests\.jsonl/m);
  assert.match(broken.stdout, /publication-safe: NO/);
});
