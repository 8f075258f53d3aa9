/**
 * Warehouse benchmark: how fast a run folder of 1 million request records is
 * ingested (verify + DuckDB ingest), and the p50 latency of `compare` over a
 * warehouse of 1,000 runs.
 *
 * The run folder is made by infermark's own writers (records of 20 output tokens,
 * each iteration summarized by the real aggregation and sealed by the real
 * manifest code), so ingest sees what a run leaves. The 1,000-run warehouse is
 * filled by SQL with runs of 6 points each: `compare` reads serving_outcome_fact
 * only, and ingesting 1,000 real runs would measure the setup, not the query.
 *
 * Run: `npm run build && npm run bench:warehouse` (options: `--records 1000000`,
 * `--iterations 10`, `--runs 1000`, `--compares 200`). Target: 1M records in < 10 s.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sealIteration, sealRun } from '../src/evidence/manifest.js';
import { RunFolder } from '../src/evidence/run-folder.js';
import { newRunId } from '../src/evidence/run-id.js';
import { verifyRunFolder } from '../src/evidence/verify.js';
import { summarizeIteration } from '../src/metrics/aggregate.js';
import { emptyRecord, type RequestRecord } from '../src/metrics/record.js';
import { ingestRunFolder } from '../src/warehouse/ingest-run.js';
import { compareRuns } from '../src/warehouse/queries.js';
import { Warehouse } from '../src/warehouse/warehouse.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    iterations: { type: 'string', default: '10' },
    runs: { type: 'string', default: '1000' },
    compares: { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
  },
});
const RECORDS = Number(values.records);
const ITERATIONS = Number(values.iterations);
const RUNS = Number(values.runs);
const COMPARES = Number(values.compares);
const OUTPUT_TOKENS = 20;

/** A plausible record: TTFT ~50 ms, ITL ~15 ms, one token per event. */
function record(iteration: number, index: number, startUs: number): RequestRecord {
  const r = emptyRecord(
    `${iteration}-${index}`,
    iteration,
    index,
    'measured',
    startUs,
    100,
    `${index.toString(16).padStart(32, '0')}`,
  );
  r.sent_at_us = startUs + 200;
  r.headers_at_us = r.sent_at_us + 2_000;
  const ttftUs = 45_000 + ((index * 7919) % 10_000);
  let t = r.sent_at_us + ttftUs;
  r.first_token_at_us = t;
  r.first_output_at_us = t;
  for (let k = 0; k < OUTPUT_TOKENS; k++) {
    if (k > 0) t += 12_000 + ((index * 31 + k * 17) % 6_000);
    r.chunk_times_us.push(t);
    r.chunk_tokens.push(1);
  }
  r.last_token_at_us = t;
  r.done_at_us = t + 200;
  r.output_tokens = OUTPUT_TOKENS;
  r.output_tokens_source = 'server';
  r.input_tokens_source = 'server';
  r.output_chars = OUTPUT_TOKENS * 5;
  r.status = 'ok';
  r.http_status = 200;
  return r;
}

async function makeRunFolder(root: string): Promise<string> {
  const runId = newRunId();
  const folder = await RunFolder.create(join(root, runId));
  const perIteration = Math.ceil(RECORDS / ITERATIONS);
  const plan = Array.from({ length: ITERATIONS }, (_, i) => ({
    index: i,
    scenario: 'D(100,20)',
    mode: 'concurrency',
    concurrency: 2 ** (i % 8),
  }));
  await folder.writeJson('run.json', {
    schema_version: 1,
    run_id: runId,
    benchmark_case_id: 'sha256:bench',
    workload_spec_digest: 'sha256:bench-workload',
    started_at: new Date().toISOString(),
    intent: 'exploratory',
    job_file: null,
    job: {
      apiVersion: 'ome.io/v1beta1',
      kind: 'BenchmarkJob',
      metadata: { name: 'bench' },
      spec: {
        task: 'text-to-text',
        seed: 42,
        serviceMetadata: { engine: 'vLLM', version: 'bench', gpuType: 'H100', gpuCount: 1 },
      },
    },
    endpoint: { base_url: 'http://127.0.0.1:8000', path: null, model: 'bench-model', backend: 'openai-chat' },
    server: { version: null },
    tokenizer: 'o200k_base',
    plan,
    workloads: plan.map((p) => ({
      iteration: p.index,
      description: { scenario: p.scenario },
      spec_digest: `sha256:w${p.index}`,
    })),
    environment: {
      infermark_version: 'bench',
      node_version: process.version,
      os: { platform: 'linux', release: 'bench', arch: 'x64' },
      host: { cpu_model: 'bench', cores: 2, memory_bytes: 1 },
      gpus: [],
    },
  });
  for (let it = 0; it < ITERATIONS; it++) {
    const dir = RunFolder.iterationDir(it);
    const lines = await folder.openLines(`${dir}/requests.jsonl`);
    const records: RequestRecord[] = [];
    for (let i = 0; i < perIteration; i++) {
      const r = record(it, i, i * 1_000);
      lines.write(r);
      records.push(r);
    }
    await lines.close();
    const summary = summarizeIteration(
      records,
      {
        iteration: it,
        scenario: 'D(100,20)',
        mode: 'concurrency',
        concurrency: plan[it]?.concurrency ?? 1,
        wall_s: 100,
        warmup_requests: 0,
        ended_by: 'max_requests',
      },
      [],
    );
    await folder.writeJson(`${dir}/summary.json`, summary);
    await sealIteration(folder, runId, it);
  }
  await folder.writeJson('summary.json', { run_id: runId, status: 'complete' });
  await sealRun(folder, runId, 'complete');
  return folder.dir;
}

/** 1,000 runs × 6 points, by SQL (see the header). */
async function fillRuns(warehouse: Warehouse): Promise<string[]> {
  await warehouse.run(`INSERT INTO benchmark_run_fact (run_id, source, started_at, model, ingested_at)
    SELECT 'run-' || lpad(i::VARCHAR, 6, '0'), 'generic', now() - to_days(i % 365), 'm', now() FROM range(${RUNS}) t(i)`);
  const scenarios = ['D(100,100)', 'N(480,240)/(300,150)'];
  await warehouse.run(`INSERT INTO serving_outcome_fact (run_id, iteration, scenario, mode, concurrency, ttft_ms_p50, ttft_ms_p99,
      tpot_ms_p50, tpot_ms_p99, itl_ms_p99, e2e_latency_ms_p99, output_throughput_tokens_per_s, request_throughput_rps, error_rate, ingested_at)
    SELECT 'run-' || lpad(r::VARCHAR, 6, '0'), p, ['${scenarios.join("','")}'][1 + p // 3], 'concurrency', [1, 4, 16][1 + p % 3],
      50 + random() * 10, 90 + random() * 30, 15 + random(), 20 + random(), 40 + random() * 5, 2000 + random() * 100,
      500 + random() * 50, 3 + random(), 0, now()
    FROM range(${RUNS}) a(r), range(6) b(p)`);
  return (await warehouse.all('SELECT run_id FROM benchmark_run_fact ORDER BY run_id')).map((r) =>
    String(r.run_id),
  );
}

function percentile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

const root = await mkdtemp(join(tmpdir(), 'infermark-bench-warehouse-'));
try {
  process.stderr.write(`writing a run folder of ${RECORDS.toLocaleString('en-US')} records...\n`);
  const runDir = await makeRunFolder(root);
  let bytes = 0;
  for (let it = 0; it < ITERATIONS; it++) {
    bytes += (await stat(join(runDir, RunFolder.iterationDir(it), 'requests.jsonl'))).size;
  }
  const warehouse = await Warehouse.open(join(root, 'bench.duckdb'));
  const v0 = performance.now();
  await verifyRunFolder(runDir);
  const verifyS = (performance.now() - v0) / 1000;
  const t0 = performance.now();
  const result = await ingestRunFolder(warehouse, runDir);
  const ingestS = (performance.now() - t0) / 1000;
  const r0 = performance.now();
  const again = await ingestRunFolder(warehouse, runDir);
  const reingestS = (performance.now() - r0) / 1000;

  const runs = await fillRuns(warehouse);
  const latencies: number[] = [];
  for (let i = 0; i < COMPARES; i++) {
    const a = runs[(i * 7919) % runs.length] as string;
    const b = runs[(i * 104729 + 1) % runs.length] as string;
    const c0 = performance.now();
    await compareRuns(warehouse, a, b);
    latencies.push(performance.now() - c0);
  }
  latencies.sort((x, y) => x - y);
  warehouse.close();

  const mb = bytes / 1e6;
  process.stdout.write(
    [
      '| measurement | value |',
      '|---|---|',
      `| request records | ${result.requests.toLocaleString('en-US')} in ${ITERATIONS} iterations, ${mb.toFixed(0)} MB of requests.jsonl |`,
      `| verify alone (sha256 of every artifact) | ${verifyS.toFixed(2)} s |`,
      `| ingest, verify included | ${ingestS.toFixed(2)} s (${Math.round(result.requests / ingestS).toLocaleString('en-US')} records/s, ${(mb / ingestS).toFixed(0)} MB/s) |`,
      `| re-ingest of the same run (${again.outcome}) | ${reingestS.toFixed(2)} s |`,
      `| compare over ${runs.length.toLocaleString('en-US')} runs, ${COMPARES} pairs | p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms |`,
    ].join('\n') + '\n',
  );
} finally {
  if (values.keep) process.stderr.write(`kept ${root}\n`);
  else await rm(root, { recursive: true, force: true });
}
