/**
 * The metric registry: every metric infermark reports, declared once, with its
 * unit, formula, direction and the peer tools that compute the same thing
 * (genai-bench's pattern). The metrics page (docs/metrics.md) is generated from
 * `metricsMarkdownTable()` and a test checks that the iteration summary carries
 * every metric declared here, so a name cannot drift from its formula.
 * Formulas are pinned in the design notes' METRICS.md; change both together.
 */

/** `request`: one value per request (or per chunk gap), summarised as a distribution. `iteration`: one value per iteration. */
export type MetricScope = 'request' | 'iteration';

/** Whether a larger value is better (throughput), worse (latency), or neither (token counts). */
export type MetricDirection = 'lower' | 'higher' | 'neutral';

export interface MetricDefinition {
  /** Canonical name, as in METRICS.md (`ttft`, `output_throughput`). */
  name: string;
  /** Field name in the iteration summary, unit included (`ttft_ms`, `output_throughput_tokens_per_s`). */
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
    unit: 'ratio',
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
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;

/** Metrics summarised per iteration as distributions. */
export type RequestMetricName = {
  [K in MetricName]: (typeof METRICS)[K]['scope'] extends 'request' ? K : never;
}[MetricName];

/** Metrics that are one number per iteration. */
export type IterationMetricName = Exclude<MetricName, RequestMetricName>;

/** Every definition, in declaration order. */
export function listMetrics(scope?: MetricScope): MetricDefinition[] {
  const all: MetricDefinition[] = Object.values(METRICS);
  return scope ? all.filter((m) => m.scope === scope) : all;
}

/**
 * The metrics page (docs/metrics.md): one Markdown table per scope, generated from
 * the registry so the documentation cannot disagree with the code.
 */
export function metricsMarkdownTable(): string {
  const escape = (text: string): string => text.replace(/\|/g, '\\|');
  const table = (scope: MetricScope): string[] => {
    const rows = [
      '| metric | field | unit | better | formula | description | same as |',
      '|---|---|---|---|---|---|---|',
    ];
    for (const m of listMetrics(scope)) {
      const name = m.open_loop_only ? `\`${m.name}\` (open loop)` : `\`${m.name}\``;
      const same = m.same_as.length > 0 ? m.same_as.join(', ') : '—';
      const better = m.direction === 'neutral' ? '—' : m.direction;
      rows.push(
        `| ${name} | \`${m.field}\` | ${m.unit} | ${better} | ${escape(m.formula)} | ${escape(m.description)} | ${escape(same)} |`,
      );
    }
    return rows;
  };
  return [
    '### Per-request metrics',
    '',
    'Summarised per iteration as count, mean, stddev (population), min, max and p50/p90/p95/p99/p99.9 (linear interpolation, numpy’s default). Latencies come from completed requests only.',
    '',
    ...table('request'),
    '',
    '### Per-iteration metrics',
    '',
    'Measured window only: warmup requests are excluded (and counted).',
    '',
    ...table('iteration'),
    '',
  ].join('\n');
}
