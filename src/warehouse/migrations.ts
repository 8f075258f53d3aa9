/**
 * The warehouse schema, as versioned migrations: a migration is never edited once
 * released, a change is a new one. Tables are the canonical logical tables of
 * performance-warehouse.md at the grain it gives, plus a request-grain table for
 * drill-down and the bookkeeping that lineage and retention need. Every row
 * carries `run_id` and the digests that identify what it came from; dimensions
 * are keyed by the digest of their content, so each distinct one is stored once.
 */

export interface Migration {
  version: number;
  description: string;
  statements: string[];
}

/** Per-request distributions kept on serving_outcome_fact, and the statistics of each. */
export const OUTCOME_DISTRIBUTIONS = [
  'ttft_ms',
  'tpot_ms',
  'itl_ms',
  'e2e_latency_ms',
  'ttfb_ms',
  'client_queue_ms',
] as const;
export const OUTCOME_STATS = ['count', 'mean', 'stddev', 'min', 'max', 'p50', 'p90', 'p95', 'p99'] as const;

const distributionColumns = OUTCOME_DISTRIBUTIONS.flatMap((metric) =>
  OUTCOME_STATS.map((stat) => `${metric}_${stat} ${stat === 'count' ? 'BIGINT' : 'DOUBLE'}`),
).join(',\n  ');

const V1: string[] = [
  `CREATE TABLE software_version_dim (
  software_version_id VARCHAR PRIMARY KEY,
  infermark_version VARCHAR, node_version VARCHAR, os_platform VARCHAR, os_release VARCHAR, arch VARCHAR,
  server_engine VARCHAR, server_version VARCHAR, image_digest VARCHAR, driver_version VARCHAR,
  cuda_version VARCHAR, framework VARCHAR, runtime VARCHAR)`,
  `CREATE TABLE hardware_topology_dim (
  hardware_topology_id VARCHAR PRIMARY KEY,
  gpu_model VARCHAR, gpu_count INTEGER, gpu_memory_mib BIGINT,
  client_cpu_model VARCHAR, client_cores INTEGER, client_memory_bytes BIGINT,
  pcie_layout VARCHAR, nvlink_topology VARCHAR, nic_affinity VARCHAR, numa_layout VARCHAR)`,
  `CREATE TABLE cluster_region_dim (
  cluster_region_id VARCHAR PRIMARY KEY,
  cluster VARCHAR, region VARCHAR, zone VARCHAR, node_pool VARCHAR, scheduler_path VARCHAR,
  resource_flavor VARCHAR, tenant_mode VARCHAR, namespace VARCHAR)`,
  `CREATE TABLE workload_dim (
  workload_spec_digest VARCHAR PRIMARY KEY,
  kind VARCHAR NOT NULL,            -- 'iteration' (one frozen workload) or 'run' (the list of a run's)
  scenario VARCHAR, task VARCHAR, tokenizer VARCHAR, seed BIGINT, model VARCHAR, protocol VARCHAR,
  description JSON)`,
  `CREATE TABLE benchmark_run_fact (
  run_id VARCHAR PRIMARY KEY,
  run_group_id VARCHAR,
  benchmark_case_id VARCHAR,
  workload_spec_digest VARCHAR,
  artifact_manifest_digest VARCHAR,
  source VARCHAR NOT NULL,          -- infermark | vllm | genai-bench | generic
  intent VARCHAR,                   -- exploratory | claim (publication vs realism)
  status VARCHAR,                   -- complete | interrupted
  job_name VARCHAR, job_namespace VARCHAR, job_file_commit VARCHAR,
  started_at TIMESTAMPTZ,
  model VARCHAR, task VARCHAR, backend VARCHAR, endpoint_base_url VARCHAR,
  engine VARCHAR, engine_version VARCHAR, gpu_type VARCHAR, gpu_count INTEGER,
  software_version_id VARCHAR, hardware_topology_id VARCHAR, cluster_region_id VARCHAR,
  scheduler_path VARCHAR,
  iterations_planned INTEGER, iterations_completed INTEGER,
  price_per_hour_usd DOUBLE,
  ingested_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE serving_outcome_fact (
  run_id VARCHAR NOT NULL,
  iteration INTEGER NOT NULL,
  benchmark_case_id VARCHAR, workload_spec_digest VARCHAR, artifact_manifest_digest VARCHAR,
  scenario VARCHAR, mode VARCHAR, concurrency INTEGER, rate_rps DOUBLE, ended_by VARCHAR,
  duration_s DOUBLE,
  requests_measured BIGINT, requests_completed BIGINT, requests_errored BIGINT, requests_cancelled BIGINT,
  dropped_arrivals BIGINT, late_arrivals BIGINT,
  error_rate DOUBLE,
  request_throughput_rps DOUBLE, output_throughput_tokens_per_s DOUBLE, input_throughput_tokens_per_s DOUBLE,
  total_token_throughput_tokens_per_s DOUBLE, goodput_rps DOUBLE, goodput_attainment DOUBLE,
  ${distributionColumns},
  itl_jitter_ms DOUBLE,             -- stddev of the pooled inter-token gaps
  queueing_delay_p99_ms DOUBLE,     -- client-side: sent_at − scheduled_at, p99
  cost_per_request_usd DOUBLE, cost_per_million_output_tokens_usd DOUBLE,
  low_samples BOOLEAN, event_loop_flag BOOLEAN,
  ingested_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (run_id, iteration))`,
  `CREATE TABLE request_fact (
  run_id VARCHAR NOT NULL, iteration INTEGER NOT NULL, request_id VARCHAR NOT NULL, trace_id VARCHAR,
  phase VARCHAR, status VARCHAR, error_class VARCHAR, http_status INTEGER,
  scheduled_at_us BIGINT, sent_at_us BIGINT,
  ttft_ms DOUBLE, tpot_ms DOUBLE, e2e_latency_ms DOUBLE, client_queue_ms DOUBLE, itl_max_ms DOUBLE,
  input_tokens BIGINT, output_tokens BIGINT, chunks BIGINT)`,
  `CREATE TABLE training_outcome_fact (
  run_id VARCHAR NOT NULL, phase VARCHAR NOT NULL, scale_point VARCHAR NOT NULL,
  step_time_ms DOUBLE, tokens_per_s DOUBLE, time_to_train_s DOUBLE, mfu DOUBLE,
  scaling_efficiency DOUBLE, reliability DOUBLE,
  ingested_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (run_id, phase, scale_point))`,
  `CREATE TABLE telemetry_slice_fact (
  run_id VARCHAR NOT NULL,
  window_start TIMESTAMPTZ, window_end TIMESTAMPTZ,
  scope VARCHAR NOT NULL,           -- iteration | node | rank | run
  scope_id VARCHAR NOT NULL,
  metric VARCHAR NOT NULL, value DOUBLE, unit VARCHAR,
  ingested_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE artifact_lineage_dim (
  run_id VARCHAR PRIMARY KEY,
  artifact_manifest_digest VARCHAR,
  raw_uris VARCHAR[],               -- where the raw evidence is: the run folder, and each upload
  result_folder VARCHAR,            -- in a store, objects are under <uri>/[result_folder/]<run_id>/
  started_at TIMESTAMPTZ,           -- the run's start, kept here so raw evidence can be aged after its facts are pruned
  signing_state VARCHAR,
  report_refs VARCHAR[])`,
  `CREATE TABLE run_artifact (
  run_id VARCHAR NOT NULL, path VARCHAR NOT NULL, size_bytes BIGINT, sha256 VARCHAR,
  PRIMARY KEY (run_id, path))`,
  `CREATE TABLE import_gap (
  run_id VARCHAR NOT NULL, source VARCHAR NOT NULL, field VARCHAR NOT NULL, note VARCHAR)`,
  `CREATE TABLE named_query (
  name VARCHAR PRIMARY KEY, description VARCHAR, sql VARCHAR NOT NULL,
  query_spec_digest VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE run_reference (
  run_id VARCHAR NOT NULL, referrer VARCHAR NOT NULL, kind VARCHAR NOT NULL, added_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (run_id, referrer))`,
];

/**
 * How each request got its connection (records from before it read NULL): the wait for a
 * connection and the connect time, both outside ttft_ms, and the retries after a reused
 * connection was closed under the request.
 */
const V2: string[] = [
  'ALTER TABLE request_fact ADD COLUMN pool_wait_ms DOUBLE',
  'ALTER TABLE request_fact ADD COLUMN connect_ms DOUBLE',
  'ALTER TABLE request_fact ADD COLUMN retries INTEGER',
];

/**
 * Each SLO as written, checked at its percentile per iteration (goodput applies the same
 * SLOs per request and stays on serving_outcome_fact).
 */
const V3: string[] = [
  `CREATE TABLE slo_check_fact (
  run_id VARCHAR NOT NULL,
  iteration INTEGER NOT NULL,
  slo VARCHAR NOT NULL,             -- canonical text: p99_ttft_ms<=500
  metric VARCHAR, percentile DOUBLE,
  at_percentile DOUBLE,             -- the percentile read: the SLO's own, or 100 / 0 (every request) without one
  op VARCHAR, threshold DOUBLE,
  measured DOUBLE,                  -- the metric at at_percentile over completed measured requests
  samples BIGINT,
  met BOOLEAN,                      -- NULL when there was nothing to measure
  ingested_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (run_id, iteration, slo))`,
];

/**
 * Which shard of a split run each request came from (docs/shards.md): its index, its
 * line in the shard's requests.jsonl, and the shard's host and process. NULL for runs
 * by one process.
 */
const V4: string[] = [
  'ALTER TABLE request_fact ADD COLUMN shard_index INTEGER',
  'ALTER TABLE request_fact ADD COLUMN shard_line BIGINT',
  'ALTER TABLE request_fact ADD COLUMN shard_host VARCHAR',
  'ALTER TABLE request_fact ADD COLUMN shard_pid INTEGER',
];

/**
 * Which BenchmarkJob, pod and node ran the run (run.json's `kubernetes`, docs/k8s.md): the
 * warehouse document's job_uid, pod_uid and node_name. NULL for a run outside Kubernetes.
 */
const V5: string[] = [
  'ALTER TABLE benchmark_run_fact ADD COLUMN job_uid VARCHAR',
  'ALTER TABLE benchmark_run_fact ADD COLUMN pod_uid VARCHAR',
  'ALTER TABLE benchmark_run_fact ADD COLUMN node_name VARCHAR',
];

/**
 * Telemetry by window and scope (docs/telemetry.md): each row is one series over one window
 * between two scrapes of one target, on the records' clock (the µs of request_fact.sent_at_us),
 * scoped to the GPU, node, pod or server it describes, filed under its registry family where
 * it has one, and pointing at the raw scrape that closes the window. Rows of scope
 * `iteration` (the whole iteration, as before) carry the target too.
 */
const V6: string[] = [
  'ALTER TABLE telemetry_slice_fact ADD COLUMN iteration INTEGER',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN window_start_us BIGINT',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN window_end_us BIGINT',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN target VARCHAR',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN role VARCHAR',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN family VARCHAR',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN stat VARCHAR',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN node_name VARCHAR',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN gpu_uuid VARCHAR',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN pod VARCHAR',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN series VARCHAR',
  'ALTER TABLE telemetry_slice_fact ADD COLUMN source_path VARCHAR',
];

/**
 * What a GPU exporter's labels reveal about the hardware (docs/telemetry.md): the GPUs' UUIDs
 * and the hosts they are on, sorted and comma-separated. NULL where no GPU target was scraped.
 */
const V7: string[] = [
  'ALTER TABLE hardware_topology_dim ADD COLUMN gpu_uuids VARCHAR',
  'ALTER TABLE hardware_topology_dim ADD COLUMN hostnames VARCHAR',
];

/**
 * The workloads people serve (issue 19): each request's shared-prefix group and the prompt
 * tokens the server served from its cache, its conversation and turn; each point's cost per
 * million input tokens and the GPU price it was taken from. NULL where a run did not say.
 */
const V8: string[] = [
  'ALTER TABLE request_fact ADD COLUMN prefix_group INTEGER',
  'ALTER TABLE request_fact ADD COLUMN cached_tokens INTEGER',
  'ALTER TABLE request_fact ADD COLUMN conversation_id VARCHAR',
  'ALTER TABLE request_fact ADD COLUMN turn_index INTEGER',
  'ALTER TABLE serving_outcome_fact ADD COLUMN cost_per_million_input_tokens_usd DOUBLE',
  'ALTER TABLE serving_outcome_fact ADD COLUMN prefix_cache_hit_rate DOUBLE',
];

export const MIGRATIONS: Migration[] = [
  { version: 1, description: 'canonical tables', statements: V1 },
  { version: 2, description: 'request connection wait, connect time and retries', statements: V2 },
  { version: 3, description: 'SLO checks at their percentile', statements: V3 },
  { version: 4, description: 'the shard, host and process of each request of a split run', statements: V4 },
  { version: 5, description: 'the Kubernetes job, pod and node of a run', statements: V5 },
  {
    version: 6,
    description: 'telemetry by window and scope, with its family and raw scrape',
    statements: V6,
  },
  { version: 7, description: 'the GPU UUIDs and hostnames a GPU exporter reveals', statements: V7 },
  {
    version: 8,
    description: 'prefix groups, cached tokens, conversations and turns; cost per million input tokens',
    statements: V8,
  },
];

/** The canonical tables (exported, compared, documented), in dependency order. */
export const CANONICAL_TABLES = [
  'benchmark_run_fact',
  'serving_outcome_fact',
  'slo_check_fact',
  'training_outcome_fact',
  'telemetry_slice_fact',
  'software_version_dim',
  'hardware_topology_dim',
  'cluster_region_dim',
  'workload_dim',
  'artifact_lineage_dim',
  'request_fact',
  'run_artifact',
  'import_gap',
] as const;
