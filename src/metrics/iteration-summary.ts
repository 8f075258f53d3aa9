/**
 * The shape of one iteration's summary (summary.json in each iteration folder) and of
 * what the engine tells the aggregation besides the records. Plain JSON types only:
 * aggregate.ts computes them, the warehouse, gate, report and progress read them.
 */
import type { GoodputSummary, SloCheck } from './goodput.js';
import type { Distribution } from './percentiles.js';
import type { ErrorCounts } from './request-outcomes.js';

export type { ErrorCounts } from './request-outcomes.js';
export type { GoodputSummary } from './goodput.js';

/** Version of the IterationSummary layout; bump when a field changes meaning. */
export const ITERATION_SUMMARY_SCHEMA_VERSION = 1;

export type IterationMode = 'concurrency' | 'rate' | 'trace';

/** `fail_fast`: the iteration's first measured requests all failed alike, so the run stopped (engine/fail-fast.ts). */
export type IterationEndReason = 'max_requests' | 'max_time' | 'trace_end' | 'interrupted' | 'fail_fast';

/** What the engine knows about an iteration besides its records. */
export interface IterationInfo {
  /** Index of the iteration in the plan. */
  iteration: number;
  /** The traffic scenario as written (`D(100,100)`). */
  scenario: string;
  mode: IterationMode;
  /** Closed loop: the number of concurrent users. */
  concurrency?: number;
  /** Open loop: the target arrival rate. */
  rate_rps?: number;
  /** Wall time of the iteration, warmup included, as the engine measured it. */
  wall_s: number;
  /** Requests the plan asked for (maxRequests, or the trace length). */
  planned_requests?: number;
  /** Open loop: arrivals that found no free slot and were not sent (k6's dropped iterations). */
  dropped_arrivals?: number;
  /** Open loop: arrivals sent later than their schedule by more than the engine's tolerance. */
  late_arrivals?: number;
  /** Warmup requests the engine ran (records with phase `warmup` are counted too; the larger wins). */
  warmup_requests: number;
  /** The client's event-loop delay (lateness beyond the timer period) during the measured window. */
  event_loop_delay?: { p99_ms: number; max_ms: number };
  ended_by: IterationEndReason;
  /** Multi-turn: measured conversations started, completed and cut, as the engine counted them. */
  conversations?: { started: number; completed: number; cut: number };
}

/** Distributions of every per-request metric, over completed measured requests. */
export interface IterationDistributions {
  ttfb_ms: Distribution;
  ttft_ms: Distribution;
  ttfo_ms: Distribution;
  e2e_latency_ms: Distribution;
  e2e_done_ms: Distribution;
  client_queue_ms: Distribution;
  /** Open loop only (rate, trace); null for closed loop. */
  e2e_plus_queue_ms: Distribution | null;
  tpot_ms: Distribution;
  /** Pooled: every gap of every completed request. */
  itl_ms: Distribution;
  tokens_per_chunk: Distribution;
  decode_speed_tokens_per_s: Distribution;
  output_tokens: Distribution;
  input_tokens: Distribution;
}

/** Reasons to distrust some figures of the iteration. */
export interface IterationFlags {
  /** Some latency p99 came from fewer than MIN_SAMPLES_FOR_P99 samples. */
  low_samples: boolean;
  /** Distribution fields (`ttft_ms`, ...) whose p99 came from 1..369 samples. */
  low_sample_metrics: string[];
  /** The client's event-loop p99 delay exceeded `event_loop.threshold_ms`. */
  event_loop_flag: boolean;
  event_loop: { p99_ms: number; max_ms: number; threshold_ms: number } | null;
  /** Open loop: some arrivals were dropped (the offered load was not fully sent). */
  dropped_arrivals: boolean;
}

/**
 * One iteration's summary (plain JSON). Throughputs are null when no measured request
 * completed: a rate of 0 would read as a measurement of a server that did nothing.
 */
export interface IterationSummary {
  schema_version: number;
  iteration: number;
  scenario: string;
  mode: IterationMode;
  concurrency: number | null;
  rate_rps: number | null;
  ended_by: IterationEndReason;
  /**
   * A shard's own iteration (see docs/shards.md): its part, and when it started and ended on
   * its process's clock (µs), so a merge aligns it. Absent unless the run was split.
   */
  shard?: {
    index: number;
    of: number;
    started_at_us: number;
    ended_at_us: number;
    /** The coordinator ended this shard's iteration (`ended_by` fail_fast) because shard `ended_by_shard` failed fast. */
    ended_by_shard?: number;
  };
  /**
   * A merged iteration: how many shards sent it and which were lost (failed or stopped, with
   * why); with any lost the iteration is incomplete. `failed_fast` names the shards whose own
   * first measured requests all failed alike (the coordinator then ended the others'
   * iteration); absent when none did. Absent unless the run was split.
   */
  shards?: {
    of: number;
    lost: { index: number; reason: string }[];
    failed_fast?: { index: number; reason: string }[];
  };
  /** Engine's wall time for the iteration (warmup included). */
  wall_s: number;
  /** max(last_token_at) − min(sent_at) over measured requests; null without measured requests. */
  duration_s: number | null;
  /** How `duration_s` was taken: `last_token` as specified, `done` when no request produced a token. */
  duration_basis: 'last_token' | 'done' | null;
  requests: {
    /** Records given, warmup included. */
    total: number;
    warmup: number;
    measured: number;
    completed: number;
    errored: number;
    /** Cancelled at the end of the iteration (not errors). */
    cancelled: number;
    errors_by_class: ErrorCounts;
    planned: number | null;
    dropped_arrivals: number;
    late_arrivals: number;
  };
  request_throughput_rps: number | null;
  output_throughput_tokens_per_s: number | null;
  input_throughput_tokens_per_s: number | null;
  total_token_throughput_tokens_per_s: number | null;
  /** Null when the job has no SLOs. */
  goodput_rps: number | null;
  /** errored / (completed + errored); null when nothing finished. */
  error_rate: number | null;
  /** Same denominator, per class; the classes sum to `error_rate`. */
  error_rate_by_class: ErrorCounts | null;
  peak_concurrency: number;
  peak_output_throughput_tokens_per_s: number | null;
  tokens: {
    /** Σ output_tokens of completed requests. */
    output_total: number;
    /** Σ input_tokens of completed requests. */
    input_total: number;
    /** Σ reasoning_tokens of completed requests that report them. */
    reasoning_total: number;
    /** Completed requests by where their output count came from. */
    output_tokens_source: { server: number; tokenizer: number };
    input_tokens_source: { server: number; workload: number };
  };
  distributions: IterationDistributions;
  goodput: GoodputSummary | null;
  /**
   * Each SLO as written: the measured percentile against its target, met or not
   * (goodput applies the same SLOs per request). Null when the job has no SLOs.
   */
  slo_checks: SloCheck[] | null;
  flags: IterationFlags;
  /** Human-readable notes for the flags and anything unusual. */
  warnings: string[];
  /**
   * Prefix caching as the records tell it: completed measured requests by the server's cache
   * state (`hit`: some prompt tokens cached; `miss`: none; `unknown`: the server did not say),
   * with their TTFT. Absent when no request carried a prefix group or cached-token count.
   */
  prefix_cache?: PrefixCacheSummary;
  /** Multi-turn: each turn index's figures, turn 0 first. Absent outside multi-turn workloads. */
  per_turn?: TurnSummary[];
  /** Multi-turn: conversations started, finished whole, and cut (a turn failed or the iteration ended). */
  conversations?: { started: number; completed: number; cut: number };
}

export type CacheState = 'hit' | 'miss' | 'unknown';

export interface PrefixCacheSummary {
  /** Σ cached_tokens over Σ input_tokens of completed measured requests that report them; null when none do. */
  token_hit_rate: number | null;
  cached_tokens_total: number;
  by_state: { state: CacheState; requests: number; ttft_ms: Distribution }[];
}

export interface TurnSummary {
  turn_index: number;
  /** Completed measured requests of this turn. */
  completed: number;
  errored: number;
  ttft_ms: Distribution;
  e2e_latency_ms: Distribution;
  input_tokens: Distribution;
}
