/**
 * The telemetry families infermark knows by name: what a serving engine, a GPU exporter
 * (dcgm-exporter), node-exporter, cAdvisor or kube-state-metrics calls the signals a
 * diagnosis needs, under one canonical name each. A scrape keeps every series it had
 * (the raw scrape is the evidence); these are the ones the warehouse files under a family
 * and the playbooks read. A family is part of the metric registry (definitions.ts): its
 * unit and direction are written here and nowhere else.
 */

/** Who exposes it: the serving engine, a GPU exporter, the node, or the cluster. */
export type TelemetryRole = 'server' | 'gpu' | 'node' | 'cluster';

/**
 * How a family's series is read over a window: a gauge by its time-weighted mean and max;
 * a counter by its rate per second over the window; a histogram by its mean (Δsum / Δcount).
 */
export type TelemetryKind = 'gauge' | 'counter' | 'histogram';

export interface TelemetryFamily {
  /** Canonical name (`kv_cache_usage`), the `family` column of telemetry_slice_fact. */
  name: string;
  role: TelemetryRole;
  kind: TelemetryKind;
  /** Of the value the warehouse keeps: a gauge's own unit, a counter's per second, a histogram's mean. */
  unit: string;
  direction: 'lower' | 'higher' | 'neutral';
  description: string;
  /**
   * Each exporter's spelling of the Prometheus family (histograms without `_sum`/`_count`,
   * counters with `_total` as exposed). The first match in a scrape wins.
   */
  spellings: Readonly<Record<string, readonly string[]>>;
  /** A gauge whose unit is a fraction 0..1 as exposed in percent (DCGM utilisation): divide by 100. */
  percent?: boolean;
}

const server = 'server' as const;
const gpu = 'gpu' as const;
const node = 'node' as const;
const cluster = 'cluster' as const;

export const TELEMETRY_FAMILIES = {
  requests_running: {
    name: 'requests_running',
    role: server,
    kind: 'gauge',
    unit: 'requests',
    direction: 'neutral',
    description: 'Requests in the running batch.',
    spellings: {
      vllm: ['vllm:num_requests_running'],
      sglang: ['sglang:num_running_reqs'],
      tgi: ['tgi_batch_current_size'],
      llamacpp: ['llamacpp:requests_processing'],
    },
  },
  requests_waiting: {
    name: 'requests_waiting',
    role: server,
    kind: 'gauge',
    unit: 'requests',
    direction: 'lower',
    description: 'Requests queued in the server, not yet admitted to the batch.',
    spellings: {
      vllm: ['vllm:num_requests_waiting'],
      sglang: ['sglang:num_queue_reqs'],
      tgi: ['tgi_queue_size'],
      llamacpp: ['llamacpp:requests_deferred'],
    },
  },
  kv_cache_usage: {
    name: 'kv_cache_usage',
    role: server,
    kind: 'gauge',
    unit: 'fraction',
    direction: 'lower',
    description: 'Share of the KV cache in use (1 = full).',
    spellings: {
      vllm: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
      sglang: ['sglang:token_usage'],
      llamacpp: ['llamacpp:kv_cache_usage_ratio'],
    },
  },
  preemptions: {
    name: 'preemptions',
    role: server,
    kind: 'counter',
    unit: 'per_s',
    direction: 'lower',
    description: 'Requests preempted (or retracted) for lack of KV cache, per second.',
    spellings: {
      vllm: ['vllm:num_preemptions_total', 'vllm:num_preemptions'],
      sglang: ['sglang:num_retracted_reqs_total', 'sglang:num_retracted_reqs'],
    },
  },
  server_queue_time: {
    name: 'server_queue_time',
    role: server,
    kind: 'histogram',
    unit: 's',
    direction: 'lower',
    description: 'Time a request waited in the server before it was scheduled (mean over the window).',
    spellings: {
      vllm: ['vllm:request_queue_time_seconds'],
      sglang: ['sglang:queue_time_seconds'],
      tgi: ['tgi_request_queue_duration'],
    },
  },
  server_prefill_time: {
    name: 'server_prefill_time',
    role: server,
    kind: 'histogram',
    unit: 's',
    direction: 'lower',
    description: 'Time a request spent in prefill, as the server measured it (mean over the window).',
    spellings: { vllm: ['vllm:request_prefill_time_seconds'] },
  },
  server_decode_time: {
    name: 'server_decode_time',
    role: server,
    kind: 'histogram',
    unit: 's',
    direction: 'lower',
    description: 'Time a request spent decoding, as the server measured it (mean over the window).',
    spellings: { vllm: ['vllm:request_decode_time_seconds'] },
  },
  server_ttft: {
    name: 'server_ttft',
    role: server,
    kind: 'histogram',
    unit: 's',
    direction: 'lower',
    description: 'Time to first token as the server measured it (mean over the window).',
    spellings: {
      vllm: ['vllm:time_to_first_token_seconds'],
      sglang: ['sglang:time_to_first_token_seconds'],
    },
  },
  server_itl: {
    name: 'server_itl',
    role: server,
    kind: 'histogram',
    unit: 's',
    direction: 'lower',
    description: 'Gap between output tokens as the server measured it (mean over the window).',
    spellings: {
      vllm: ['vllm:inter_token_latency_seconds', 'vllm:time_per_output_token_seconds'],
      sglang: ['sglang:inter_token_latency_seconds'],
      tgi: ['tgi_request_mean_time_per_token_duration'],
    },
  },
  server_e2e_latency: {
    name: 'server_e2e_latency',
    role: server,
    kind: 'histogram',
    unit: 's',
    direction: 'lower',
    description: 'End-to-end request latency as the server measured it (mean over the window).',
    spellings: {
      vllm: ['vllm:e2e_request_latency_seconds'],
      sglang: ['sglang:e2e_request_latency_seconds'],
      tgi: ['tgi_request_duration'],
    },
  },
  server_tpot: {
    name: 'server_tpot',
    role: server,
    kind: 'histogram',
    unit: 's',
    direction: 'lower',
    description:
      "Each request's mean time per output token as the server measured it (mean over the window).",
    spellings: { vllm: ['vllm:request_time_per_output_token_seconds'] },
  },
  server_requests_finished: {
    name: 'server_requests_finished',
    role: server,
    kind: 'counter',
    unit: 'per_s',
    direction: 'neutral',
    description:
      'Requests the engine finished, per second (vLLM: by finished_reason, aborted ones as `abort`).',
    spellings: { vllm: ['vllm:request_success_total'], tgi: ['tgi_request_success'] },
  },
  server_request_failures: {
    name: 'server_request_failures',
    role: server,
    kind: 'counter',
    unit: 'per_s',
    direction: 'lower',
    description: 'Requests the server failed, per second.',
    spellings: { tgi: ['tgi_request_failure'] },
  },
  prefix_cache_queries: {
    name: 'prefix_cache_queries',
    role: server,
    kind: 'counter',
    unit: 'tokens_per_s',
    direction: 'neutral',
    description: 'Prompt tokens looked up in the prefix cache, per second.',
    spellings: { vllm: ['vllm:prefix_cache_queries_total'] },
  },
  prefix_cache_hits: {
    name: 'prefix_cache_hits',
    role: server,
    kind: 'counter',
    unit: 'tokens_per_s',
    direction: 'higher',
    description: 'Prompt tokens found in the prefix cache, per second.',
    spellings: { vllm: ['vllm:prefix_cache_hits_total'] },
  },
  prefix_cache_hit_rate: {
    name: 'prefix_cache_hit_rate',
    role: server,
    kind: 'gauge',
    unit: 'fraction',
    direction: 'higher',
    description: 'Share of prompt tokens served from the prefix cache, as the engine reports it.',
    spellings: { vllm: ['vllm:gpu_prefix_cache_hit_rate'], sglang: ['sglang:cache_hit_rate'] },
  },
  gpu_utilization: {
    name: 'gpu_utilization',
    role: gpu,
    kind: 'gauge',
    unit: 'fraction',
    direction: 'neutral',
    description: 'Share of time the GPU was busy (DCGM reports percent; kept as 0..1).',
    spellings: { dcgm: ['DCGM_FI_DEV_GPU_UTIL'] },
    percent: true,
  },
  sm_clock: {
    name: 'sm_clock',
    role: gpu,
    kind: 'gauge',
    unit: 'MHz',
    direction: 'higher',
    description: 'SM clock.',
    spellings: { dcgm: ['DCGM_FI_DEV_SM_CLOCK'] },
  },
  gpu_power: {
    name: 'gpu_power',
    role: gpu,
    kind: 'gauge',
    unit: 'W',
    direction: 'neutral',
    description: 'Board power draw.',
    spellings: { dcgm: ['DCGM_FI_DEV_POWER_USAGE'] },
  },
  gpu_temperature: {
    name: 'gpu_temperature',
    role: gpu,
    kind: 'gauge',
    unit: 'C',
    direction: 'lower',
    description: 'GPU temperature.',
    spellings: { dcgm: ['DCGM_FI_DEV_GPU_TEMP'] },
  },
  gpu_memory_used: {
    name: 'gpu_memory_used',
    role: gpu,
    kind: 'gauge',
    unit: 'MiB',
    direction: 'neutral',
    description: 'Framebuffer memory in use.',
    spellings: { dcgm: ['DCGM_FI_DEV_FB_USED'] },
  },
  gpu_xid_errors: {
    name: 'gpu_xid_errors',
    role: gpu,
    kind: 'gauge',
    unit: 'xid',
    direction: 'lower',
    description: 'The last XID error the driver reported (0 = none).',
    spellings: { dcgm: ['DCGM_FI_DEV_XID_ERRORS'] },
  },
  gpu_clock_throttle_reasons: {
    name: 'gpu_clock_throttle_reasons',
    role: gpu,
    kind: 'gauge',
    unit: 'bitmask',
    direction: 'lower',
    description: 'Why the clocks are held down (a bitmask; 0 or 1 = not throttled, idle only).',
    spellings: { dcgm: ['DCGM_FI_DEV_CLOCKS_EVENT_REASONS', 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS'] },
  },
  gpu_pcie_replays: {
    name: 'gpu_pcie_replays',
    role: gpu,
    kind: 'counter',
    unit: 'per_s',
    direction: 'lower',
    description: 'PCIe replays (link retries), per second.',
    spellings: { dcgm: ['DCGM_FI_DEV_PCIE_REPLAY_COUNTER'] },
  },
  node_cpu_busy: {
    name: 'node_cpu_busy',
    role: node,
    kind: 'counter',
    unit: 'cpu_s_per_s',
    direction: 'neutral',
    description: 'CPU seconds spent outside idle per second (all cores; mode!="idle").',
    spellings: { node: ['node_cpu_seconds_total'] },
  },
  node_load1: {
    name: 'node_load1',
    role: node,
    kind: 'gauge',
    unit: 'tasks',
    direction: 'lower',
    description: 'One-minute load average.',
    spellings: { node: ['node_load1'] },
  },
  cpu_throttled_periods: {
    name: 'cpu_throttled_periods',
    role: cluster,
    kind: 'counter',
    unit: 'per_s',
    direction: 'lower',
    description: 'CFS periods in which a container was throttled, per second (cAdvisor).',
    spellings: { cadvisor: ['container_cpu_cfs_throttled_periods_total'] },
  },
  container_restarts: {
    name: 'container_restarts',
    role: cluster,
    kind: 'counter',
    unit: 'per_s',
    direction: 'lower',
    description:
      'Container restarts, per second (kube-state-metrics; any increase is a restart in the window).',
    spellings: { 'kube-state-metrics': ['kube_pod_container_status_restarts_total'] },
  },
} as const satisfies Record<string, TelemetryFamily>;

export type TelemetryFamilyName = keyof typeof TELEMETRY_FAMILIES;

/** Every family, in declaration order. */
export function listTelemetryFamilies(): TelemetryFamily[] {
  return Object.values(TELEMETRY_FAMILIES);
}

const BY_SPELLING: ReadonlyMap<string, TelemetryFamily> = new Map(
  listTelemetryFamilies().flatMap((family) =>
    Object.values(family.spellings).flatMap((names) => names.map((name) => [name, family] as const)),
  ),
);

/** The family a Prometheus family name (as exposed: `vllm:num_requests_running`) belongs to, if known. */
export function familyOfPrometheusName(name: string): TelemetryFamily | undefined {
  return BY_SPELLING.get(name);
}
