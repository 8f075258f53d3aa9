/**
 * The importers, on DuckDB on disk, from fixtures in the exact formats vLLM and
 * genai-bench write (fixtures/import/README.md says where each came from): the
 * canonical rows at their grain and keys, with units converted (seconds → ms);
 * importing the same input again changes no row of any table; the fields an input
 * could not fill are reported and kept in import_gap; lineage walks an imported
 * number back to the input's bytes; bad input is a clear error (exit 2) that writes
 * nothing; and the CLI as a user runs it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertNoStack, cli } from '../cli/testing/harness.js';
import { ExitCode, InfermarkError, ValidationError } from '../base/errors.js';
import { digestOf } from '../base/digest.js';
import { writeImport, type ImportResult } from './import-common.js';
import { readVllm } from './import-vllm.js';
import { importInput } from './import-sources.js';
import { traceLineage } from './lineage.js';
import { CANONICAL_TABLES } from './migrations.js';
import { Warehouse } from './warehouse.js';
import { type Row } from './sql.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/import/', import.meta.url));
const VLLM = join(FIXTURES, 'vllm', 'vllm-infqps-concurrency4-Llama-3.1-8B-Instruct-20250301-101530.json');
const VLLM_SWEEP = join(FIXTURES, 'vllm', 'sweep.json');
const GENAI = join(
  FIXTURES,
  'genai-bench',
  'openai_vLLM_0.7.3_text-to-text_Llama-3.1-8B-Instruct_20250301_101500',
);
const GENERIC_JSON = join(FIXTURES, 'generic', 'training-llama-70b.json');
const GENERIC_CSV = join(FIXTURES, 'generic', 'serving-history');

let tmp: string;
let count = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-import-'));
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A fresh warehouse file of its own. */
async function fresh(): Promise<Warehouse> {
  return Warehouse.open(join(tmp, `w${++count}.duckdb`));
}

async function withFresh(work: (w: Warehouse) => Promise<void>): Promise<void> {
  const w = await fresh();
  try {
    await work(w);
  } finally {
    w.close();
  }
}

async function rows(w: Warehouse, sql: string, params?: (string | number)[]): Promise<Row[]> {
  return w.all(sql, params);
}

async function one(w: Warehouse, sql: string, params?: (string | number)[]): Promise<Row> {
  const found = await rows(w, sql, params);
  assert.equal(found.length, 1, `${sql}: expected one row, got ${found.length}`);
  return found[0] as Row;
}

/** Every canonical table, whole, in a stable order. */
async function snapshot(w: Warehouse): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of [...CANONICAL_TABLES, 'run_artifact', 'import_gap']) {
    const result = await w.json(`SELECT * FROM ${table} ORDER BY ALL`);
    out[table] = JSON.stringify(result.rows);
  }
  return out;
}

function hex32(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/** numpy's default percentile (linear), as an independent check of the computed figures. */
function numpyPercentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * (q / 100);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

function close(actual: unknown, expected: number, what: string): void {
  assert.equal(typeof actual, 'number', `${what}: ${String(actual)} is not a number`);
  assert.ok(
    Math.abs((actual as number) - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
    `${what}: ${String(actual)} ≠ ${expected}`,
  );
}

function gapFields(result: ImportResult): string[] {
  return result.gaps.map((g) => g.field);
}

async function rejects(work: Promise<unknown>, check: (error: InfermarkError) => void): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof InfermarkError, `not an InfermarkError: ${String(error)}`);
    assert.equal(error.exitCode, ExitCode.badInput, error.message);
    check(error);
    return true;
  });
}

test('vLLM benchmark_serving.py result: one run, one point, a request row per prompt, in ms', async () => {
  await withFresh(async (w) => {
    const bytes = await readFile(VLLM);
    const file = JSON.parse(bytes.toString('utf8')) as Record<string, unknown> & {
      ttfts: number[];
      itls: number[][];
      input_lens: number[];
      output_lens: number[];
      errors: string[];
    };
    const result = await importInput(w, 'vllm', VLLM);
    assert.equal(result.run_id, `import-${hex32(bytes)}`, 'run_id from the digest of the file bytes');
    assert.deepEqual([result.outcome, result.points, result.requests], ['imported', 1, 20]);

    const run = await one(w, 'SELECT * FROM benchmark_run_fact');
    const artifact = {
      path: basename(VLLM),
      size_bytes: bytes.length,
      sha256: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    };
    assert.equal(run.run_id, result.run_id);
    assert.equal(run.source, 'vllm');
    assert.equal(run.artifact_manifest_digest, digestOf([artifact]));
    assert.equal(run.model, 'meta-llama/Llama-3.1-8B-Instruct');
    assert.equal(run.backend, 'vllm');
    assert.equal(run.engine, 'vllm');
    // From `--metadata engine_version=0.7.3 gpu_type=... gpu_count=1`.
    assert.equal(run.engine_version, '0.7.3');
    assert.equal(run.gpu_type, 'H100-SXM5-80GB');
    assert.equal(run.gpu_count, 1);
    assert.equal(run.status, 'complete');
    assert.equal(run.iterations_planned, 1);
    // `date` is stamped when the run ends: started_at = date − duration.
    const started = Date.UTC(2025, 2, 1, 10, 15, 30) - (file.duration as number) * 1000;
    assert.equal((run.started_at as Date).getTime(), Math.round(started));
    assert.match(String(run.benchmark_case_id), /^sha256:/);
    assert.match(String(run.workload_spec_digest), /^sha256:/);

    const o = await one(w, 'SELECT * FROM serving_outcome_fact WHERE run_id = $1 AND iteration = 0', [
      result.run_id,
    ]);
    // The file's own statistics, as vLLM computed them (already ms).
    assert.equal(o.ttft_ms_p50, file.median_ttft_ms);
    assert.equal(o.ttft_ms_mean, file.mean_ttft_ms);
    assert.equal(o.ttft_ms_stddev, file.std_ttft_ms);
    assert.equal(o.ttft_ms_p90, file.p90_ttft_ms);
    assert.equal(o.ttft_ms_p95, file.p95_ttft_ms);
    assert.equal(o.ttft_ms_p99, file.p99_ttft_ms);
    assert.equal(o.tpot_ms_p99, file.p99_tpot_ms);
    assert.equal(o.itl_ms_p50, file.median_itl_ms);
    assert.equal(o.itl_jitter_ms, file.std_itl_ms);
    assert.equal(o.e2e_latency_ms_p95, file.p95_e2el_ms);
    // Counts, min and max from the per-request arrays (seconds → ms), failed request excluded.
    const ok = file.errors.map((e) => e === '');
    const ttfts = file.ttfts.filter((_, i) => ok[i]).map((s) => s * 1000);
    const itls = file.itls
      .filter((_, i) => ok[i])
      .flat()
      .map((s) => s * 1000);
    assert.equal(Number(o.ttft_ms_count), 19);
    close(o.ttft_ms_min, Math.min(...ttfts), 'ttft_ms_min');
    close(o.ttft_ms_max, Math.max(...ttfts), 'ttft_ms_max');
    assert.equal(Number(o.itl_ms_count), itls.length);
    close(o.itl_ms_max, Math.max(...itls), 'itl_ms_max');
    // The arrays give the same p50 the file publishes (numpy's method both ways).
    close(numpyPercentile(ttfts, 50), file.median_ttft_ms as number, 'median from the arrays');
    assert.deepEqual(
      [o.mode, o.concurrency, o.rate_rps, o.ended_by],
      ['concurrency', 4, null, 'max_requests'],
    );
    assert.deepEqual(
      [Number(o.requests_measured), Number(o.requests_completed), Number(o.requests_errored)],
      [20, 19, 1],
    );
    assert.equal(o.error_rate, 1 / 20);
    assert.equal(o.goodput_rps, file['request_goodput:'], 'the key benchmark_serving.py writes with a colon');
    close(
      o.goodput_attainment,
      ((file['request_goodput:'] as number) * (file.duration as number)) / 20,
      'attainment',
    );
    assert.equal(o.request_throughput_rps, file.request_throughput);
    assert.equal(o.output_throughput_tokens_per_s, file.output_throughput);
    close(
      o.input_throughput_tokens_per_s,
      (file.total_input_tokens as number) / (file.duration as number),
      'input throughput',
    );
    assert.equal(o.duration_s, file.duration);
    assert.equal(o.low_samples, true);
    assert.equal(o.artifact_manifest_digest, run.artifact_manifest_digest);
    assert.equal(o.benchmark_case_id, run.benchmark_case_id);

    const requests = await rows(
      w,
      'SELECT * FROM request_fact WHERE run_id = $1 ORDER BY iteration, request_id',
      [result.run_id],
    );
    assert.equal(requests.length, 20);
    assert.equal(new Set(requests.map((r) => r.request_id)).size, 20, '(run_id, request_id) is unique');
    const byId = new Map(requests.map((r) => [String(r.request_id), r]));
    const failed = byId.get('0-13') as Row;
    assert.deepEqual([failed.status, failed.ttft_ms, failed.e2e_latency_ms], ['error', null, null]);
    for (const i of [0, 7, 19]) {
      const r = byId.get(`0-${i}`) as Row;
      const ttft = (file.ttfts[i] as number) * 1000;
      const e2e = ((file.ttfts[i] as number) + (file.itls[i] as number[]).reduce((a, b) => a + b, 0)) * 1000;
      const out = file.output_lens[i] as number;
      assert.equal(r.status, 'ok');
      assert.equal(r.phase, 'measured');
      close(r.ttft_ms, ttft, `ttft_ms of ${i}`);
      close(r.e2e_latency_ms, e2e, `e2e of ${i}`);
      close(r.tpot_ms, (e2e - ttft) / (out - 1), `tpot of ${i}`);
      close(r.itl_max_ms, Math.max(...(file.itls[i] as number[])) * 1000, `itl_max of ${i}`);
      assert.equal(Number(r.input_tokens), file.input_lens[i]);
      assert.equal(Number(r.output_tokens), out);
      assert.equal(Number(r.chunks), (file.itls[i] as number[]).length + 1);
    }

    const software = await one(w, 'SELECT * FROM software_version_dim');
    assert.equal(software.software_version_id, run.software_version_id);
    assert.deepEqual([software.server_engine, software.server_version], ['vllm', '0.7.3']);
    const hardware = await one(w, 'SELECT * FROM hardware_topology_dim');
    assert.deepEqual([hardware.gpu_model, hardware.gpu_count], ['H100-SXM5-80GB', 1]);
    const workloads = await rows(w, 'SELECT kind, workload_spec_digest FROM workload_dim ORDER BY kind');
    assert.deepEqual(
      workloads.map((x) => x.kind),
      ['iteration', 'run'],
    );
    assert.equal(workloads[1]?.workload_spec_digest, run.workload_spec_digest);
    assert.equal(workloads[0]?.workload_spec_digest, o.workload_spec_digest);

    const stored = await one(w, 'SELECT * FROM run_artifact');
    assert.deepEqual(
      { path: stored.path, size_bytes: Number(stored.size_bytes), sha256: stored.sha256 },
      artifact,
    );
    const lineage = await one(w, 'SELECT * FROM artifact_lineage_dim');
    assert.deepEqual(lineage.raw_uris, [dirname(VLLM)]);
    assert.equal(lineage.artifact_manifest_digest, run.artifact_manifest_digest);

    // Gaps: reported, stored one row per field, with a note each.
    const fields = gapFields(result);
    for (const field of [
      'benchmark_run_fact.endpoint_base_url',
      'serving_outcome_fact.scenario',
      'serving_outcome_fact.ttfb_ms_p50',
      'serving_outcome_fact.client_queue_ms_p99',
      'request_fact.trace_id',
      'request_fact.sent_at_us',
    ])
      assert.ok(fields.includes(field), `${field} is reported`);
    for (const field of [
      'serving_outcome_fact.ttft_ms_p50',
      'serving_outcome_fact.goodput_rps',
      'benchmark_run_fact.engine',
      // A closed loop has no arrival rate: not applicable, not a gap.
      'serving_outcome_fact.rate_rps',
    ])
      assert.ok(!fields.includes(field), `${field} is filled`);
    const storedGaps = await rows(w, 'SELECT run_id, source, field, note FROM import_gap');
    assert.equal(storedGaps.length, result.gaps.length);
    assert.ok(
      storedGaps.every((g) => g.run_id === result.run_id && g.source === 'vllm' && String(g.note) !== ''),
    );
    assert.deepEqual(new Set(storedGaps.map((g) => g.field)), new Set(fields));
  });
});

test('vLLM bench serve --append-result: one point per line; p99-only summaries; E2E and queueing from the arrays', async () => {
  await withFresh(async (w) => {
    const lines = (await readFile(VLLM_SWEEP, 'utf8'))
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as Record<string, unknown> & { latencies: number[]; queue_times: number[] },
      );
    const result = await importInput(w, 'vllm', VLLM_SWEEP);
    assert.deepEqual([result.points, result.requests], [2, 0]);
    const points = await rows(w, 'SELECT * FROM serving_outcome_fact ORDER BY iteration');
    assert.deepEqual(
      points.map((p) => [p.iteration, p.mode, p.concurrency]),
      [
        [0, 'concurrency', 1],
        [1, 'concurrency', 8],
      ],
    );
    const second = lines[1] as (typeof lines)[number];
    const p = points[1] as Row;
    assert.equal(p.ttft_ms_p99, second.p99_ttft_ms);
    assert.equal(p.ttft_ms_p50, second.median_ttft_ms);
    assert.equal(p.ttft_ms_p90, null, 'not in --metric-percentiles, no arrays to compute it from');
    // e2el was not a percentile metric: computed from `latencies` as vLLM would.
    const latencies = second.latencies.map((s) => s * 1000);
    close(p.e2e_latency_ms_p50, numpyPercentile(latencies, 50), 'e2e p50 from latencies');
    close(p.e2e_latency_ms_p99, numpyPercentile(latencies, 99), 'e2e p99 from latencies');
    assert.equal(Number(p.e2e_latency_ms_count), latencies.length);
    const queue = second.queue_times.map((s) => s * 1000);
    close(p.client_queue_ms_p99, numpyPercentile(queue, 99), 'client queue p99');
    assert.equal(p.queueing_delay_p99_ms, p.client_queue_ms_p99);
    assert.equal(Number(p.requests_errored), 0);
    assert.equal(await rows(w, 'SELECT * FROM request_fact').then((r) => r.length), 0);

    const run = await one(w, 'SELECT * FROM benchmark_run_fact');
    assert.deepEqual([run.backend, run.engine, run.iterations_planned], ['openai-chat', null, 2]);
    assert.equal(run.benchmark_case_id, null, 'no input lengths: the workload is unknown');
    const fields = gapFields(result);
    for (const field of [
      'request_fact',
      'benchmark_run_fact.benchmark_case_id',
      'benchmark_run_fact.engine',
      'serving_outcome_fact.ttft_ms_p90',
      'serving_outcome_fact.goodput_rps',
    ])
      assert.ok(fields.includes(field), `${field} is reported`);
    assert.ok(!fields.includes('serving_outcome_fact.e2e_latency_ms_p50'));
    assert.match(result.gaps.find((g) => g.field === 'request_fact')?.note ?? '', /--save-detailed/);
  });
});

test('genai-bench experiment folder: one point per run file, seconds to ms, a request row per individual request', async () => {
  await withFresh(async (w) => {
    const names = (await readdir(GENAI)).sort();
    const manifest = [];
    for (const name of names) {
      const bytes = await readFile(join(GENAI, name));
      manifest.push({
        path: name,
        size_bytes: bytes.length,
        sha256: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      });
    }
    const digest = digestOf(manifest);
    const result = await importInput(w, 'genai-bench', GENAI);
    assert.equal(result.run_id, `import-${digest.slice('sha256:'.length, 'sha256:'.length + 32)}`);
    assert.deepEqual([result.points, result.requests], [2, 20]);

    const run = await one(w, 'SELECT * FROM benchmark_run_fact');
    assert.equal(run.artifact_manifest_digest, digest);
    assert.deepEqual(
      [
        run.source,
        run.model,
        run.task,
        run.backend,
        run.engine,
        run.engine_version,
        run.gpu_type,
        run.gpu_count,
      ],
      [
        'genai-bench',
        'meta-llama/Llama-3.1-8B-Instruct',
        'text-to-text',
        'openai',
        'vLLM',
        '0.7.3',
        'H100',
        1,
      ],
    );
    assert.equal(run.endpoint_base_url, 'http://127.0.0.1:8000');
    // The timestamp genai-bench puts at the end of the default folder name.
    assert.equal((run.started_at as Date).toISOString(), '2025-03-01T10:15:00.000Z');
    assert.equal(run.job_name, basename(GENAI));

    const points = await rows(w, 'SELECT * FROM serving_outcome_fact ORDER BY iteration');
    for (const [i, concurrency] of [1, 4].entries()) {
      const file = (await readJson(
        join(GENAI, `D(100,100)_text-to-text_concurrency_${concurrency}_time_60s.json`),
      )) as {
        aggregated_metrics: Record<string, unknown> & { stats: Record<string, Record<string, number>> };
      };
      const agg = file.aggregated_metrics;
      const p = points[i] as Row;
      assert.deepEqual(
        [p.iteration, p.scenario, p.mode, p.concurrency, p.rate_rps],
        [i, 'D(100,100)', 'concurrency', concurrency, null],
      );
      const stats = agg.stats;
      // genai-bench stores seconds; the warehouse ms.
      close(p.ttft_ms_p50, (stats.ttft?.p50 as number) * 1000, 'ttft p50');
      close(p.ttft_ms_p99, (stats.ttft?.p99 as number) * 1000, 'ttft p99');
      close(p.ttft_ms_mean, (stats.ttft?.mean as number) * 1000, 'ttft mean');
      close(p.tpot_ms_p90, (stats.tpot?.p90 as number) * 1000, 'tpot p90');
      close(p.e2e_latency_ms_max, (stats.e2e_latency?.max as number) * 1000, 'e2e max');
      assert.equal(Number(p.ttft_ms_count), agg.num_completed_requests, 'count = sum / mean');
      assert.equal(p.duration_s, agg.run_duration, 'run_duration stays in seconds');
      assert.equal(p.output_throughput_tokens_per_s, agg.mean_output_throughput_tokens_per_s);
      assert.equal(p.request_throughput_rps, agg.requests_per_second);
      assert.deepEqual(
        [Number(p.requests_measured), Number(p.requests_completed), Number(p.requests_errored)],
        [agg.num_requests, agg.num_completed_requests, agg.num_error_requests],
      );
      assert.equal(p.ended_by, 'max_requests');
      assert.equal(p.itl_ms_p50, null);
    }
    assert.equal((points[1] as Row).error_rate, 0.1);
    // The same scenario is the same workload at every concurrency.
    assert.equal((points[0] as Row).workload_spec_digest, (points[1] as Row).workload_spec_digest);

    const failed = await one(w, "SELECT * FROM request_fact WHERE status = 'error'");
    assert.deepEqual(
      [failed.iteration, failed.request_id, failed.error_class, failed.http_status],
      [1, '1-6', 'http_429', 429],
    );
    const first = (await readJson(join(GENAI, 'D(100,100)_text-to-text_concurrency_1_time_60s.json'))) as {
      individual_request_metrics: Record<string, number>[];
    };
    const r0 = await one(w, "SELECT * FROM request_fact WHERE request_id = '0-0'");
    const m0 = first.individual_request_metrics[0] as Record<string, number>;
    close(r0.ttft_ms, (m0.ttft as number) * 1000, 'request ttft');
    close(r0.tpot_ms, (m0.tpot as number) * 1000, 'request tpot');
    close(r0.e2e_latency_ms, (m0.e2e_latency as number) * 1000, 'request e2e');
    assert.deepEqual(
      [Number(r0.input_tokens), Number(r0.output_tokens)],
      [m0.num_input_tokens, m0.num_output_tokens],
    );

    assert.deepEqual(
      (await rows(w, 'SELECT path FROM run_artifact ORDER BY path')).map((r) => r.path),
      names,
    );
    const fields = gapFields(result);
    for (const field of [
      'serving_outcome_fact.itl_ms_p50',
      'serving_outcome_fact.goodput_rps',
      'request_fact.phase',
    ])
      assert.ok(fields.includes(field), `${field} is reported`);
    assert.match(
      result.gaps.find((g) => g.field === 'serving_outcome_fact.itl_ms_p50')?.note ?? '',
      /per-request TPOT/,
    );
    assert.ok(!fields.includes('benchmark_run_fact.started_at'));
  });
});

test('genai-bench with --metrics-time-unit ms gives the same ms as one in seconds', async () => {
  const copy = join(tmp, 'genai-ms');
  await cp(GENAI, copy, { recursive: true });
  for (const name of await readdir(copy)) {
    if (name === 'experiment_metadata.json') continue;
    const data = (await readJson(join(copy, name))) as {
      aggregated_metrics: { stats: Record<string, Record<string, number | null>> };
      individual_request_metrics: Record<string, number | null>[];
      _time_unit: string;
    };
    // As genai-bench's TimeUnitConverter does: only the latency fields, every statistic of them.
    for (const field of ['ttft', 'tpot', 'e2e_latency', 'output_latency']) {
      const stat = data.aggregated_metrics.stats[field] as Record<string, number | null>;
      for (const key of Object.keys(stat)) if (stat[key] !== null) stat[key] = (stat[key] as number) * 1000;
      for (const r of data.individual_request_metrics)
        if (r[field] != null) r[field] = (r[field] as number) * 1000;
    }
    data._time_unit = 'ms';
    await writeFile(join(copy, name), JSON.stringify(data, null, 4));
  }
  await withFresh(async (w) => {
    const seconds = await importInput(w, 'genai-bench', GENAI);
    const millis = await importInput(w, 'genai-bench', copy);
    assert.notEqual(seconds.run_id, millis.run_id);
    const [a, b] = await Promise.all(
      [seconds.run_id, millis.run_id].map((id) =>
        rows(
          w,
          'SELECT ttft_ms_p50, tpot_ms_p99, e2e_latency_ms_mean, ttft_ms_count FROM serving_outcome_fact WHERE run_id = $1 ORDER BY iteration',
          [id],
        ),
      ),
    );
    for (const [i, row] of (a as Row[]).entries()) {
      const other = (b as Row[])[i] as Row;
      for (const key of ['ttft_ms_p50', 'tpot_ms_p99', 'e2e_latency_ms_mean'])
        close(other[key], row[key] as number, `${key} of point ${i}`);
      assert.equal(other.ttft_ms_count, row.ttft_ms_count);
    }
    const r = await rows(w, "SELECT ttft_ms FROM request_fact WHERE request_id = '0-0' ORDER BY run_id");
    close((r[1] as Row).ttft_ms, (r[0] as Row).ttft_ms as number, 'request ttft');
  });
});

test('generic JSON: a training run with its telemetry, dimensions and the run_id it names', async () => {
  await withFresh(async (w) => {
    const result = await importInput(w, 'generic', GENERIC_JSON);
    assert.equal(result.run_id, 'train-llama70b-2025-02-14');
    assert.deepEqual([result.points, result.requests], [3, 0]);
    const run = await one(w, 'SELECT * FROM benchmark_run_fact');
    assert.deepEqual([run.source, run.task, run.gpu_count], ['generic', 'training', 64]);
    assert.equal((run.started_at as Date).toISOString(), '2025-02-14T06:00:00.000Z');
    const training = await rows(w, 'SELECT * FROM training_outcome_fact ORDER BY step_time_ms');
    assert.deepEqual(
      training.map((t) => [t.run_id, t.phase, t.scale_point]),
      [
        [result.run_id, 'pretrain', '16 GPUs (2 nodes)'],
        [result.run_id, 'pretrain', '32 GPUs (4 nodes)'],
        [result.run_id, 'pretrain', '64 GPUs (8 nodes)'],
      ],
    );
    assert.equal((training[2] as Row).mfu, 0.385);
    const telemetry = await rows(w, 'SELECT * FROM telemetry_slice_fact ORDER BY metric');
    assert.equal(telemetry.length, 3);
    assert.deepEqual(
      [(telemetry[1] as Row).metric, (telemetry[1] as Row).value, (telemetry[1] as Row).unit],
      ['gpu_utilization', 93.1, '%'],
    );
    const cluster = await one(w, 'SELECT * FROM cluster_region_dim');
    assert.equal(cluster.cluster_region_id, run.cluster_region_id);
    assert.deepEqual(
      [cluster.cluster, cluster.region, cluster.scheduler_path],
      ['train-a', 'us-east-1', 'kueue'],
    );
    const hardware = await one(w, 'SELECT * FROM hardware_topology_dim');
    assert.equal(Number(hardware.gpu_memory_mib), 81559);
    const fields = gapFields(result);
    assert.ok(fields.includes('training_outcome_fact.time_to_train_s'));
    assert.ok(!fields.some((f) => f.startsWith('serving_outcome_fact') || f.startsWith('request_fact')));
    assert.ok(!fields.includes('benchmark_run_fact.cluster_region_id'));
  });
});

test('generic CSV: a folder of <table>.csv files is one run; --table names the table of any file', async () => {
  await withFresh(async (w) => {
    const result = await importInput(w, 'generic', GENERIC_CSV);
    assert.match(result.run_id, /^import-[0-9a-f]{32}$/);
    assert.equal(result.points, 3);
    const run = await one(w, 'SELECT * FROM benchmark_run_fact');
    // No zone written: UTC. A quoted comma stays in its field.
    assert.equal((run.started_at as Date).toISOString(), '2024-11-20T14:05:00.000Z');
    assert.equal(run.job_name, 'tgi baseline, before the upgrade');
    assert.equal(run.gpu_count, 1);
    const software = await one(w, 'SELECT * FROM software_version_dim');
    assert.deepEqual([software.server_engine, software.server_version], ['tgi', '2.4.0']);
    const points = await rows(w, 'SELECT * FROM serving_outcome_fact ORDER BY iteration');
    assert.deepEqual(
      points.map((p) => [p.iteration, p.scenario, p.concurrency, p.rate_rps, p.ttft_ms_p99]),
      [
        [0, 'D(512,128)', 1, null, 71.9],
        [1, 'D(512,128)', 8, null, 233],
        [2, 'D(512,128)', 32, null, 1507.9],
      ],
    );
    const fields = gapFields(result);
    assert.ok(fields.includes('request_fact'));
    assert.ok(fields.includes('serving_outcome_fact.itl_ms_p99'));
    assert.ok(!fields.includes('serving_outcome_fact.rate_rps'), 'closed loop: not applicable');
  });
  const single = join(tmp, 'points.csv');
  await cp(join(GENERIC_CSV, 'serving_outcome_fact.csv'), single);
  await withFresh(async (w) => {
    await rejects(importInput(w, 'generic', single), (error) => {
      assert.match(error.message, /points\.csv: cannot tell which table/);
      assert.match(error.message, /--table/);
    });
    const result = await importInput(w, 'generic', single, { table: 'serving_outcome_fact' });
    assert.equal(result.points, 3);
    const run = await one(w, 'SELECT source, model FROM benchmark_run_fact');
    assert.deepEqual([run.source, run.model], ['generic', null]);
    assert.ok(gapFields(result).includes('benchmark_run_fact.model'));
  });
});

test('importing the same inputs again changes no row of any table', async () => {
  await withFresh(async (w) => {
    const inputs: [Parameters<typeof importInput>[1], string][] = [
      ['vllm', VLLM],
      ['vllm', VLLM_SWEEP],
      ['genai-bench', GENAI],
      ['generic', GENERIC_JSON],
      ['generic', GENERIC_CSV],
    ];
    const first: ImportResult[] = [];
    for (const [source, path] of inputs)
      first.push(await importInput(w, source, path, { costPerHourUsd: 4.5 }));
    assert.ok(first.every((r) => r.outcome === 'imported'));
    const before = await snapshot(w);
    assert.ok(JSON.parse(before.request_fact as string).length === 40);
    for (const [i, [source, path]] of inputs.entries()) {
      const again = await importInput(w, source, path, { costPerHourUsd: 4.5 });
      assert.equal(again.outcome, 'unchanged', path);
      assert.equal(again.run_id, (first[i] as ImportResult).run_id);
      assert.deepEqual([again.points, again.requests], [0, 0]);
      assert.deepEqual(again.gaps, (first[i] as ImportResult).gaps, 'the gaps are read back from import_gap');
    }
    // The genai-bench folder named by its metadata file is the same input.
    assert.equal(
      (await importInput(w, 'genai-bench', join(GENAI, 'experiment_metadata.json'))).outcome,
      'unchanged',
    );
    assert.deepEqual(await snapshot(w), before);
    // The price fills cost columns, so they are no gaps.
    const costs = await one(
      w,
      'SELECT cost_per_request_usd AS c FROM serving_outcome_fact WHERE run_id = $1',
      [(first[0] as ImportResult).run_id],
    );
    const throughput = (await readJson(VLLM)).request_throughput as number;
    close(costs.c, 4.5 / 3600 / throughput, 'cost per request');
    assert.ok(!gapFields(first[0] as ImportResult).includes('serving_outcome_fact.cost_per_request_usd'));
  });
});

test('a run_id the input names is refused when it comes back with other content', async () => {
  const changed = join(tmp, 'training-changed.json');
  const doc = await readJson(GENERIC_JSON);
  (doc.run as Record<string, unknown>).status = 'interrupted';
  await writeFile(changed, JSON.stringify(doc));
  await withFresh(async (w) => {
    await importInput(w, 'generic', GENERIC_JSON);
    const before = await snapshot(w);
    await assert.rejects(importInput(w, 'generic', changed), (error: unknown) => {
      assert.ok(error instanceof InfermarkError);
      assert.equal(error.code, 'E_RUN_CHANGED');
      assert.match(error.message, /train-llama70b-2025-02-14 is already in the warehouse/);
      return true;
    });
    assert.deepEqual(await snapshot(w), before);
    // The same bytes under another name are the same run.
    const renamed = join(tmp, 'training-renamed.json');
    await cp(GENERIC_JSON, renamed);
    assert.equal((await importInput(w, 'generic', renamed)).outcome, 'unchanged');
    assert.deepEqual(await snapshot(w), before);
  });
});

test('lineage walks an imported number back to the input file, and says when it changed or went missing', async () => {
  const folder = join(tmp, 'lineage');
  await mkdir(folder);
  const copy = join(folder, basename(VLLM));
  await cp(VLLM, copy);
  await withFresh(async (w) => {
    const { run_id: runId } = await importInput(w, 'vllm', copy);
    const ok = await traceLineage(w, { query: 'serving_points', runId, iteration: 0, column: 'ttft_ms_p50' });
    assert.equal(ok.run.run_id, runId);
    assert.equal(ok.number.value, (await readJson(VLLM)).median_ttft_ms);
    assert.deepEqual(
      ok.evidence.map((e) => [e.uri, e.artifacts.map((a) => [a.path, a.state])]),
      [[folder, [[basename(VLLM), 'ok']]]],
    );
    assert.equal(ok.publication_safe, true);

    await writeFile(copy, `${await readFile(copy, 'utf8')} `);
    const changed = await traceLineage(w, { query: 'serving_points', runId, column: 'ttft_ms_p50' });
    assert.equal(changed.evidence[0]?.artifacts[0]?.state, 'changed');
    assert.equal(changed.publication_safe, false);
    await unlink(copy);
    const missing = await traceLineage(w, { query: 'serving_points', runId, column: 'ttft_ms_p50' });
    assert.equal(missing.evidence[0]?.artifacts[0]?.state, 'missing');
  });
});

/** A vLLM result with every per-request array repeated `times` times. */
function repeated(result: Record<string, unknown>, times: number): Record<string, unknown> {
  const out: Record<string, unknown> = { ...result, num_prompts: (result.num_prompts as number) * times };
  for (const key of ['input_lens', 'output_lens', 'ttfts', 'itls', 'generated_texts', 'errors'])
    out[key] = Array.from({ length: times }, () => result[key] as unknown[]).flat();
  return out;
}

test('many request rows go in by bulk append, as the same rows', async () => {
  const path = join(tmp, 'vllm-600.json');
  await writeFile(path, JSON.stringify(repeated(await readJson(VLLM), 30)));
  await withFresh(async (w) => {
    const result = await importInput(w, 'vllm', path);
    assert.equal(result.requests, 600);
    const stats = await one(
      w,
      "SELECT count(*) AS n, count(DISTINCT request_id) AS ids, count(*) FILTER (status = 'error') AS errors, sum(chunks) AS chunks FROM request_fact",
    );
    assert.deepEqual([Number(stats.n), Number(stats.ids), Number(stats.errors)], [600, 600, 30]);
    const small = await fresh();
    try {
      await importInput(small, 'vllm', VLLM);
      const [a, b] = await Promise.all(
        [w, small].map((x) =>
          x.json(
            "SELECT request_id, status, ttft_ms, tpot_ms, e2e_latency_ms, itl_max_ms, input_tokens, output_tokens, chunks FROM request_fact WHERE request_id IN ('0-0', '0-13', '0-19') ORDER BY request_id",
          ),
        ),
      );
      assert.deepEqual(a?.rows, b?.rows, 'appended rows equal inserted ones');
      assert.equal(
        Number(stats.chunks),
        30 * Number((await one(small, 'SELECT sum(chunks) AS c FROM request_fact')).c),
      );
    } finally {
      small.close();
    }
  });
});

test('bad input is a clear error (exit 2) and writes nothing', async () => {
  const bad = join(tmp, 'bad');
  await mkdir(bad);
  const write = async (name: string, text: string): Promise<string> => {
    const path = join(bad, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
    return path;
  };
  const vllm = await readJson(VLLM);
  const genericRow = { iteration: 0, mode: 'concurrency', concurrency: 1 };
  await withFresh(async (w) => {
    const empty = await snapshot(w);

    await rejects(importInput(w, 'vllm', join(bad, 'nope.json')), (e) => {
      assert.equal(e.code, 'E_NO_INPUT');
      assert.match(e.message, /nope\.json: no such file or folder/);
    });
    await rejects(importInput(w, 'genai-bench', join(bad, 'nope')), (e) =>
      assert.equal(e.code, 'E_NO_INPUT'),
    );
    // Wrong format for the importer.
    await rejects(
      importInput(w, 'vllm', join(GENAI, 'D(100,100)_text-to-text_concurrency_1_time_60s.json')),
      (e) => assert.match(e.message, /genai-bench run file, not a vLLM result \(use --from genai-bench/),
    );
    await rejects(importInput(w, 'vllm', await write('other.json', '{"results": []}')), (e) =>
      assert.match(
        e.message,
        /other\.json: not a vLLM serving benchmark result: expected the fields duration, completed and model_id/,
      ),
    );
    await rejects(importInput(w, 'vllm', await write('broken.json', '{"duration": 1,')), (e) =>
      assert.match(e.message, /broken\.json: not valid JSON/),
    );
    await rejects(importInput(w, 'vllm', GENAI), (e) => assert.match(e.message, /not a folder/));
    await rejects(
      importInput(w, 'vllm', await write('types.json', JSON.stringify({ ...vllm, completed: 'nineteen' }))),
      (e) => {
        assert.ok(e instanceof ValidationError);
        assert.match(e.message, /types\.json: completed: .*expected/);
      },
    );
    await rejects(
      importInput(w, 'vllm', await write('lengths.json', JSON.stringify({ ...vllm, ttfts: [0.1] }))),
      (e) => assert.match(e.message, /per-request arrays differ in length: ttfts 1, itls 20/),
    );
    await rejects(importInput(w, 'genai-bench', bad), (e) =>
      assert.match(e.message, /not a genai-bench experiment folder: no experiment_metadata\.json/),
    );
    await rejects(importInput(w, 'genai-bench', VLLM), (e) =>
      assert.match(e.message, /expected a genai-bench experiment folder/),
    );
    await rejects(importInput(w, 'generic', VLLM), (e) => {
      assert.ok(e instanceof ValidationError);
      assert.match(e.message, /format: required field is missing \(expected "infermark-generic\/v1"/);
    });

    // Generic JSON: unknown column, a column the importer sets, a missing required one, a wrong type, an unknown section.
    await rejects(
      importInput(
        w,
        'generic',
        await write(
          'unknown.json',
          JSON.stringify({
            format: 'infermark-generic/v1',
            run: { model: 'm', ingested_at: '2025-01-01T00:00:00Z' },
            serving_outcomes: [
              { ...genericRow, ttft_p99: 1 },
              { ...genericRow, iteration: 1, ttft_p99: 2 },
              { mode: 'concurrency', ttft_ms_p50: 'fast' },
            ],
            extras: {},
          }),
        ),
      ),
      (e) => {
        assert.ok(e instanceof ValidationError);
        const issues = e.issues.map((i) => `${i.file}: ${i.path}: ${i.message}`);
        const unknown = issues.filter((i) => i.includes('ttft_p99'));
        assert.equal(unknown.length, 1, 'an unknown column is reported once per file');
        assert.match(
          unknown[0] as string,
          /unknown\.json: serving_outcomes\[0\]\.ttft_p99: unknown column of serving_outcome_fact \(did you mean "ttft_ms_p99"\?\); expected one of: run_id, iteration, /,
        );
        assert.ok(issues.some((i) => /run\.ingested_at: set by the importer/.test(i)));
        assert.ok(
          issues.some((i) =>
            /serving_outcomes\[2\]\.iteration: required column of serving_outcome_fact is missing/.test(i),
          ),
        );
        assert.ok(issues.some((i) => /serving_outcomes\[2\]\.ttft_ms_p50: expected a number/.test(i)));
        assert.ok(issues.some((i) => /extras: unknown section/.test(i)));
      },
    );
    // Generic CSV: the same checks, by file, column and row.
    await rejects(
      importInput(
        w,
        'generic',
        await write('csv/serving_outcome_fact.csv', 'iteration,ttft_p99,ttft_ms_p50\n0,1,12.5\n1,2,slow\n'),
      ),
      (e) => {
        assert.ok(e instanceof ValidationError);
        assert.match(
          e.message,
          /serving_outcome_fact\.csv: column "ttft_p99": unknown column of serving_outcome_fact \(did you mean "ttft_ms_p99"\?\); expected one of: /,
        );
        assert.match(
          e.message,
          /serving_outcome_fact\.csv: row 3, column "ttft_ms_p50": "slow": expected a number/,
        );
      },
    );
    await rejects(
      importInput(w, 'generic', await write('csv2/request_fact.csv', 'iteration,ttft_ms\n0,1\n')),
      (e) =>
        assert.match(
          e.message,
          /request_fact\.csv: column "request_id": required column of request_fact is missing/,
        ),
    );
    await rejects(importInput(w, 'generic', await write('csv3/results.csv', 'a\n1\n')), (e) =>
      assert.match(
        e.message,
        /results\.csv: cannot tell which table this file fills: name it after the table \(benchmark_run_fact\.csv, /,
      ),
    );
    await rejects(
      importInput(w, 'generic', await write('only-run/benchmark_run_fact.csv', 'model\nm\n')),
      (e) => assert.match(e.message, /nothing to import/),
    );
    await rejects(importInput(w, 'generic', await write('notes.txt', 'hello')), (e) =>
      assert.match(
        e.message,
        /expected a infermark-generic\/v1 \.json file, a \.csv file, or a folder of \.csv files/,
      ),
    );
    await rejects(importInput(w, 'generic', GENERIC_CSV, { table: 'serving_outcome_fact' }), (e) =>
      assert.match(e.message, /--table names the table of one CSV file/),
    );
    await rejects(
      importInput(w, 'generic', join(GENERIC_CSV, 'serving_outcome_fact.csv'), { table: 'serving' }),
      (e) =>
        assert.match(
          e.message,
          /--table: "serving": expected one of benchmark_run_fact, serving_outcome_fact/,
        ),
    );
    assert.deepEqual(await snapshot(w), empty, 'nothing written');

    await rejects(
      importInput(
        w,
        'generic',
        await write(
          'duplicate.json',
          JSON.stringify({ format: 'infermark-generic/v1', serving_outcomes: [genericRow, genericRow] }),
        ),
      ),
      (e) => assert.match(e.message, /serving_outcomes: two rows for iteration 0: one row per key/),
    );
    assert.deepEqual(await snapshot(w), empty, 'nothing written');

    // A failure while writing rolls the whole import back, the bulk-appended request rows included
    // (600 requests: past the size where the appender takes over; the failure comes after them).
    const big = await write('big.json', JSON.stringify(repeated(vllm, 30)));
    const imported = await readVllm(big);
    imported.files.push({ ...(imported.files[0] as (typeof imported.files)[number]) });
    await assert.rejects(writeImport(w, imported, big), /Duplicate key|PRIMARY KEY|constraint/i);
    assert.deepEqual(await snapshot(w), empty, 'one transaction: none of it');
  });
});

test('CLI: warehouse import prints run_id, outcome, points, requests and the unfilled fields; exit 2 on bad input', async () => {
  const warehouse = join(tmp, 'cli.duckdb');
  const first = await cli([
    'warehouse',
    'import',
    '--from',
    'vllm',
    VLLM,
    VLLM_SWEEP,
    '--warehouse',
    warehouse,
    '--format',
    'json',
  ]);
  assert.equal(first.code, 0, first.stderr);
  const results = JSON.parse(first.stdout) as ImportResult[];
  assert.deepEqual(
    results.map((r) => [r.input, r.outcome, r.points, r.requests]),
    [
      [VLLM, 'imported', 1, 20],
      [VLLM_SWEEP, 'imported', 2, 0],
    ],
  );
  assert.ok(results[0]?.gaps.some((g) => g.field === 'serving_outcome_fact.ttfb_ms_p50' && g.note !== ''));

  const table = await cli(['warehouse', 'import', '--from', 'genai-bench', GENAI, '--warehouse', warehouse]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /import-[0-9a-f]{32}\s+genai-bench\s+imported\s+2\s+20\s+\d+/);
  assert.match(table.stdout, /unfilled by .*openai_vLLM_0\.7\.3.*:/);
  assert.match(
    table.stdout,
    /serving_outcome_fact\.itl_ms_\{count,mean,stddev,min,max,p50,p90,p95,p99\}\s+genai-bench reports per-request TPOT/,
  );

  const again = await cli([
    'warehouse',
    'import',
    '--from',
    'vllm',
    VLLM,
    '--warehouse',
    warehouse,
    '--format',
    'csv',
  ]);
  assert.equal(again.code, 0, again.stderr);
  const [header, line] = again.stdout.trim().split('\n');
  assert.equal(header, 'input,run_id,source,outcome,points,requests,unfilled');
  assert.match(line ?? '', /,vllm,unchanged,0,0,benchmark_run_fact\.run_group_id .*request_fact\.trace_id/);

  const listed = await cli([
    'warehouse',
    'query',
    'SELECT source, count(*) AS n FROM benchmark_run_fact GROUP BY source ORDER BY source',
    '--warehouse',
    warehouse,
    '--format',
    'csv',
  ]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout, 'source,n\ngenai-bench,1\nvllm,2\n');

  const noSource = await cli(['warehouse', 'import', VLLM, '--warehouse', warehouse]);
  assert.equal(noSource.code, 2);
  assert.match(noSource.stderr, /--from: required: one of vllm, genai-bench, generic/);
  const wrongSource = await cli(['warehouse', 'import', '--from', 'aiperf', VLLM, '--warehouse', warehouse]);
  assert.equal(wrongSource.code, 2);
  assert.match(wrongSource.stderr, /--from: "aiperf": expected one of vllm, genai-bench, generic/);

  const unknown = join(tmp, 'cli-bad', 'serving_outcome_fact.csv');
  await mkdir(dirname(unknown), { recursive: true });
  await writeFile(unknown, 'iteration,p99_ttft\n0,1\n');
  const bad = await cli(['warehouse', 'import', '--from', 'generic', unknown, '--warehouse', warehouse]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /serving_outcome_fact\.csv: column "p99_ttft": unknown column of serving_outcome_fact/,
  );
  assertNoStack(bad);
  const missing = await cli([
    'warehouse',
    'import',
    '--from',
    'vllm',
    join(tmp, 'nope.json'),
    '--warehouse',
    warehouse,
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.json: no such file or folder/);
  assertNoStack(missing);
});
