/**
 * Importer for vLLM's serving benchmark results: the JSON that
 * `benchmarks/benchmark_serving.py --save-result` and `vllm bench serve --save-result`
 * write (one object; with `--append-result`, one object per line, each a point of
 * the run). Summary statistics are taken as vLLM computed them (ms); the count,
 * min and max, and any statistic the file lacks, come from the per-request arrays
 * when the file has them (`--save-detailed`), computed as vLLM would (numpy's
 * linear percentiles, population stddev). Request rows come from `ttfts`, `itls`,
 * `input_lens`, `output_lens` and `errors` (seconds in the file, ms here).
 */
import { basename, dirname } from 'node:path';
import { z } from 'zod';
import { digestOf } from '../base/digest.js';
import { MIN_SAMPLES_FOR_P99 } from '../metrics/iteration-flags.js';
import { describe, type Distribution } from '../metrics/percentiles.js';
import {
  badInput,
  compactStamp,
  parsePythonJson,
  readInputFile,
  statInput,
  type ImportedRun,
} from './import-common.js';
import { parseWith } from '../spec/zod-issues.js';
import { type Columns } from './insert-rows.js';

const numbers = z.array(z.number().nullable());
const maybeNumber = z.number().nullable().optional();

/** The fields read; anything else (`--metadata KEY=VALUE` pairs, newer additions) passes through. */
const VllmResult = z.looseObject({
  date: z.string().optional(),
  backend: z.string().optional(),
  endpoint_type: z.string().optional(),
  label: z.string().nullable().optional(),
  model_id: z.string(),
  tokenizer_id: z.string().nullable().optional(),
  num_prompts: z.number().int().optional(),
  request_rate: z.union([z.number(), z.string()]).optional(),
  burstiness: maybeNumber,
  max_concurrency: z.number().int().nullable().optional(),
  ramp_up_strategy: z.string().nullable().optional(),
  duration: z.number(),
  completed: z.number().int(),
  failed: z.number().int().optional(),
  total_input_tokens: z.number().int().optional(),
  total_output_tokens: z.number().int().optional(),
  request_throughput: maybeNumber,
  request_goodput: maybeNumber,
  // benchmark_serving.py writes this key with a trailing colon.
  'request_goodput:': maybeNumber,
  output_throughput: maybeNumber,
  total_token_throughput: maybeNumber,
  input_lens: z.array(z.number().int()).optional(),
  output_lens: z.array(z.number().int()).optional(),
  ttfts: numbers.optional(),
  itls: z.array(z.array(z.number())).optional(),
  latencies: numbers.optional(),
  start_times: numbers.optional(),
  queue_times: numbers.optional(),
  errors: z.array(z.string().nullable()).optional(),
  spec_decode_acceptance_rate: maybeNumber,
  spec_decode_acceptance_length: maybeNumber,
  spec_decode_num_drafts: maybeNumber,
  spec_decode_draft_tokens: maybeNumber,
  spec_decode_accepted_tokens: maybeNumber,
});
type VllmResult = z.infer<typeof VllmResult>;

/** vLLM's metric names → the warehouse's distributions. */
const DISTRIBUTIONS: Record<string, string> = {
  ttft: 'ttft_ms',
  tpot: 'tpot_ms',
  itl: 'itl_ms',
  e2el: 'e2e_latency_ms',
  client_queue_time: 'client_queue_ms',
};
/** vLLM's statistic prefixes → the warehouse's statistic suffixes (other percentiles have no column). */
const STATS: Record<string, string> = {
  mean: 'mean',
  median: 'p50',
  std: 'stddev',
  p50: 'p50',
  p90: 'p90',
  p95: 'p95',
  p99: 'p99',
};
const STAT_NAMES = ['count', 'min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p95', 'p99'] as const;
const STAT_KEY = /^(mean|median|std|p\d+(?:\.\d+)?)_(.+)_ms$/;

/** `--metadata KEY=VALUE` keys read into the run's columns (vLLM records nothing of the server itself). */
const METADATA_COLUMNS = [
  'engine',
  'engine_version',
  'gpu_type',
  'gpu_count',
  'endpoint_base_url',
  'job_name',
  'job_namespace',
  'scheduler_path',
] as const;

/** `backend` values that name the server engine (the OpenAI-compatible ones do not). */
const ENGINE_BACKENDS = new Set([
  'vllm',
  'tgi',
  'lmdeploy',
  'deepspeed-mii',
  'tensorrt-llm',
  'scalellm',
  'sglang',
  'llama.cpp',
]);

const NOTES: Record<string, string> = {
  'benchmark_run_fact.endpoint_base_url':
    'the result does not record --base-url/--host (add --metadata endpoint_base_url=...)',
  'benchmark_run_fact.engine': 'the backend does not name the server engine (add --metadata engine=...)',
  'benchmark_run_fact.engine_version': 'the result does not record it (add --metadata engine_version=...)',
  'benchmark_run_fact.gpu_type': 'the result does not record it (add --metadata gpu_type=...)',
  'benchmark_run_fact.gpu_count': 'the result does not record it (add --metadata gpu_count=...)',
  'benchmark_run_fact.job_name': 'no --label given (or --metadata job_name=...)',
  'benchmark_run_fact.benchmark_case_id':
    'without per-request input lengths (--save-detailed) the workload cannot be identified',
  'benchmark_run_fact.workload_spec_digest':
    'without per-request input lengths (--save-detailed) the workload cannot be identified',
  'benchmark_run_fact.started_at': 'the result has no date',
  'serving_outcome_fact.benchmark_case_id':
    'without per-request input lengths (--save-detailed) the workload cannot be identified',
  'serving_outcome_fact.workload_spec_digest':
    'without per-request input lengths (--save-detailed) the workload cannot be identified',
  'serving_outcome_fact.scenario': 'the result does not record the dataset (--dataset-name) or its lengths',
  'serving_outcome_fact.late_arrivals': 'vLLM does not record how late an arrival was sent',
  'serving_outcome_fact.rate_rps':
    'request_rate was inf or ramped (--ramp-up-strategy): no single arrival rate',
  'serving_outcome_fact.goodput_rps': 'no --goodput SLOs were given',
  'serving_outcome_fact.goodput_attainment': 'no --goodput SLOs were given',
  'serving_outcome_fact.ttfb_ms_*': 'vLLM does not time the response headers',
  'serving_outcome_fact.client_queue_ms_*':
    'only `vllm bench serve --max-concurrency` records client queue times (queue_times)',
  'serving_outcome_fact.queueing_delay_p99_ms':
    'only `vllm bench serve --max-concurrency` records client queue times (queue_times)',
  'serving_outcome_fact.e2e_latency_ms_*':
    'e2el was not in --percentile-metrics and the file has no per-request latencies',
  'serving_outcome_fact.ttft_ms_count': 'the file has no per-request arrays (--save-detailed)',
  'serving_outcome_fact.ttft_ms_min': 'the file has no per-request arrays (--save-detailed)',
  'serving_outcome_fact.ttft_ms_max': 'the file has no per-request arrays (--save-detailed)',
  'serving_outcome_fact.tpot_ms_count': 'the file has no per-request arrays (--save-detailed)',
  'serving_outcome_fact.tpot_ms_min': 'the file has no per-request arrays (--save-detailed)',
  'serving_outcome_fact.tpot_ms_max': 'the file has no per-request arrays (--save-detailed)',
  'serving_outcome_fact.itl_ms_count': 'the file has no per-request arrays (--save-detailed)',
  'serving_outcome_fact.itl_ms_min': 'the file has no per-request arrays (--save-detailed)',
  'serving_outcome_fact.itl_ms_max': 'the file has no per-request arrays (--save-detailed)',
  'serving_outcome_fact.ttft_ms_p90':
    'not in --metric-percentiles and no per-request arrays (--save-detailed)',
  'serving_outcome_fact.ttft_ms_p95':
    'not in --metric-percentiles and no per-request arrays (--save-detailed)',
  'serving_outcome_fact.tpot_ms_p90':
    'not in --metric-percentiles and no per-request arrays (--save-detailed)',
  'serving_outcome_fact.tpot_ms_p95':
    'not in --metric-percentiles and no per-request arrays (--save-detailed)',
  'serving_outcome_fact.itl_ms_p90':
    'not in --metric-percentiles and no per-request arrays (--save-detailed)',
  'serving_outcome_fact.itl_ms_p95':
    'not in --metric-percentiles and no per-request arrays (--save-detailed)',
  request_fact: 'the file has no per-request arrays (ttfts, itls, ...: run with --save-detailed)',
  'request_fact.trace_id': 'vLLM sends no trace ids',
  'request_fact.error_class': 'vLLM keeps only the error text',
  'request_fact.http_status': 'vLLM keeps only the error text',
  'request_fact.scheduled_at_us': 'needs start_times and queue_times (`vllm bench serve --save-detailed`)',
  'request_fact.sent_at_us': 'needs start_times (`vllm bench serve --save-detailed`)',
  'request_fact.client_queue_ms': 'needs queue_times (`vllm bench serve --max-concurrency`)',
};

/** Notes where the file has per-request arrays but not `latencies` (benchmark_serving.py). */
const NO_LATENCIES_NOTES: Record<string, string> = {
  'serving_outcome_fact.tpot_ms_min': "vLLM's TPOT uses per-request latencies, which this file does not have",
  'serving_outcome_fact.tpot_ms_max': "vLLM's TPOT uses per-request latencies, which this file does not have",
  'serving_outcome_fact.e2e_latency_ms_min': 'the file has no per-request latencies',
  'serving_outcome_fact.e2e_latency_ms_max': 'the file has no per-request latencies',
};

/** Reads one vLLM result file (one object, or one per line). */
export async function readVllm(path: string): Promise<ImportedRun> {
  const { absolute, isDirectory } = await statInput(path);
  if (isDirectory) throw badInput(path, "expected vLLM's result JSON file (--save-result), not a folder");
  const { text, file } = await readInputFile(absolute, basename(absolute));
  const results = parseResults(text, path).map((value, i, all) =>
    parseWith(VllmResult, checkShape(value, path), all.length > 1 ? `${path} (line ${i + 1})` : path),
  );
  if (results.length === 0) throw badInput(path, 'empty file');

  const points = results.map((result, iteration) => readPoint(result, iteration, path));
  const first = results[0] as VllmResult;
  const metadata = metadataColumns(first);
  const backend = first.backend ?? first.endpoint_type ?? null;
  const engine = metadata.engine ?? (backend && ENGINE_BACKENDS.has(backend) ? backend : null);
  const task = backend && /embed|pool|rerank|score/i.test(backend) ? 'text-to-embeddings' : 'text-to-text';
  const tokenizer = first.tokenizer_id ?? first.model_id;

  // The workload is known when each point's prompt lengths are: then runs of the same command are one case.
  const known = points.every((p) => p.workload !== null);
  const workloads: Columns[] = [];
  let workloadSpecDigest: string | null = null;
  if (known) {
    for (const p of points) {
      workloads.push({
        workload_spec_digest: p.workloadDigest,
        kind: 'iteration',
        tokenizer,
        model: first.model_id,
        protocol: backend,
        description: JSON.stringify(p.workload),
      });
    }
    const list = points.map((p) => p.workloadDigest);
    workloadSpecDigest = digestOf(list);
    workloads.push({
      workload_spec_digest: workloadSpecDigest,
      kind: 'run',
      model: first.model_id,
      protocol: backend,
      description: JSON.stringify(list),
    });
  }
  const benchmarkCaseId = known
    ? digestOf({
        source: 'vllm',
        model: first.model_id,
        backend,
        task,
        plan: results.map((r) => ({
          num_prompts: r.num_prompts ?? null,
          request_rate: r.request_rate ?? null,
          burstiness: r.burstiness ?? null,
          max_concurrency: r.max_concurrency ?? null,
          ramp_up_strategy: r.ramp_up_strategy ?? null,
        })),
        workload_spec_digest: workloadSpecDigest,
      })
    : null;

  const starts = points.map((p) => p.startedAt).filter((d): d is Date => d !== null);
  const startedAt = starts.length ? new Date(Math.min(...starts.map((d) => d.getTime()))) : null;
  const gpuCount = metadata.gpu_count === undefined ? null : Number.parseInt(metadata.gpu_count, 10);
  const notApplicable = new Set<string>();
  for (const p of points) for (const field of p.notApplicable) notApplicable.add(field);
  // A field is not applicable only when it is so at every point.
  for (const field of [...notApplicable])
    if (!points.every((p) => p.notApplicable.includes(field))) notApplicable.delete(field);

  return {
    source: 'vllm',
    root: dirname(absolute),
    files: [file],
    run: {
      benchmark_case_id: benchmarkCaseId,
      workload_spec_digest: workloadSpecDigest,
      intent: 'exploratory',
      status: 'complete',
      job_name: first.label ?? metadata.job_name ?? null,
      job_namespace: metadata.job_namespace ?? null,
      started_at: startedAt?.toISOString() ?? null,
      model: first.model_id,
      task,
      backend,
      endpoint_base_url: metadata.endpoint_base_url ?? null,
      engine,
      engine_version: metadata.engine_version ?? null,
      gpu_type: metadata.gpu_type ?? null,
      gpu_count: Number.isFinite(gpuCount) ? gpuCount : null,
      scheduler_path: metadata.scheduler_path ?? null,
      iterations_planned: results.length,
      iterations_completed: results.length,
    },
    software:
      engine || metadata.engine_version
        ? { server_engine: engine, server_version: metadata.engine_version }
        : null,
    hardware:
      metadata.gpu_type || Number.isFinite(gpuCount)
        ? { gpu_model: metadata.gpu_type ?? null, gpu_count: Number.isFinite(gpuCount) ? gpuCount : null }
        : null,
    workloads,
    outcomes: points.map((p) => ({
      ...p.outcome,
      benchmark_case_id: benchmarkCaseId,
      workload_spec_digest: p.workloadDigest,
    })),
    requests: points.every((p) => p.requests !== null) ? points.flatMap((p) => p.requests ?? []) : null,
    telemetry: points.flatMap((p) => p.telemetry),
    notes: results.some((r) => r.ttfts && !r.latencies) ? { ...NOTES, ...NO_LATENCIES_NOTES } : NOTES,
    notApplicable: [...notApplicable],
  };
}

/** One JSON object, or (`--append-result`) one per line. */
function parseResults(text: string, file: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    return [parsePythonJson(trimmed, file)];
  } catch (error) {
    const lines = trimmed.split(/\r?\n/).filter((line) => line.trim() !== '');
    // One object per line, or else one object that is not valid JSON: say so about the whole.
    if (lines.length < 2 || !lines.every((line) => line.trimStart().startsWith('{'))) throw error;
    return lines.map((line, i) => parsePythonJson(line, `${file} (line ${i + 1})`));
  }
}

/** A clear error for a file of another kind, before field-by-field validation. */
function checkShape(value: unknown, file: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw badInput(file, 'expected vLLM\'s result object ({"duration": ..., "completed": ..., ...})');
  const object = value as Record<string, unknown>;
  if ('aggregated_metrics' in object)
    throw badInput(
      file,
      'this is a genai-bench run file, not a vLLM result (use --from genai-bench on its folder)',
    );
  if (object.format === 'infermark-generic/v1')
    throw badInput(file, 'this is an infermark-generic/v1 file, not a vLLM result (use --from generic)');
  if (!('duration' in object) || !('completed' in object) || !('model_id' in object))
    throw badInput(
      file,
      'not a vLLM serving benchmark result: expected the fields duration, completed and model_id (benchmark_serving.py / vllm bench serve --save-result)',
    );
  return value;
}

function metadataColumns(result: VllmResult): Partial<Record<(typeof METADATA_COLUMNS)[number], string>> {
  const out: Partial<Record<(typeof METADATA_COLUMNS)[number], string>> = {};
  for (const key of METADATA_COLUMNS) {
    const value = (result as Record<string, unknown>)[key];
    if (typeof value === 'string' && value !== '') out[key] = value;
    else if (typeof value === 'number') out[key] = String(value);
  }
  return out;
}

interface Point {
  outcome: Columns;
  requests: Columns[] | null;
  telemetry: Columns[];
  workload: Record<string, unknown> | null;
  workloadDigest: string | null;
  startedAt: Date | null;
  notApplicable: string[];
}

interface PerRequest {
  n: number;
  ok: boolean[];
  ttftMs: (number | null)[] | null;
  e2eMs: (number | null)[] | null;
  tpotMs: (number | null)[] | null;
  itlMs: number[][] | null;
  queueMs: (number | null)[] | null;
}

function readPoint(r: VllmResult, iteration: number, file: string): Point {
  const per = perRequest(r, file);
  const ok = (i: number): boolean => per?.ok[i] ?? false;
  const collect = (values: (number | null)[] | null): number[] | null =>
    values === null ? null : values.filter((v, i): v is number => v !== null && ok(i));
  // Exact: the samples vLLM's own statistics were computed from. Without `latencies`, E2E (and the
  // TPOT built on it) is ttft + Σ itl per request: the last token's time, not vLLM's end of stream.
  const exactLatency = r.latencies !== undefined;
  const computed: Record<string, { d: Distribution | null; exact: boolean }> = {
    ttft_ms: { d: per ? describeOrNull(collect(per.ttftMs)) : null, exact: true },
    tpot_ms: { d: per ? describeOrNull(collect(per.tpotMs)) : null, exact: exactLatency },
    itl_ms: { d: per?.itlMs ? describe(per.itlMs.filter((_, i) => ok(i)).flat()) : null, exact: true },
    e2e_latency_ms: { d: per ? describeOrNull(collect(per.e2eMs)) : null, exact: exactLatency },
    client_queue_ms: { d: per ? describeOrNull(collect(per.queueMs)) : null, exact: true },
  };

  const outcome: Columns = {};
  // The file's own statistics first (the published numbers), then what the arrays give.
  for (const [key, value] of Object.entries(r)) {
    const m = STAT_KEY.exec(key);
    if (!m || typeof value !== 'number') continue;
    const distribution = DISTRIBUTIONS[m[2] as string];
    const stat = STATS[m[1] as string];
    if (distribution && stat && outcome[`${distribution}_${stat}`] === undefined)
      outcome[`${distribution}_${stat}`] = value;
  }
  for (const [distribution, { d, exact }] of Object.entries(computed)) {
    if (!d || d.count === 0) continue;
    const published = Object.keys(outcome).some((key) => key.startsWith(`${distribution}_`));
    // Statistics of other samples than the published ones would not fit beside them (a max below the p99).
    const stats = exact || !published ? STAT_NAMES : (['count'] as const);
    for (const stat of stats) outcome[`${distribution}_${stat}`] ??= d[stat];
  }

  const measured = per?.n ?? r.num_prompts ?? null;
  const errored =
    r.failed ?? (per ? per.ok.filter((x) => !x).length : measured === null ? null : measured - r.completed);
  const finished = errored === null ? null : r.completed + errored;
  const goodput = r.request_goodput ?? r['request_goodput:'] ?? null;
  const rate = typeof r.request_rate === 'number' ? r.request_rate : null;
  const concurrency = r.max_concurrency ?? null;
  const closedLoop = rate === null && concurrency !== null && !r.ramp_up_strategy;
  const notApplicable = closedLoop ? ['serving_outcome_fact.rate_rps'] : [];
  if (!closedLoop && concurrency === null) notApplicable.push('serving_outcome_fact.concurrency');
  const ttftCount = (outcome.ttft_ms_count as number | undefined) ?? r.completed;

  Object.assign(outcome, {
    iteration,
    scenario: null,
    mode: closedLoop ? 'concurrency' : 'rate',
    concurrency,
    rate_rps: rate,
    // vLLM sends every prompt and waits for all of them: nothing is cancelled or dropped.
    ended_by: 'max_requests',
    duration_s: r.duration,
    requests_measured: measured,
    requests_completed: r.completed,
    requests_errored: errored,
    requests_cancelled: 0,
    dropped_arrivals: 0,
    late_arrivals: null,
    error_rate: finished ? (errored as number) / finished : null,
    request_throughput_rps: r.request_throughput ?? null,
    output_throughput_tokens_per_s: r.output_throughput ?? null,
    input_throughput_tokens_per_s:
      r.total_input_tokens !== undefined && r.duration > 0 ? r.total_input_tokens / r.duration : null,
    total_token_throughput_tokens_per_s: r.total_token_throughput ?? null,
    goodput_rps: goodput,
    goodput_attainment: goodput !== null && finished ? (goodput * r.duration) / finished : null,
    itl_jitter_ms: outcome.itl_ms_stddev ?? null,
    queueing_delay_p99_ms: outcome.client_queue_ms_p99 ?? null,
    low_samples: ttftCount > 0 && ttftCount < MIN_SAMPLES_FOR_P99,
  });

  const telemetry: Columns[] = [];
  const spec: [keyof VllmResult, string][] = [
    ['spec_decode_acceptance_rate', '%'],
    ['spec_decode_acceptance_length', 'tokens'],
    ['spec_decode_num_drafts', 'count'],
    ['spec_decode_draft_tokens', 'tokens'],
    ['spec_decode_accepted_tokens', 'tokens'],
  ];
  for (const [metric, unit] of spec) {
    const value = r[metric];
    if (typeof value === 'number')
      telemetry.push({ scope: 'iteration', scope_id: String(iteration), metric, value, unit });
  }

  let workload: Record<string, unknown> | null = null;
  if (r.input_lens) {
    let total = 0;
    for (const n of r.input_lens) total += n;
    workload = {
      source: 'vllm',
      tokenizer: r.tokenizer_id ?? r.model_id,
      num_prompts: r.num_prompts ?? r.input_lens.length,
      input_tokens: {
        count: r.input_lens.length,
        total,
        min: Math.min(...r.input_lens),
        max: Math.max(...r.input_lens),
      },
      input_lens_digest: digestOf(r.input_lens),
    };
  }
  const stamp = r.date ? compactStamp(r.date) : null;
  return {
    outcome,
    requests: per && per.ttftMs ? requestRows(r, per, iteration) : null,
    telemetry,
    workload,
    workloadDigest: workload ? digestOf(workload) : null,
    // `date` is taken when the run ends (local clock, no zone: read as UTC).
    startedAt: stamp ? new Date(stamp.getTime() - r.duration * 1000) : null,
    notApplicable,
  };
}

function describeOrNull(values: number[] | null): Distribution | null {
  return values === null ? null : describe(values);
}

/** The per-request arrays, checked to agree in length, in ms; null when the file has none. */
function perRequest(r: VllmResult, file: string): PerRequest | null {
  const arrays: [string, unknown[] | undefined][] = [
    ['ttfts', r.ttfts],
    ['itls', r.itls],
    ['input_lens', r.input_lens],
    ['output_lens', r.output_lens],
    ['errors', r.errors],
    ['latencies', r.latencies],
    ['start_times', r.start_times],
    ['queue_times', r.queue_times],
  ];
  const present = arrays.filter((a): a is [string, unknown[]] => Array.isArray(a[1]));
  if (present.length === 0) return null;
  const n = (present[0] as [string, unknown[]])[1].length;
  const odd = present.filter(([, values]) => values.length !== n);
  if (odd.length > 0)
    throw badInput(
      file,
      `per-request arrays differ in length: ${present.map(([name, values]) => `${name} ${values.length}`).join(', ')}`,
    );
  const ok = Array.from({ length: n }, (_, i) => {
    if (r.errors) return !r.errors[i];
    if (r.output_lens && r.ttfts) return (r.output_lens[i] ?? 0) > 0 || (r.ttfts[i] ?? 0) > 0;
    if (r.latencies) return (r.latencies[i] ?? 0) > 0;
    return true;
  });
  const ttftMs = r.ttfts ? r.ttfts.map((s) => (s === null ? null : s * 1000)) : null;
  const itlMs = r.itls ? r.itls.map((gaps) => gaps.map((s) => s * 1000)) : null;
  // E2E as vLLM measured it (latencies), else the first token plus every gap after it.
  const e2eMs = r.latencies
    ? r.latencies.map((s) => (s === null ? null : s * 1000))
    : ttftMs && itlMs
      ? ttftMs.map((t, i) => (t === null ? null : t + (itlMs[i] ?? []).reduce((a, b) => a + b, 0)))
      : null;
  const tpotMs =
    ttftMs && e2eMs && r.output_lens
      ? ttftMs.map((t, i) => {
          const out = (r.output_lens as number[])[i] ?? 0;
          const e2e = e2eMs[i];
          return t === null || e2e === null || e2e === undefined || out < 2 ? null : (e2e - t) / (out - 1);
        })
      : null;
  const queueMs = r.queue_times ? r.queue_times.map((s) => (s === null ? null : s * 1000)) : null;
  return { n, ok, ttftMs, e2eMs, tpotMs, itlMs, queueMs };
}

function requestRows(r: VllmResult, per: PerRequest, iteration: number): Columns[] {
  // Times relative to the earliest arrival (start_times are perf_counter readings).
  let origin = Infinity;
  if (r.start_times) {
    r.start_times.forEach((s, i) => {
      if (s !== null) origin = Math.min(origin, s - (r.queue_times?.[i] ?? 0));
    });
  }
  const us = (s: number | null | undefined): number | null =>
    s === null || s === undefined || !Number.isFinite(origin) ? null : Math.round((s - origin) * 1e6);
  const rows: Columns[] = [];
  for (let i = 0; i < per.n; i++) {
    const ok = per.ok[i] as boolean;
    const gaps = per.itlMs?.[i] ?? [];
    const start = r.start_times?.[i] ?? null;
    const queue = r.queue_times?.[i] ?? null;
    rows.push({
      iteration,
      request_id: `${iteration}-${i}`,
      trace_id: null,
      phase: 'measured',
      status: ok ? 'ok' : 'error',
      error_class: null,
      http_status: null,
      scheduled_at_us: start === null ? null : us(start - (queue ?? 0)),
      sent_at_us: us(start),
      ttft_ms: ok ? (per.ttftMs?.[i] ?? null) : null,
      tpot_ms: ok ? (per.tpotMs?.[i] ?? null) : null,
      e2e_latency_ms: ok ? (per.e2eMs?.[i] ?? null) : null,
      client_queue_ms: per.queueMs?.[i] ?? null,
      itl_max_ms: ok && gaps.length > 0 ? Math.max(...gaps) : null,
      input_tokens: r.input_lens?.[i] ?? null,
      output_tokens: r.output_lens?.[i] ?? null,
      chunks: ok && per.itlMs ? gaps.length + 1 : null,
    });
  }
  return rows;
}
