/**
 * Ingest of an infermark run folder into the curated tables. The folder must be
 * sealed and verify (evidence first: a number must walk back to bytes that still
 * match). A run is ingested whole in one transaction, or not at all; ingesting a
 * run already there with the same manifest digest changes nothing, and a run_id
 * seen with a different digest is refused (a run never changes). Request rows are
 * read by DuckDB itself from requests.jsonl, with the per-request formulas of
 * METRICS.md in SQL, which is what makes a million records take seconds.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { digestOf } from '../base/digest.js';
import type { ClientEnvironment } from '../evidence/environment.js';
import type { KubernetesIdentity } from '../evidence/kubernetes-identity.js';
import type { RunManifest } from '../evidence/manifest.js';
import { verifyRunFolder } from '../evidence/verify.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import { pricePerHour, servingCosts, type HourlyPrice } from '../metrics/cost.js';
import type { Distribution } from '../metrics/percentiles.js';
import type { BenchmarkJob } from '../spec/job-schema.js';
import { jobTopology } from '../spec/job-topology.js';
import { OUTCOME_DISTRIBUTIONS, OUTCOME_STATS } from './migrations.js';
import { bulkInsert, insertIgnore, insertRow, readCatalog } from './insert-rows.js';
import { parsePrometheus } from '../telemetry/prom-parse.js';
import { readIterationTelemetry } from '../telemetry/scrape-files.js';
import { emptyRevealed, reveal, targetTelemetryRows, type RevealedHardware } from './telemetry-rows.js';
import { type Warehouse } from './warehouse.js';
import { sqlString } from './sql.js';

export interface IngestOptions {
  /** Where else the raw evidence lives (upload URIs), besides the folder itself. */
  rawUris?: string[];
  /** Overrides the job's costPerHourUsd. */
  costPerHourUsd?: number;
  /** Whether the folder itself is a place the evidence is kept (false for a temporary download). */
  recordFolder?: boolean;
}

export interface IngestResult {
  run_id: string;
  /** `ingested`, or `unchanged` when the same run was already there. */
  outcome: 'ingested' | 'unchanged';
  iterations: number;
  requests: number;
}

interface RunJson {
  run_id: string;
  /** Absent in folders written before run groups. */
  run_group_id?: string;
  benchmark_case_id?: string;
  workload_spec_digest?: string;
  started_at: string;
  intent?: string;
  job_file?: { git?: { commit?: string } | null } | null;
  job: BenchmarkJob;
  endpoint: { base_url: string; model: string; backend: string };
  server?: { version?: string | null };
  tokenizer?: string;
  plan: unknown[];
  workloads?: { iteration: number; description: Record<string, unknown>; spec_digest: string }[];
  environment: ClientEnvironment;
  /** A split run's shards (docs/shards.md); absent for a run by one process. */
  shards?: { index: number; host: string | null; pid: number | null }[];
  /** Present in a shard's own folder, never in a run's. */
  shard?: { index: number; of: number; run_id: string };
  /** The BenchmarkJob, pod and node, for a run in Kubernetes (docs/k8s.md); absent otherwise. */
  kubernetes?: Partial<KubernetesIdentity> | null;
  /** The price the run was started with (metrics/cost.ts pricePerHour); absent in older folders. */
  price?: HourlyPrice | null;
}

export async function ingestRunFolder(
  warehouse: Warehouse,
  runDir: string,
  options: IngestOptions = {},
): Promise<IngestResult> {
  const dir = resolve(runDir);
  const report = await verifyRunFolder(dir);
  if (!report.sealed || report.status === 'corrupt') {
    const why = !report.sealed
      ? 'it was not sealed (the run stopped before it ended)'
      : `it does not verify (${report.problems
          .slice(0, 3)
          .map((p) => `${p.path}: ${p.problem}`)
          .join('; ')})`;
    throw new InfermarkError('E_NOT_VERIFIED', `${runDir}: not ingested: ${why}`, ExitCode.badInput);
  }
  const digest = report.artifact_manifest_digest as string;
  const run = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as RunJson;
  // A shard is part of a run, not one: ingested alone its requests would count twice.
  if (run.shard) {
    throw new InfermarkError(
      'E_SHARD_FOLDER',
      `${runDir}: not ingested: it is shard ${run.shard.index} of ${run.shard.of} of the split run ${run.shard.run_id}; ingest the run folder that holds its shards/ folder`,
      ExitCode.badInput,
    );
  }
  const existing = await warehouse.all(
    'SELECT artifact_manifest_digest AS d FROM benchmark_run_fact WHERE run_id = $1',
    [run.run_id],
  );
  if (existing.length > 0) {
    if (existing[0]?.d === digest)
      return { run_id: run.run_id, outcome: 'unchanged', iterations: 0, requests: 0 };
    throw new InfermarkError(
      'E_RUN_CHANGED',
      `${runDir}: run ${run.run_id} is already in the warehouse with artifact_manifest_digest ${String(existing[0]?.d)}, not ${digest}`,
      ExitCode.badInput,
    );
  }
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as RunManifest;
  const summaries: IterationSummary[] = [];
  for (const it of report.iterations) {
    const path = join(dir, 'iterations', String(it.iteration).padStart(3, '0'), 'summary.json');
    summaries.push(JSON.parse(await readFile(path, 'utf8')) as IterationSummary);
  }
  // The price resolved when the run started (its table file need not be here now); older folders have the job's.
  const cost =
    options.costPerHourUsd ??
    run.price?.per_hour_usd ??
    pricePerHour(run.job.spec, null)?.per_hour_usd ??
    null;
  let requests = 0;
  const revealed = await revealHardware(
    dir,
    summaries.map((s) => s.iteration),
  );
  await warehouse.transaction(async () => {
    const ids = await insertDimensions(warehouse, run, revealed);
    await insertRunFact(warehouse, run, manifest, digest, ids, summaries.length, cost);
    for (const summary of summaries) {
      await insertOutcome(warehouse, run, summary, digest, cost);
      await insertSloChecks(warehouse, run.run_id, summary);
      await insertTelemetry(warehouse, run.run_id, dir, summary.iteration);
      await setPrefixCacheHitRate(warehouse, run.run_id, summary);
    }
    requests = await insertRequests(
      warehouse,
      run.run_id,
      summaries.map((s) => join(dir, 'iterations', String(s.iteration).padStart(3, '0'), 'requests.jsonl')),
    );
    await insertShardIdentities(warehouse, run);
    for (const artifact of manifest.artifacts) {
      // OR IGNORE: after the warm tier pruned a run's facts, its lineage rows are still there (retention.ts).
      await warehouse.run('INSERT OR IGNORE INTO run_artifact VALUES ($1, $2, $3, $4)', [
        run.run_id,
        artifact.path,
        artifact.size_bytes,
        artifact.sha256,
      ]);
    }
    await warehouse.run(
      `INSERT OR IGNORE INTO artifact_lineage_dim VALUES ($1, $2, ${listLiteral([...(options.recordFolder === false ? [] : [dir]), ...(options.rawUris ?? [])])}, $3, $4, 'unsigned', [])`,
      [run.run_id, digest, run.job.spec.resultFolderName ?? null, run.started_at],
    );
  });
  return { run_id: run.run_id, outcome: 'ingested', iterations: summaries.length, requests };
}

interface DimensionIds {
  software: string;
  hardware: string;
  cluster: string;
}

/**
 * What the GPU exporters' first scrapes say about the hardware (dcgm-exporter's labels): read
 * before the dimensions are written, from the first iteration that scraped a GPU target.
 */
async function revealHardware(dir: string, iterations: number[]): Promise<RevealedHardware> {
  const revealed = emptyRevealed();
  for (const iteration of iterations) {
    const folder = join(dir, 'iterations', String(iteration).padStart(3, '0'));
    const gpus = (await readIterationTelemetry(folder)).filter((t) => t.role === 'gpu');
    for (const target of gpus) {
      const first = target.samples[0];
      const text = first ? await first.text().catch(() => null) : null;
      if (text !== null) reveal(parsePrometheus(text), revealed);
    }
    if (gpus.length > 0) break;
  }
  return revealed;
}

/** One value when the scrapes agree on it; several are listed, sorted, comma-separated. */
function oneOf(values: Set<string>): string | null {
  return values.size === 0 ? null : [...values].sort().join(',');
}

async function insertDimensions(
  warehouse: Warehouse,
  run: RunJson,
  revealed: RevealedHardware,
): Promise<DimensionIds> {
  const { environment: env, job } = run;
  const meta = job.spec.serviceMetadata;
  // What run.json knows comes first; the GPU exporter's labels fill what it does not.
  const software = {
    infermark_version: env.infermark_version,
    node_version: env.node_version,
    os_platform: env.os.platform,
    os_release: env.os.release,
    arch: env.os.arch,
    server_engine: meta?.engine ?? null,
    server_version: run.server?.version ?? meta?.version ?? null,
    ...(revealed.driver_versions.size > 0 ? { driver_version: oneOf(revealed.driver_versions) } : {}),
    ...(revealed.cuda_versions.size > 0 ? { cuda_version: oneOf(revealed.cuda_versions) } : {}),
  };
  const hardware = {
    gpu_model: jobTopology(job).gpu_model ?? env.gpus[0]?.name ?? oneOf(revealed.gpu_models),
    gpu_count: meta?.gpuCount ?? (env.gpus.length || revealed.gpu_uuids.size || null),
    gpu_memory_mib: env.gpus[0]?.memory_mib ?? null,
    client_cpu_model: env.host.cpu_model,
    client_cores: env.host.cores,
    client_memory_bytes: env.host.memory_bytes,
    // Only where a GPU exporter said so, so a run without one keeps the dimension it had.
    ...(revealed.gpu_uuids.size > 0 ? { gpu_uuids: oneOf(revealed.gpu_uuids) } : {}),
    ...(revealed.hostnames.size > 0 ? { hostnames: oneOf(revealed.hostnames) } : {}),
  };
  const topology = jobTopology(job);
  const cluster = {
    cluster: topology.cluster,
    region: topology.region,
    zone: topology.zone,
    node_pool: topology.node_pool,
    scheduler_path: topology.scheduler_path,
    namespace: job.metadata.namespace ?? null,
  };
  const ids = { software: digestOf(software), hardware: digestOf(hardware), cluster: digestOf(cluster) };
  await insertIgnore(warehouse, 'software_version_dim', { software_version_id: ids.software, ...software });
  await insertIgnore(warehouse, 'hardware_topology_dim', { hardware_topology_id: ids.hardware, ...hardware });
  await insertIgnore(warehouse, 'cluster_region_dim', { cluster_region_id: ids.cluster, ...cluster });
  for (const workload of run.workloads ?? []) {
    const d = workload.description;
    await insertIgnore(warehouse, 'workload_dim', {
      workload_spec_digest: workload.spec_digest,
      kind: 'iteration',
      scenario: typeof d.scenario === 'string' ? d.scenario : null,
      task: job.spec.task,
      tokenizer: run.tokenizer ?? null,
      seed: job.spec.seed,
      model: run.endpoint.model,
      protocol: run.endpoint.backend,
      description: JSON.stringify(d),
    });
  }
  if (run.workload_spec_digest) {
    await insertIgnore(warehouse, 'workload_dim', {
      workload_spec_digest: run.workload_spec_digest,
      kind: 'run',
      task: job.spec.task,
      model: run.endpoint.model,
      protocol: run.endpoint.backend,
      description: JSON.stringify((run.workloads ?? []).map((w) => w.spec_digest)),
    });
  }
  return ids;
}

async function insertRunFact(
  warehouse: Warehouse,
  run: RunJson,
  manifest: RunManifest,
  digest: string,
  ids: DimensionIds,
  iterationsCompleted: number,
  cost: number | null,
): Promise<void> {
  const meta = run.job.spec.serviceMetadata;
  await insertRow(warehouse, 'benchmark_run_fact', {
    run_id: run.run_id,
    run_group_id: run.run_group_id ?? null,
    benchmark_case_id: run.benchmark_case_id ?? null,
    workload_spec_digest: run.workload_spec_digest ?? null,
    artifact_manifest_digest: digest,
    source: 'infermark',
    intent: run.intent ?? 'exploratory',
    status: manifest.status,
    job_name: run.job.metadata.name,
    job_namespace: run.job.metadata.namespace ?? null,
    job_file_commit: run.job_file?.git?.commit ?? null,
    job_uid: run.kubernetes?.job_uid ?? null,
    pod_uid: run.kubernetes?.pod_uid ?? null,
    node_name: run.kubernetes?.node_name ?? null,
    started_at: run.started_at,
    model: run.endpoint.model,
    task: run.job.spec.task,
    backend: run.endpoint.backend,
    endpoint_base_url: run.endpoint.base_url,
    engine: meta?.engine ?? null,
    engine_version: meta?.version ?? null,
    gpu_type: meta?.gpuType ?? null,
    gpu_count: meta?.gpuCount ?? null,
    software_version_id: ids.software,
    hardware_topology_id: ids.hardware,
    cluster_region_id: ids.cluster,
    scheduler_path: jobTopology(run.job).scheduler_path,
    iterations_planned: run.plan.length,
    iterations_completed: iterationsCompleted,
    price_per_hour_usd: cost,
    ingested_at: new Date().toISOString(),
  });
}

async function insertOutcome(
  warehouse: Warehouse,
  run: RunJson,
  s: IterationSummary,
  digest: string,
  cost: number | null,
): Promise<void> {
  const row: Record<string, unknown> = {
    run_id: run.run_id,
    iteration: s.iteration,
    benchmark_case_id: run.benchmark_case_id ?? null,
    workload_spec_digest: run.workloads?.find((w) => w.iteration === s.iteration)?.spec_digest ?? null,
    artifact_manifest_digest: digest,
    scenario: s.scenario,
    mode: s.mode,
    concurrency: s.concurrency,
    rate_rps: s.rate_rps,
    ended_by: s.ended_by,
    duration_s: s.duration_s,
    requests_measured: s.requests.measured,
    requests_completed: s.requests.completed,
    requests_errored: s.requests.errored,
    requests_cancelled: s.requests.cancelled,
    dropped_arrivals: s.requests.dropped_arrivals,
    late_arrivals: s.requests.late_arrivals,
    error_rate: s.error_rate,
    request_throughput_rps: s.request_throughput_rps,
    output_throughput_tokens_per_s: s.output_throughput_tokens_per_s,
    input_throughput_tokens_per_s: s.input_throughput_tokens_per_s,
    total_token_throughput_tokens_per_s: s.total_token_throughput_tokens_per_s,
    goodput_rps: s.goodput_rps,
    goodput_attainment: s.goodput?.attainment ?? null,
    itl_jitter_ms: s.distributions.itl_ms.stddev,
    queueing_delay_p99_ms: s.distributions.client_queue_ms.p99,
    ...servingCosts(cost, s),
    low_samples: s.flags.low_samples,
    event_loop_flag: s.flags.event_loop_flag,
    ingested_at: new Date().toISOString(),
  };
  for (const metric of OUTCOME_DISTRIBUTIONS) {
    const distribution = s.distributions[metric] as Distribution;
    for (const stat of OUTCOME_STATS) row[`${metric}_${stat}`] = distribution[stat];
  }
  await insertRow(warehouse, 'serving_outcome_fact', row);
}

/** Each SLO at its percentile (summaries written before the checks existed have none). */
async function insertSloChecks(warehouse: Warehouse, runId: string, s: IterationSummary): Promise<void> {
  for (const check of s.slo_checks ?? []) {
    // OR IGNORE: a job that lists one SLO twice checks it once.
    await insertIgnore(warehouse, 'slo_check_fact', {
      run_id: runId,
      iteration: s.iteration,
      slo: check.slo,
      metric: check.metric,
      percentile: check.percentile,
      at_percentile: check.at_percentile,
      op: check.op,
      threshold: check.threshold,
      measured: check.measured,
      samples: check.samples,
      met: check.met,
      ingested_at: new Date().toISOString(),
    });
  }
}

/** Request rows, read and derived by DuckDB from the records file (METRICS.md formulas). */
async function insertRequests(warehouse: Warehouse, runId: string, paths: string[]): Promise<number> {
  if (paths.length === 0) return 0;
  const columns = {
    iteration: 'INTEGER',
    request_id: 'VARCHAR',
    trace_id: 'VARCHAR',
    phase: 'VARCHAR',
    status: 'VARCHAR',
    error_class: 'VARCHAR',
    http_status: 'INTEGER',
    scheduled_at_us: 'BIGINT',
    sent_at_us: 'BIGINT',
    first_token_at_us: 'BIGINT',
    last_token_at_us: 'BIGINT',
    chunk_times_us: 'BIGINT[]',
    input_tokens: 'BIGINT',
    output_tokens: 'BIGINT',
    pool_wait_us: 'BIGINT',
    connect_us: 'BIGINT',
    retries: 'INTEGER',
    // Issue 19: older records lack them, read as NULL.
    prefix_group: 'INTEGER',
    cached_tokens: 'INTEGER',
    // A split run's merged records say which shard and shard line each came from; NULL otherwise.
    shard_index: 'INTEGER',
    shard_line: 'BIGINT',
    // Multi-turn requests (migration 8); NULL elsewhere and in records of older runs.
    conversation_id: 'VARCHAR',
    turn_index: 'INTEGER',
  };
  const columnsSql = `{${Object.entries(columns)
    .map(([name, type]) => `${name}: '${type}'`)
    .join(', ')}}`;
  // One statement over every iteration's file: DuckDB reads them in parallel.
  const inserted = await warehouse.run(
    `INSERT INTO request_fact (run_id, iteration, request_id, trace_id, phase, status, error_class, http_status,
       scheduled_at_us, sent_at_us, ttft_ms, tpot_ms, e2e_latency_ms, client_queue_ms, itl_max_ms,
       input_tokens, output_tokens, chunks, pool_wait_ms, connect_ms, retries, shard_index, shard_line,
       conversation_id, turn_index,
       prefix_group, cached_tokens)
     SELECT $1, iteration, request_id, trace_id, phase, status, error_class, http_status, scheduled_at_us, sent_at_us,
       (first_token_at_us - sent_at_us) / 1000.0,
       CASE WHEN output_tokens >= 2 AND len(chunk_times_us) >= 2 AND first_token_at_us IS NOT NULL
            AND last_token_at_us IS NOT NULL
            THEN (last_token_at_us - first_token_at_us) / 1000.0 / (output_tokens - 1) END,
       (last_token_at_us - sent_at_us) / 1000.0,
       (sent_at_us - scheduled_at_us) / 1000.0,
       list_max(list_transform(range(1, len(chunk_times_us)), i -> chunk_times_us[i + 1] - chunk_times_us[i])) / 1000.0,
       input_tokens, output_tokens, len(chunk_times_us),
       pool_wait_us / 1000.0, connect_us / 1000.0, retries, shard_index, shard_line,
       conversation_id, turn_index,
       prefix_group, cached_tokens
     FROM read_json([${paths.map(sqlString).join(', ')}], format = 'newline_delimited', columns = ${columnsSql})`,
    [runId],
  );
  return inserted;
}

/**
 * serving_outcome_fact.prefix_cache_hit_rate (docs/prefix-caching.md): the server's own
 * counters over the iteration where they were scraped (Σ increase of prefix_cache_hits over
 * Σ increase of prefix_cache_queries, every window of every target), else the records' token
 * hit rate (Σ cached_tokens / Σ input_tokens of the completed requests that report it), else NULL.
 */
async function setPrefixCacheHitRate(
  warehouse: Warehouse,
  runId: string,
  s: IterationSummary,
): Promise<void> {
  const [row] = await warehouse.all(
    `SELECT sum(CASE WHEN family = 'prefix_cache_hits' THEN value * (window_end_us - window_start_us) END)
          / nullif(sum(CASE WHEN family = 'prefix_cache_queries' THEN value * (window_end_us - window_start_us) END), 0)
          AS rate
     FROM telemetry_slice_fact
     WHERE run_id = $1 AND iteration = $2 AND stat = 'rate' AND scope <> 'iteration'
       AND family IN ('prefix_cache_hits', 'prefix_cache_queries')`,
    [runId, s.iteration],
  );
  const served = row?.rate;
  const rate = typeof served === 'number' ? served : (s.prefix_cache?.token_hit_rate ?? null);
  if (rate === null) return;
  await warehouse.run(
    'UPDATE serving_outcome_fact SET prefix_cache_hit_rate = $1 WHERE run_id = $2 AND iteration = $3',
    [rate, runId, s.iteration],
  );
}

/** Each request of a split run gets its shard's host and process, from run.json's `shards`. */
async function insertShardIdentities(warehouse: Warehouse, run: RunJson): Promise<void> {
  for (const shard of run.shards ?? []) {
    await warehouse.run(
      'UPDATE request_fact SET shard_host = $1, shard_pid = $2 WHERE run_id = $3 AND shard_index = $4',
      [shard.host, shard.pid, run.run_id, shard.index],
    );
  }
}

/**
 * Each telemetry target's scrapes of the iteration, as telemetry_slice_fact rows: by window
 * and scope for the known families, and over the whole iteration for every series the
 * guard kept (telemetry-rows.ts). What could not be read, or was dropped, is an import note.
 */
async function insertTelemetry(
  warehouse: Warehouse,
  runId: string,
  dir: string,
  iteration: number,
): Promise<void> {
  const iterationPath = `iterations/${String(iteration).padStart(3, '0')}`;
  const targets = await readIterationTelemetry(join(dir, iterationPath));
  if (targets.length === 0) return;
  const catalog = await readCatalog(warehouse);
  const ingested_at = new Date().toISOString();
  for (const target of targets) {
    const { rows, notes } = await targetTelemetryRows(
      runId,
      iteration,
      iterationPath,
      target,
      emptyRevealed(),
    );
    await bulkInsert(
      warehouse,
      catalog,
      'telemetry_slice_fact',
      rows.map((row) => ({ ...row, ingested_at })),
    );
    for (const note of notes) {
      await insertRow(warehouse, 'import_gap', {
        run_id: runId,
        source: 'infermark',
        field: 'telemetry',
        note,
      });
    }
  }
}

function listLiteral(values: string[]): string {
  return `[${values.map(sqlString).join(', ')}]::VARCHAR[]`;
}
