/**
 * Importer for a genai-bench experiment folder: `experiment_metadata.json` and one
 * JSON per (traffic scenario, concurrency) run, named
 * `<scenario>_<task>_concurrency_<n>_time_<s>s.json` (the pattern genai-bench's own
 * experiment loader reads), holding `aggregated_metrics` (AggregatedMetrics) and
 * `individual_request_metrics` (RequestLevelMetrics). Latencies are in seconds
 * unless the file says `"_time_unit": "ms"` (`--metrics-time-unit ms`); the
 * warehouse stores ms. Each run file is one serving point; each individual
 * request is one request row.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { digestOf } from '../base/digest.js';
import { redactUrl } from '../base/redact.js';
import { MIN_SAMPLES_FOR_P99 } from '../metrics/iteration-flags.js';
import {
  badInput,
  compactStamp,
  ms,
  parsePythonJson,
  readInputFile,
  statInput,
  type ImportedRun,
  type InputFile,
} from './import-common.js';
import { parseWith } from '../spec/zod-issues.js';
import { type Columns } from './insert-rows.js';

const METADATA_FILE = 'experiment_metadata.json';
/** genai-bench's analysis/experiment_loader.py reads the run files matching this. */
const RUN_FILE = /^.+_.+_(?:concurrency|batch_size)_[\d.]+_time_\d+s\.json$/;

const maybeString = z.string().nullable().optional();
const maybeNumber = z.number().nullable().optional();

const Metadata = z.looseObject({
  cmd: z.string().optional(),
  benchmark_version: z.string().optional(),
  api_backend: z.string(),
  api_model_name: z.string(),
  server_model_tokenizer: maybeString,
  model: z.string(),
  task: z.string(),
  num_concurrency: z.array(z.number()).nullable().optional(),
  batch_size: z.array(z.number()).nullable().optional(),
  request_rate: z.array(z.number()).nullable().optional(),
  max_concurrency: maybeNumber,
  iteration_type: z.string().optional(),
  traffic_scenario: z.array(z.string()).optional(),
  additional_request_params: z.record(z.string(), z.unknown()).optional(),
  server_engine: maybeString,
  server_version: maybeString,
  server_gpu_type: maybeString,
  server_gpu_count: z.union([z.string(), z.number()]).nullable().optional(),
  max_time_per_run_s: maybeNumber,
  max_requests_per_run: maybeNumber,
  experiment_folder_name: maybeString,
  experiment_folder_abs_path: maybeString,
  metrics_time_unit: maybeString,
  dataset_path: maybeString,
});
type Metadata = z.infer<typeof Metadata>;

const Stat = z.looseObject({
  min: maybeNumber,
  max: maybeNumber,
  mean: maybeNumber,
  stddev: maybeNumber,
  sum: maybeNumber,
  p25: maybeNumber,
  p50: maybeNumber,
  p75: maybeNumber,
  p90: maybeNumber,
  p95: maybeNumber,
  p99: maybeNumber,
});
type Stat = z.infer<typeof Stat>;

const RunFile = z.looseObject({
  aggregated_metrics: z.looseObject({
    scenario: z.string().nullable().optional(),
    num_concurrency: z.number(),
    batch_size: z.number().optional(),
    request_rate: maybeNumber,
    iteration_type: z.string().optional(),
    run_duration: z.number(),
    mean_output_throughput_tokens_per_s: maybeNumber,
    mean_input_throughput_tokens_per_s: maybeNumber,
    mean_total_tokens_throughput_tokens_per_s: maybeNumber,
    requests_per_second: maybeNumber,
    error_rate: maybeNumber,
    num_error_requests: z.number().int(),
    num_completed_requests: z.number().int(),
    num_requests: z.number().int(),
    stats: z.record(z.string(), Stat),
  }),
  individual_request_metrics: z
    .array(
      z.looseObject({
        ttft: maybeNumber,
        tpot: maybeNumber,
        e2e_latency: maybeNumber,
        num_input_tokens: maybeNumber,
        num_output_tokens: maybeNumber,
        error_code: maybeNumber,
        error_message: maybeString,
      }),
    )
    .optional(),
  _time_unit: z.enum(['s', 'ms']).optional(),
});
type RunFile = z.infer<typeof RunFile>;

/** genai-bench's latency statistics → the warehouse's distributions. */
const DISTRIBUTIONS: Record<string, string> = {
  ttft: 'ttft_ms',
  tpot: 'tpot_ms',
  e2e_latency: 'e2e_latency_ms',
};
const STATS = ['mean', 'stddev', 'min', 'max', 'p50', 'p90', 'p95', 'p99'] as const;

const NOTES: Record<string, string> = {
  'benchmark_run_fact.started_at':
    'the folder name has no genai-bench timestamp (<...>_YYYYMMDD_HHMMSS), and the metadata records no start',
  'benchmark_run_fact.endpoint_base_url': 'no --api-base in the recorded cmd',
  'benchmark_run_fact.engine': 'no --server-engine given',
  'benchmark_run_fact.engine_version': 'no --server-version given',
  'benchmark_run_fact.gpu_type': 'no --server-gpu-type given',
  'benchmark_run_fact.gpu_count': 'no --server-gpu-count given',
  'serving_outcome_fact.itl_ms_*': 'genai-bench reports per-request TPOT, not the pooled inter-token gaps',
  'serving_outcome_fact.itl_jitter_ms':
    'genai-bench reports per-request TPOT, not the pooled inter-token gaps',
  'serving_outcome_fact.ttfb_ms_*': 'genai-bench does not time the response headers',
  'serving_outcome_fact.client_queue_ms_*': 'genai-bench does not record client-side queueing',
  'serving_outcome_fact.queueing_delay_p99_ms': 'genai-bench does not record client-side queueing',
  'serving_outcome_fact.requests_cancelled':
    'genai-bench does not count requests cut off at the end of a run',
  'serving_outcome_fact.dropped_arrivals': 'genai-bench does not record arrivals it could not send',
  'serving_outcome_fact.late_arrivals': 'genai-bench does not record how late an arrival was sent',
  'serving_outcome_fact.goodput_rps': 'genai-bench has no SLO-based goodput',
  'serving_outcome_fact.goodput_attainment': 'genai-bench has no SLO-based goodput',
  'serving_outcome_fact.ttft_ms_count': 'the stats have no sum to count the samples by',
  request_fact: 'the run files have no individual_request_metrics',
  'request_fact.trace_id': 'genai-bench sends no trace ids',
  'request_fact.phase':
    'warmup and cooldown requests (--warmup-ratio, --cooldown-ratio) are not marked in individual_request_metrics',
  'request_fact.scheduled_at_us': 'genai-bench keeps no per-request timestamps',
  'request_fact.sent_at_us': 'genai-bench keeps no per-request timestamps',
  'request_fact.client_queue_ms': 'genai-bench does not record client-side queueing',
  'request_fact.itl_max_ms': 'genai-bench keeps no per-chunk times',
  'request_fact.chunks': 'genai-bench keeps no per-chunk times',
  'request_fact.error_class': 'no request failed with an HTTP error code',
  'request_fact.http_status':
    'no request failed with an HTTP error code (genai-bench records codes of failures only)',
};

/** Reads a genai-bench experiment folder (or its experiment_metadata.json). */
export async function readGenaiBench(path: string): Promise<ImportedRun> {
  const { absolute, isDirectory } = await statInput(path);
  if (!isDirectory && basename(absolute) !== METADATA_FILE)
    throw badInput(path, `expected a genai-bench experiment folder (the folder holding ${METADATA_FILE})`);
  const folder = isDirectory ? absolute : dirname(absolute);
  const names = await readdir(folder);
  if (!names.includes(METADATA_FILE))
    throw badInput(path, `not a genai-bench experiment folder: no ${METADATA_FILE} in it`);
  const runNames = names.filter((name) => RUN_FILE.test(name)).sort();
  if (runNames.length === 0)
    throw badInput(
      path,
      'no run files in the experiment folder (expected <scenario>_<task>_concurrency_<n>_time_<s>s.json)',
    );

  const files: InputFile[] = [];
  const read = async (name: string): Promise<unknown> => {
    const { text, file } = await readInputFile(join(folder, name), name);
    files.push(file);
    return parsePythonJson(text, join(path, name));
  };
  const metadataPath = isDirectory ? join(path, METADATA_FILE) : path;
  const metadata = parseWith(Metadata, await read(METADATA_FILE), metadataPath);
  const runs: { name: string; data: RunFile }[] = [];
  for (const name of runNames) {
    const value = await read(name);
    if (value === null || typeof value !== 'object' || !('aggregated_metrics' in value))
      throw badInput(join(path, name), 'not a genai-bench run file: no aggregated_metrics');
    runs.push({ name, data: parseWith(RunFile, value, join(path, name)) });
  }

  const rateMode =
    metadata.iteration_type === 'request_rate' || /(^|\s)--qps-level(\s|=|$)/.test(metadata.cmd ?? '');
  // Points in the experiment's own order: scenarios as listed, then by concurrency (or rate).
  const scenarioOrder = metadata.traffic_scenario ?? [];
  const level = (run: RunFile): number =>
    run.aggregated_metrics.request_rate ?? run.aggregated_metrics.num_concurrency;
  runs.sort((a, b) => {
    const sa = scenarioIndex(scenarioOrder, a.data.aggregated_metrics.scenario);
    const sb = scenarioIndex(scenarioOrder, b.data.aggregated_metrics.scenario);
    return sa - sb || level(a.data) - level(b.data) || (a.name < b.name ? -1 : 1);
  });

  const tokenizer = metadata.server_model_tokenizer ?? null;
  const workloads = new Map<string, Columns>();
  const outcomes: Columns[] = [];
  const requests: Columns[] = [];
  let hasRequests = true;
  const plan: unknown[] = [];
  runs.forEach(({ data }, iteration) => {
    const agg = data.aggregated_metrics;
    const factor = timeFactor(data._time_unit ?? metadata.metrics_time_unit ?? 's', path);
    const batchSize = metadata.iteration_type === 'batch_size' ? (agg.batch_size ?? null) : null;
    const workload = {
      source: 'genai-bench',
      scenario: agg.scenario ?? null,
      task: metadata.task,
      tokenizer,
      dataset_path: metadata.dataset_path && metadata.dataset_path !== 'None' ? metadata.dataset_path : null,
      batch_size: batchSize,
      additional_request_params: metadata.additional_request_params ?? {},
    };
    const workloadDigest = digestOf(workload);
    workloads.set(workloadDigest, {
      workload_spec_digest: workloadDigest,
      kind: 'iteration',
      scenario: agg.scenario ?? null,
      task: metadata.task,
      tokenizer,
      model: metadata.api_model_name,
      protocol: metadata.api_backend,
      description: JSON.stringify(workload),
    });
    const concurrency = rateMode ? (metadata.max_concurrency ?? null) : agg.num_concurrency;
    const rate = rateMode ? level(data) : null;
    plan.push({ scenario: agg.scenario ?? null, concurrency, rate_rps: rate, batch_size: batchSize });

    const outcome: Columns = {};
    for (const [name, distribution] of Object.entries(DISTRIBUTIONS)) {
      const stat = agg.stats[name];
      if (!stat) continue;
      for (const s of STATS) outcome[`${distribution}_${s}`] = ms(stat[s], factor);
      outcome[`${distribution}_count`] = sampleCount(stat);
    }
    const finished = agg.num_completed_requests + agg.num_error_requests;
    const ttftCount = (outcome.ttft_ms_count as number | null | undefined) ?? agg.num_completed_requests;
    const maxRequests = metadata.max_requests_per_run ?? null;
    Object.assign(outcome, {
      iteration,
      workload_spec_digest: workloadDigest,
      scenario: agg.scenario ?? null,
      mode: rateMode ? 'rate' : 'concurrency',
      concurrency,
      rate_rps: rate,
      // genai-bench ends a run at --max-requests-per-run or --max-time-per-run, whichever comes first.
      ended_by: maxRequests !== null && agg.num_requests >= maxRequests ? 'max_requests' : 'max_time',
      duration_s: agg.run_duration,
      requests_measured: agg.num_requests,
      requests_completed: agg.num_completed_requests,
      requests_errored: agg.num_error_requests,
      // A closed loop sends when a user is free: no arrival can be dropped or late.
      dropped_arrivals: rateMode ? null : 0,
      late_arrivals: rateMode ? null : 0,
      error_rate: finished > 0 ? agg.num_error_requests / finished : (agg.error_rate ?? null),
      request_throughput_rps: agg.requests_per_second ?? null,
      output_throughput_tokens_per_s: agg.mean_output_throughput_tokens_per_s ?? null,
      input_throughput_tokens_per_s: agg.mean_input_throughput_tokens_per_s ?? null,
      total_token_throughput_tokens_per_s: agg.mean_total_tokens_throughput_tokens_per_s ?? null,
      low_samples: ttftCount > 0 && ttftCount < MIN_SAMPLES_FOR_P99,
    });
    outcomes.push(outcome);

    if (!data.individual_request_metrics) {
      hasRequests = false;
      return;
    }
    data.individual_request_metrics.forEach((r, i) => {
      const code = r.error_code ?? null;
      const failed = code !== null && code !== 0;
      requests.push({
        iteration,
        request_id: `${iteration}-${i}`,
        trace_id: null,
        phase: null,
        status: failed ? 'error' : 'ok',
        error_class: failed ? errorClass(code) : null,
        http_status: failed && code >= 100 && code <= 599 ? code : null,
        scheduled_at_us: null,
        sent_at_us: null,
        ttft_ms: failed ? null : ms(r.ttft, factor),
        tpot_ms: failed ? null : ms(r.tpot, factor),
        e2e_latency_ms: failed ? null : ms(r.e2e_latency, factor),
        client_queue_ms: null,
        itl_max_ms: null,
        input_tokens: r.num_input_tokens ?? null,
        output_tokens: r.num_output_tokens ?? null,
        chunks: null,
      });
    });
  });

  const pointDigests = outcomes.map((o) => o.workload_spec_digest as string);
  const workloadSpecDigest = digestOf(pointDigests);
  workloads.set(workloadSpecDigest, {
    workload_spec_digest: workloadSpecDigest,
    kind: 'run',
    task: metadata.task,
    model: metadata.api_model_name,
    protocol: metadata.api_backend,
    description: JSON.stringify(pointDigests),
  });
  const benchmarkCaseId = digestOf({
    source: 'genai-bench',
    model: metadata.api_model_name,
    backend: metadata.api_backend,
    task: metadata.task,
    additional_request_params: metadata.additional_request_params ?? {},
    max_requests_per_run: metadata.max_requests_per_run ?? null,
    max_time_per_run_s: metadata.max_time_per_run_s ?? null,
    plan,
    workload_spec_digest: workloadSpecDigest,
  });

  const folderName = basename(
    metadata.experiment_folder_name ?? metadata.experiment_folder_abs_path ?? folder,
  );
  const startedAt = compactStamp(/_(\d{8}_\d{6})$/.exec(folderName)?.[1] ?? '');
  const gpuCount =
    metadata.server_gpu_count == null ? null : Number.parseInt(String(metadata.server_gpu_count), 10);
  const baseUrl = /(?:^|\s)--api-base[=\s]+(\S+)/.exec(metadata.cmd ?? '')?.[1] ?? null;
  const engine = metadata.server_engine ?? null;
  return {
    source: 'genai-bench',
    root: folder,
    files,
    run: {
      benchmark_case_id: benchmarkCaseId,
      workload_spec_digest: workloadSpecDigest,
      intent: 'exploratory',
      status: 'complete',
      job_name: folderName,
      started_at: startedAt?.toISOString() ?? null,
      model: metadata.api_model_name,
      task: metadata.task,
      backend: metadata.api_backend,
      endpoint_base_url: baseUrl === null ? null : redactUrl(baseUrl),
      engine,
      engine_version: metadata.server_version ?? null,
      gpu_type: metadata.server_gpu_type ?? null,
      gpu_count: Number.isFinite(gpuCount) ? gpuCount : null,
      iterations_planned: runs.length,
      iterations_completed: runs.length,
    },
    software:
      engine || metadata.server_version
        ? { server_engine: engine, server_version: metadata.server_version ?? null }
        : null,
    hardware:
      metadata.server_gpu_type || Number.isFinite(gpuCount)
        ? {
            gpu_model: metadata.server_gpu_type ?? null,
            gpu_count: Number.isFinite(gpuCount) ? gpuCount : null,
          }
        : null,
    workloads: [...workloads.values()],
    outcomes,
    requests: hasRequests ? requests : null,
    notes: NOTES,
    notApplicable: rateMode ? [] : ['serving_outcome_fact.rate_rps'],
  };
}

function scenarioIndex(order: string[], scenario: string | null | undefined): number {
  const index = scenario == null ? -1 : order.indexOf(scenario);
  return index < 0 ? order.length : index;
}

/** ms per unit of the file's latencies. */
function timeFactor(unit: string, path: string): number {
  if (unit === 's') return 1000;
  if (unit === 'ms') return 1;
  throw badInput(path, `unknown metrics time unit "${unit}" (expected s or ms)`);
}

/** The samples a statistic was computed over: sum / mean (genai-bench keeps both; warmup-excluded). */
function sampleCount(stat: Stat): number | null {
  const { sum, mean } = stat;
  if (sum == null || mean == null || mean === 0 || !Number.isFinite(sum / mean)) return null;
  return Math.round(sum / mean);
}

function errorClass(code: number): string | null {
  if (code === 429) return 'http_429';
  if (code >= 400 && code < 500) return 'http_4xx';
  if (code >= 500 && code < 600) return 'http_5xx';
  return null;
}
