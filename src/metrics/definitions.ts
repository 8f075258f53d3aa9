/**
 * The metric registry: every metric infermark reports or gates, declared once, with
 * its unit, formula, direction and the peer tools that compute the same thing
 * (genai-bench's pattern), together with the telemetry families (telemetry-families.ts)
 * and which metrics the gate, the warehouse compare, the report and the dashboard
 * read. Those readers take units and directions from here and write none of their
 * own (registry-agreement.test.ts holds them to it). The metrics page
 * (docs/metrics.md) is generated from `metricsMarkdownTable()` and a test checks
 * that the iteration summary carries every metric declared here, so a name cannot
 * drift from its formula. Formulas are pinned in the design notes' METRICS.md;
 * change both together.
 */
import type { Distribution } from './percentiles.js';
import {
  listTelemetryFamilies,
  type TelemetryFamily,
  type TelemetryKind,
  type TelemetryRole,
} from './telemetry-families.js';

/**
 * `request`: one value per request (or per chunk gap), summarised as a distribution.
 * `iteration`: one value per iteration, a top-level field of the summary.
 * `point`: one value per point that the warehouse keeps beside those (serving_outcome_fact:
 * request counts, goodput attainment, cost), read from the summary's parts.
 */
export type MetricScope = 'request' | 'iteration' | 'point';

/** Whether a larger value is better (throughput), worse (latency), or neither (token counts). */
export type MetricDirection = 'lower' | 'higher' | 'neutral';

/** The directions a gate or a verdict can judge by: a neutral metric has none. */
export type BetterDirection = Exclude<MetricDirection, 'neutral'>;

export interface MetricDefinition {
  /** Canonical name, as in METRICS.md (`ttft`, `output_throughput`). */
  name: string;
  /**
   * Field name in the iteration summary, unit included (`ttft_ms`, `output_throughput_tokens_per_s`);
   * for a `point` metric, its serving_outcome_fact column.
   */
  field: string;
  scope: MetricScope;
  unit: string;
  direction: MetricDirection;
  /** One sentence for humans. */
  description: string;
  /** The formula, in terms of the request record's stamps (METRICS.md). */
  formula: string;
  /** Peer tools whose metric of this name (or the name given) is the same formula. */
  same_as: readonly string[];
  /** Reported only for open-loop iterations (rate, trace). */
  open_loop_only?: boolean;
}

const request = 'request' as const;
const iteration = 'iteration' as const;
const point = 'point' as const;

/**
 * Every metric, keyed by canonical name. Request-scope metrics appear in the
 * iteration summary as `distributions[field]`; iteration-scope ones as top-level fields.
 */
export const METRICS = {
  ttfb: {
    name: 'ttfb',
    field: 'ttfb_ms',
    scope: request,
    unit: 'ms',
    direction: 'lower',
    description: 'Time to first byte: until the response headers arrive.',
    formula: 'headers_at − sent_at',
    same_as: [],
  },
  ttft: {
    name: 'ttft',
    field: 'ttft_ms',
    scope: request,
    unit: 'ms',
    direction: 'lower',
    description:
      'Time to first token: until the first event carrying real content, reasoning included (role-only and empty deltas are not tokens). ' +
      'The clock starts when the connection is ready, so waiting for a pooled connection and opening a new one are excluded; each request records both (pool_wait_us, which includes connect_us). ' +
      'Per their source as of 2026, vLLM’s benchmark (vllm bench serve), AIPerf, inference-perf and genai-bench start the clock before their HTTP client gets a connection, so their TTFT includes both: compare theirs with ttft + pool_wait. ' +
      'genai-bench sends each request with requests.post, a new connection per request, so its TTFT always includes a TCP (and TLS) connect.',
    formula: 'first_token_at − sent_at',
    same_as: [
      'vLLM TTFT (+ pool wait)',
      'AIPerf TTFT (+ pool wait)',
      'genai-bench TTFT (+ connect)',
      'inference-perf TTFT (+ pool wait)',
    ],
  },
  ttfo: {
    name: 'ttfo',
    field: 'ttfo_ms',
    scope: request,
    unit: 'ms',
    direction: 'lower',
    description: 'Time to first output token: until the first non-reasoning content.',
    formula: 'first_output_at − sent_at',
    same_as: ['AIPerf TTFO', 'GuideLLM TTFOT'],
  },
  e2e_latency: {
    name: 'e2e_latency',
    field: 'e2e_latency_ms',
    scope: request,
    unit: 'ms',
    direction: 'lower',
    description: 'End-to-end latency: from sending the request to its last content-bearing event.',
    formula: 'last_token_at − sent_at',
    same_as: ['vLLM E2EL', 'AIPerf request latency'],
  },
  e2e_done: {
    name: 'e2e_done',
    field: 'e2e_done_ms',
    scope: request,
    unit: 'ms',
    direction: 'lower',
    description:
      'From sending the request to `[DONE]` or the end of the stream (includes a trailing usage chunk).',
    formula: 'done_at − sent_at',
    same_as: [],
  },
  client_queue: {
    name: 'client_queue',
    field: 'client_queue_ms',
    scope: request,
    unit: 'ms',
    direction: 'lower',
    description:
      'How late the client sent the request against its schedule; large values mean the client fell behind.',
    formula: 'sent_at − scheduled_at',
    same_as: ['vLLM client_queue_time'],
  },
  e2e_plus_queue: {
    name: 'e2e_plus_queue',
    field: 'e2e_plus_queue_ms',
    scope: request,
    unit: 'ms',
    direction: 'lower',
    description:
      'Latency seen from the intended arrival time, so a client falling behind cannot hide latency (coordinated omission).',
    formula: 'e2e_latency + client_queue = last_token_at − scheduled_at',
    same_as: [],
    open_loop_only: true,
  },
  tpot: {
    name: 'tpot',
    field: 'tpot_ms',
    scope: request,
    unit: 'ms',
    direction: 'lower',
    description:
      'Time per output token after the first; only requests with at least 2 output tokens that arrived in at least 2 events (non-streamed output shows no decoding).',
    formula: '(e2e_latency − ttft) / (output_tokens − 1), output_tokens ≥ 2',
    same_as: ['vLLM TPOT', 'genai-bench TPOT', 'AIPerf "ITL"', 'GuideLLM "ITL"'],
  },
  itl: {
    name: 'itl',
    field: 'itl_ms',
    scope: request,
    unit: 'ms',
    direction: 'lower',
    description:
      'Inter-token (inter-chunk) latency: every gap between consecutive content events, one sample per gap, pooled across requests.',
    formula: 'chunk_times[i+1] − chunk_times[i], all i, all completed requests',
    same_as: ['vLLM ITL', 'AIPerf ICL'],
  },
  tokens_per_chunk: {
    name: 'tokens_per_chunk',
    field: 'tokens_per_chunk',
    scope: request,
    unit: 'tokens',
    direction: 'neutral',
    description:
      'Tokens in each content event (above 1 with speculative decoding or server-side batching of deltas).',
    formula: 'chunk_tokens[i], all i, all completed requests',
    same_as: [],
  },
  decode_speed: {
    name: 'decode_speed',
    field: 'decode_speed_tokens_per_s',
    scope: request,
    unit: 'tokens/s',
    direction: 'higher',
    description: 'Per-user decode speed; undefined where tpot is undefined or 0.',
    formula: '1 / tpot',
    same_as: ['genai-bench output_inference_speed'],
  },
  output_tokens: {
    name: 'output_tokens',
    field: 'output_tokens',
    scope: request,
    unit: 'tokens',
    direction: 'neutral',
    description:
      'Generated tokens: the server’s usage.completion_tokens when given, else a tokenizer count of the text (source recorded).',
    formula: 'usage.completion_tokens ?? tokenizer(text)',
    same_as: ['vLLM', 'genai-bench', 'AIPerf (newer)'],
  },
  input_tokens: {
    name: 'input_tokens',
    field: 'input_tokens',
    scope: request,
    unit: 'tokens',
    direction: 'neutral',
    description:
      'Prompt tokens: the server’s usage.prompt_tokens when given, else the workload’s count (source recorded).',
    formula: 'usage.prompt_tokens ?? workload count',
    same_as: [],
  },
  duration: {
    name: 'duration',
    field: 'duration_s',
    scope: iteration,
    unit: 's',
    direction: 'neutral',
    description:
      'The measured window: from the first measured request sent to the last token received (the wall time is kept beside it).',
    formula: 'max(last_token_at) − min(sent_at), measured requests',
    same_as: [],
  },
  request_throughput: {
    name: 'request_throughput',
    field: 'request_throughput_rps',
    scope: iteration,
    unit: 'req/s',
    direction: 'higher',
    description:
      'Completed requests per second of the measured window; null (shown as —) when no measured request completed, never 0.',
    formula: 'completed / duration',
    same_as: [],
  },
  output_throughput: {
    name: 'output_throughput',
    field: 'output_throughput_tokens_per_s',
    scope: iteration,
    unit: 'tokens/s',
    direction: 'higher',
    description: 'Output tokens of completed requests per second of the measured window.',
    formula: 'Σ output_tokens (completed) / duration',
    same_as: [],
  },
  input_throughput: {
    name: 'input_throughput',
    field: 'input_throughput_tokens_per_s',
    scope: iteration,
    unit: 'tokens/s',
    direction: 'higher',
    description: 'Prompt tokens of completed requests per second of the measured window.',
    formula: 'Σ input_tokens (completed) / duration',
    same_as: [],
  },
  total_token_throughput: {
    name: 'total_token_throughput',
    field: 'total_token_throughput_tokens_per_s',
    scope: iteration,
    unit: 'tokens/s',
    direction: 'higher',
    description: 'Prompt plus output tokens of completed requests per second of the measured window.',
    formula: 'Σ (input_tokens + output_tokens) (completed) / duration',
    same_as: [],
  },
  goodput: {
    name: 'goodput',
    field: 'goodput_rps',
    scope: iteration,
    unit: 'req/s',
    direction: 'higher',
    description:
      'Completed requests meeting every SLO, per second. An SLO like p99_ttft_ms<=500 applies to each request as ttft_ms<=500; a request lacking the metric does not meet it; itl_ms must hold for every gap of the request. Each SLO is also checked as written, at its percentile (slo_checks: measured value, met / not met).',
    formula: 'completed requests meeting all SLOs / duration',
    same_as: [],
  },
  error_rate: {
    name: 'error_rate',
    field: 'error_rate',
    scope: iteration,
    unit: 'fraction',
    direction: 'lower',
    description:
      'Share of finished requests that failed, also broken down by error class; requests cancelled at the end are counted separately.',
    formula: 'errored / (completed + errored)',
    same_as: [],
  },
  peak_concurrency: {
    name: 'peak_concurrency',
    field: 'peak_concurrency',
    scope: iteration,
    unit: 'requests',
    direction: 'neutral',
    description: 'Most measured requests in flight at once (intervals [sent_at, done_at), by a sweep line).',
    formula: 'max over t of #{requests with sent_at ≤ t < done_at}',
    same_as: [],
  },
  peak_output_throughput: {
    name: 'peak_output_throughput',
    field: 'peak_output_throughput_tokens_per_s',
    scope: iteration,
    unit: 'tokens/s',
    direction: 'higher',
    description:
      'Most output tokens received in any 1-s bucket of the measured window (tokens placed at their chunk times).',
    formula: 'max over 1-s buckets from min(sent_at) of Σ tokens in the bucket / 1 s',
    same_as: [],
  },
  requests_measured: {
    name: 'requests_measured',
    field: 'requests_measured',
    scope: point,
    unit: 'requests',
    direction: 'neutral',
    description: 'Requests of the measured window (warmup excluded), whatever their outcome.',
    formula: 'requests.measured',
    same_as: [],
  },
  requests_completed: {
    name: 'requests_completed',
    field: 'requests_completed',
    scope: point,
    unit: 'requests',
    direction: 'neutral',
    description: 'Measured requests that completed.',
    formula: 'requests.completed',
    same_as: [],
  },
  requests_errored: {
    name: 'requests_errored',
    field: 'requests_errored',
    scope: point,
    unit: 'requests',
    direction: 'lower',
    description: 'Measured requests that failed (error_rate gives the share).',
    formula: 'requests.errored',
    same_as: [],
  },
  requests_cancelled: {
    name: 'requests_cancelled',
    field: 'requests_cancelled',
    scope: point,
    unit: 'requests',
    direction: 'neutral',
    description: 'Measured requests cancelled at the end of the iteration (not errors).',
    formula: 'requests.cancelled',
    same_as: [],
  },
  dropped_arrivals: {
    name: 'dropped_arrivals',
    field: 'dropped_arrivals',
    scope: point,
    unit: 'requests',
    direction: 'lower',
    description:
      'Open loop: arrivals that found no free slot and were not sent, so the offered load was not fully sent.',
    formula: 'requests.dropped_arrivals',
    same_as: ['k6 dropped_iterations'],
    open_loop_only: true,
  },
  late_arrivals: {
    name: 'late_arrivals',
    field: 'late_arrivals',
    scope: point,
    unit: 'requests',
    direction: 'lower',
    description: 'Open loop: arrivals sent later than their schedule by more than the engine’s tolerance.',
    formula: 'requests.late_arrivals',
    same_as: [],
    open_loop_only: true,
  },
  goodput_attainment: {
    name: 'goodput_attainment',
    field: 'goodput_attainment',
    scope: point,
    unit: 'fraction',
    direction: 'higher',
    description:
      'Share of finished requests that met every SLO (errors count as missed); null when the job has no SLOs.',
    formula: 'requests meeting all SLOs / (completed + errored)',
    same_as: [],
  },
  itl_jitter: {
    name: 'itl_jitter',
    field: 'itl_jitter_ms',
    scope: point,
    unit: 'ms',
    direction: 'lower',
    description: 'Spread of the pooled inter-token gaps.',
    formula: 'stddev(itl_ms), population',
    same_as: [],
  },
  queueing_delay_p99: {
    name: 'queueing_delay_p99',
    field: 'queueing_delay_p99_ms',
    scope: point,
    unit: 'ms',
    direction: 'lower',
    description: 'How late the client sent its requests, at the 99th percentile (client-side queueing).',
    formula: 'p99(client_queue)',
    same_as: [],
  },
  cost_per_request: {
    name: 'cost_per_request',
    field: 'cost_per_request_usd',
    scope: point,
    unit: 'USD',
    direction: 'lower',
    description: 'What one completed request cost at the deployment’s price per hour; null without a price.',
    formula: 'price_per_hour / 3600 / request_throughput',
    same_as: [],
  },
  cost_per_million_input_tokens: {
    name: 'cost_per_million_input_tokens',
    field: 'cost_per_million_input_tokens_usd',
    scope: point,
    unit: 'USD',
    direction: 'lower',
    description:
      'What a million prompt tokens cost at the deployment’s price per hour (the whole price over the input rate); null without a price.',
    formula: 'price_per_hour / 3600 / input_throughput × 10⁶',
    same_as: [],
  },
  cost_per_million_output_tokens: {
    name: 'cost_per_million_output_tokens',
    field: 'cost_per_million_output_tokens_usd',
    scope: point,
    unit: 'USD',
    direction: 'lower',
    description:
      'What a million output tokens cost at the deployment’s price per hour; null without a price.',
    formula: 'price_per_hour / 3600 / output_throughput × 10⁶',
    same_as: [],
  },
  prefix_hit_rate: {
    name: 'prefix_hit_rate',
    field: 'prefix_cache_hit_rate',
    scope: point,
    unit: 'fraction',
    direction: 'higher',
    description:
      'The share of prompt tokens the server served from its prefix cache: its own counters over the iteration where scraped, else Σ cached_tokens / Σ input_tokens of the records; null when neither says.',
    formula: 'Δ prefix_cache_hits / Δ prefix_cache_queries (server), else Σ cached_tokens / Σ input_tokens',
    same_as: ['vllm:prefix_cache_hits / vllm:prefix_cache_queries'],
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;

type ScopeOf<K extends MetricName> = (typeof METRICS)[K]['scope'];

/** Metrics summarised per iteration as distributions. */
export type RequestMetricName = {
  [K in MetricName]: ScopeOf<K> extends 'request' ? K : never;
}[MetricName];

/** Metrics that are one number per iteration, a top-level field of the summary. */
export type IterationMetricName = {
  [K in MetricName]: ScopeOf<K> extends 'iteration' ? K : never;
}[MetricName];

/** Metrics that are one number per point in the warehouse besides the summary's fields. */
export type PointMetricName = Exclude<MetricName, RequestMetricName | IterationMetricName>;

/** The statistics of a request metric's distribution (percentiles.ts), in the order it lists them. */
export const DISTRIBUTION_STATS = [
  'count',
  'mean',
  'stddev',
  'min',
  'max',
  'p50',
  'p90',
  'p95',
  'p99',
  'p99_9',
] as const satisfies readonly (keyof Distribution)[];
export type DistributionStat = (typeof DISTRIBUTION_STATS)[number];

/** The field of a request metric (`ttft_ms`): a distribution in the summary. */
export type DistributionField = (typeof METRICS)[RequestMetricName]['field'];
/** The field of a one-number metric (`error_rate`, `goodput_attainment`). */
export type ValueField = (typeof METRICS)[IterationMetricName | PointMetricName]['field'];

/**
 * A column of serving_outcome_fact (and of the report's points) that holds a metric:
 * a one-number metric by its field, a distribution's statistic as `<field>_<stat>` (`ttft_ms_p99`).
 */
export type OutcomeColumn = ValueField | `${DistributionField}_${DistributionStat}`;

/** Every definition, in declaration order. */
export function listMetrics(scope?: MetricScope): MetricDefinition[] {
  const all: MetricDefinition[] = Object.values(METRICS);
  return scope ? all.filter((m) => m.scope === scope) : all;
}

const BY_NAME: ReadonlyMap<string, MetricDefinition> = new Map(listMetrics().map((m) => [m.name, m]));
const BY_FIELD: ReadonlyMap<string, MetricDefinition> = new Map(listMetrics().map((m) => [m.field, m]));

/** The metric of a canonical name (`ttft`), if declared. */
export function metricByName(name: string): MetricDefinition | undefined {
  return BY_NAME.get(name);
}

/** The metric of a summary field or point column (`ttft_ms`, `goodput_attainment`), if declared. */
export function metricByField(field: string): MetricDefinition | undefined {
  return BY_FIELD.get(field);
}

/** A metric column resolved: its metric, the statistic it holds, and the statistic's unit and direction. */
export interface ColumnMetric {
  column: string;
  metric: MetricDefinition;
  /** The distribution's statistic, or `value` for a one-number metric. */
  stat: DistributionStat | 'value';
  unit: string;
  direction: MetricDirection;
}

/**
 * What a column (`ttft_ms_p99`, `error_rate`) holds, or undefined for a column that is not
 * a metric (`scenario`, `concurrency`). A statistic keeps its metric's unit and direction
 * (p99 of ttft_ms is ms, lower is better), except the count: how many samples, neutral.
 */
export function metricOfColumn(column: string): ColumnMetric | undefined {
  const value = BY_FIELD.get(column);
  if (value !== undefined && value.scope !== 'request') {
    return { column, metric: value, stat: 'value', unit: value.unit, direction: value.direction };
  }
  for (const stat of DISTRIBUTION_STATS) {
    const suffix = `_${stat}`;
    if (!column.endsWith(suffix)) continue;
    const metric = BY_FIELD.get(column.slice(0, -suffix.length));
    if (metric?.scope !== 'request') continue;
    return stat === 'count'
      ? { column, metric, stat, unit: 'samples', direction: 'neutral' }
      : { column, metric, stat, unit: metric.unit, direction: metric.direction };
  }
  return undefined;
}

/** The column of a metric's statistic: `ttft_ms` + `p99` → `ttft_ms_p99`; a one-number metric's is its field. */
export function metricColumn(field: string, stat: DistributionStat | 'value'): string {
  return stat === 'value' ? field : `${field}_${stat}`;
}

/** metricOfColumn for a column the caller knows to be a metric: an unknown one is a programming error. */
export function columnMetric(column: string): ColumnMetric {
  const found = metricOfColumn(column);
  if (!found) throw new Error(`"${column}" is not a metric column of the registry (metrics/definitions.ts)`);
  return found;
}

/** The direction a gate or verdict judges a column by; a neutral or unknown column is a programming error. */
export function betterDirection(column: string): BetterDirection {
  const { direction } = columnMetric(column);
  if (direction === 'neutral') throw new Error(`"${column}" is neutral: no value of it is better or worse`);
  return direction;
}

/**
 * What `infermark gate` gates, one key per statistic: these statistics of these
 * distributions (`<scenario>.<point>.ttft_ms.p99`), and these one-number metrics
 * (`<scenario>.<point>.error_rate.value`).
 */
export const GATED_DISTRIBUTIONS = [
  'ttft_ms',
  'tpot_ms',
  'itl_ms',
  'e2e_latency_ms',
] as const satisfies readonly DistributionField[];
export const GATED_STATS = ['p50', 'p90', 'p99', 'mean'] as const satisfies readonly DistributionStat[];
export const GATED_VALUES = [
  'output_throughput_tokens_per_s',
  'request_throughput_rps',
  'goodput_rps',
  'error_rate',
] as const satisfies readonly ValueField[];

/** What `warehouse compare` (and the report's deltas, and the dashboard's compare page) sets side by side, point by point. */
export const COMPARED_COLUMNS = [
  'ttft_ms_p50',
  'ttft_ms_p99',
  'tpot_ms_p50',
  'tpot_ms_p99',
  'itl_ms_p99',
  'e2e_latency_ms_p99',
  'output_throughput_tokens_per_s',
  'request_throughput_rps',
  'error_rate',
] as const satisfies readonly OutcomeColumn[];

/** The point metrics a report shows (the median over repeats for a run group), in its column order. */
export const REPORT_POINT_COLUMNS = [
  'requests_measured',
  'requests_completed',
  'requests_errored',
  'error_rate',
  'request_throughput_rps',
  'output_throughput_tokens_per_s',
  'goodput_rps',
  'goodput_attainment',
  'ttft_ms_p50',
  'ttft_ms_p99',
  'tpot_ms_p50',
  'tpot_ms_p99',
  'itl_ms_p50',
  'itl_ms_p99',
  'e2e_latency_ms_p50',
  'e2e_latency_ms_p99',
  'cost_per_request_usd',
  'cost_per_million_input_tokens_usd',
  'cost_per_million_output_tokens_usd',
] as const satisfies readonly OutcomeColumn[];

/**
 * The point columns the dashboard traces to their evidence: those the `serving_points`
 * named query also has (warehouse/queries.ts), so the number has lineage.
 */
export const TRACEABLE_COLUMNS = [
  'requests_completed',
  'error_rate',
  'ttft_ms_p50',
  'ttft_ms_p99',
  'tpot_ms_p50',
  'tpot_ms_p99',
  'itl_ms_p99',
  'e2e_latency_ms_p99',
  'output_throughput_tokens_per_s',
  'request_throughput_rps',
  'goodput_rps',
] as const satisfies readonly OutcomeColumn[];

/** What the registry says of every metric and telemetry family alike (the contracts JSON lists these). */
export interface RegistryEntry {
  name: string;
  /** A metric's summary field or point column; a telemetry family's name (telemetry_slice_fact's `family`). */
  field: string;
  scope: MetricScope | 'telemetry';
  unit: string;
  direction: MetricDirection;
  description: string;
  /** A metric's formula; for a telemetry family, how a window's value is read from its series. */
  formula: string;
  /** Peer tools computing the same; for a telemetry family, each exporter's spelling (`vllm: vllm:num_requests_running`). */
  same_as: readonly string[];
  open_loop_only?: boolean;
  /** Telemetry only: who exposes it, and what kind of Prometheus series it is. */
  role?: TelemetryRole;
  kind?: TelemetryKind;
}

/** How a window's value is read from a family's series (telemetry-families.ts, TelemetryKind). */
const TELEMETRY_READING: Readonly<Record<TelemetryKind, string>> = {
  gauge: 'time-weighted mean over the window (and its max)',
  counter: 'Δ counter / window length',
  histogram: 'Δ _sum / Δ _count over the window',
};

function telemetryEntry(family: TelemetryFamily): RegistryEntry {
  return {
    name: family.name,
    field: family.name,
    scope: 'telemetry',
    unit: family.unit,
    direction: family.direction,
    description: family.description,
    formula: `${TELEMETRY_READING[family.kind]}${family.percent ? ', exposed in percent: ÷ 100' : ''}`,
    same_as: Object.entries(family.spellings).flatMap(([exporter, names]) =>
      names.map((name) => `${exporter}: ${name}`),
    ),
    role: family.role,
    kind: family.kind,
  };
}

/** The whole registry: request, iteration and point metrics, then the telemetry families, in declaration order. */
export function registryEntries(): RegistryEntry[] {
  return [...listMetrics(), ...listTelemetryFamilies().map(telemetryEntry)];
}

const ENTRIES: ReadonlyMap<string, RegistryEntry> = new Map(
  registryEntries().flatMap((e) => [[e.field, e] as const, [e.name, e] as const]),
);

/** A metric by canonical name or field (`ttft`, `ttft_ms`), or a telemetry family by name (`kv_cache_usage`). */
export function registryEntry(name: string): RegistryEntry | undefined {
  return ENTRIES.get(name);
}

/**
 * The metrics page (docs/metrics.md): one Markdown table per scope and one of the
 * telemetry families, generated from the registry so the documentation cannot
 * disagree with the code.
 */
export function metricsMarkdownTable(): string {
  const escape = (text: string): string => text.replace(/\|/g, '\\|');
  const better = (direction: MetricDirection): string => (direction === 'neutral' ? '—' : direction);
  const table = (scope: MetricScope): string[] => {
    const rows = [
      '| metric | field | unit | better | formula | description | same as |',
      '|---|---|---|---|---|---|---|',
    ];
    for (const m of listMetrics(scope)) {
      const name = m.open_loop_only ? `\`${m.name}\` (open loop)` : `\`${m.name}\``;
      const same = m.same_as.length > 0 ? m.same_as.join(', ') : '—';
      rows.push(
        `| ${name} | \`${m.field}\` | ${m.unit} | ${better(m.direction)} | ${escape(m.formula)} | ${escape(m.description)} | ${escape(same)} |`,
      );
    }
    return rows;
  };
  const telemetry = [
    '| family | role | kind | unit | better | read as | description | spellings |',
    '|---|---|---|---|---|---|---|---|',
    ...registryEntries()
      .filter((e) => e.scope === 'telemetry')
      .map(
        (e) =>
          `| \`${e.name}\` | ${e.role ?? '—'} | ${e.kind ?? '—'} | ${e.unit} | ${better(e.direction)} | ${escape(e.formula)} | ${escape(e.description)} | ${escape(e.same_as.map((s) => `\`${s}\``).join(', '))} |`,
      ),
  ];
  return [
    '### Per-request metrics',
    '',
    'Summarised per iteration as count, mean, stddev (population), min, max and p50/p90/p95/p99/p99.9 (linear interpolation, numpy’s default). Latencies come from completed requests only. A statistic keeps its metric’s unit and direction (`ttft_ms_p99` is ms, lower is better), except the count (samples, neutral).',
    '',
    ...table('request'),
    '',
    '### Per-iteration metrics',
    '',
    'Measured window only: warmup requests are excluded (and counted).',
    '',
    ...table('iteration'),
    '',
    '### Per-point metrics (warehouse)',
    '',
    'One number per point in `serving_outcome_fact` besides the summary’s fields, read from its parts.',
    '',
    ...table('point'),
    '',
    '### Telemetry families',
    '',
    'Scraped from the Prometheus endpoints of `spec.telemetry` and kept per time window and scope in `telemetry_slice_fact` (`family` is the canonical name; a scrape keeps every series it had).',
    '',
    ...telemetry,
    '',
  ].join('\n');
}
