/**
 * One iteration's summary: the per-iteration aggregates of METRICS.md over the
 * measured window (warmup excluded, but counted), distributions of every
 * per-request metric, goodput against the job's SLOs, and the flags that say
 * when a figure should not be trusted (too few samples for a p99, a client
 * event loop slow enough to skew stamps, dropped arrivals).
 * The result is plain JSON: it is written to disk as the per-iteration summary.
 */
import type { Slo } from '../spec/slo-types.js';
import { checkSlo, meetsSlo, sloSamples, type SloCheck } from './goodput.js';
import { describe, type Distribution } from './percentiles.js';
import type { ErrorClass, RequestRecord } from './record.js';
import { requestMetrics, type RequestMetrics } from './request-metrics.js';

/** Version of the IterationSummary layout; bump when a field changes meaning. */
export const ITERATION_SUMMARY_SCHEMA_VERSION = 1;

/**
 * Samples a p99 needs for a distribution-free 95% interval (METRICS.md):
 * 1 − 0.99ⁿ ≥ 0.975 gives n ≥ 368, rounded to the ~370 the guide quotes.
 */
export const MIN_SAMPLES_FOR_P99 = 370;

/**
 * Event-loop delay threshold: the client's p99 event-loop delay (lateness of a
 * timer, not its period) above which stamps may be skewed. A delay shifts a
 * stamp, and ITL is the difference of two stamps, so the bound scales with the
 * median ITL: 10% of it, clamped to [2 ms, 10 ms]. 10 ms alone already skews TTFTs
 * of a few hundred ms by a few percent; the 2 ms floor is there because on a shared
 * 2-core host an idle Node loop already shows 1–2 ms of p99 timer lateness (OS
 * scheduling, GC), and a flag that is always on is a flag nobody reads. Without ITL samples the bound is 10 ms.
 */
export const EVENT_LOOP_MAX_THRESHOLD_MS = 10;
export const EVENT_LOOP_MIN_THRESHOLD_MS = 2;
export const EVENT_LOOP_ITL_FRACTION = 0.1;

/** Distributions whose p99 users read as a latency tail (the low-sample warning covers these). */
const LATENCY_FIELDS: ReadonlySet<string> = new Set([
  'ttfb_ms',
  'ttft_ms',
  'ttfo_ms',
  'e2e_latency_ms',
  'e2e_done_ms',
  'e2e_plus_queue_ms',
  'tpot_ms',
  'itl_ms',
]);

/** Width of a peak-throughput bucket. */
const PEAK_BUCKET_US = 1_000_000;

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
}

/** Error counts by class; `unclassified` holds errored records without an `error_class`. */
export type ErrorCounts = Record<ErrorClass | 'unclassified', number>;

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

/** Goodput detail: how many completed requests met each SLO and all of them. */
export interface GoodputSummary {
  slos: Array<{
    text: string;
    metric: Slo['metric'];
    op: Slo['op'];
    threshold: number;
    percentile: number | null;
    /** Completed requests meeting this SLO. */
    met: number;
  }>;
  /** Completed requests meeting every SLO (goodput's numerator). */
  met_all: number;
  /** met_all / (completed + errored): an error is a request that was not good. Null when nothing finished. */
  attainment: number | null;
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
}

const ERROR_CLASS_KEYS = {
  http_4xx: true,
  http_429: true,
  http_5xx: true,
  timeout: true,
  connection: true,
  protocol: true,
  oversize: true,
  unclassified: true,
} satisfies Record<ErrorClass | 'unclassified', true>;

function zeroErrorCounts(): ErrorCounts {
  const counts = {} as ErrorCounts;
  for (const key of Object.keys(ERROR_CLASS_KEYS) as Array<keyof ErrorCounts>) counts[key] = 0;
  return counts;
}

function perSecond(count: number, duration_s: number | null): number | null {
  return duration_s === null || duration_s <= 0 ? null : count / duration_s;
}

/** A throughput of the completed requests: null when none completed (nothing was measured). */
function throughput(completed: number, count: number, duration_s: number | null): number | null {
  return completed === 0 ? null : perSecond(count, duration_s);
}

/** The latest stamp a request has: where its in-flight interval ends. */
function endOfRequestUs(r: RequestRecord): number {
  return r.done_at_us ?? r.last_token_at_us ?? r.first_token_at_us ?? r.headers_at_us ?? r.sent_at_us;
}

/**
 * Most requests in flight at once. Intervals are half-open [sent_at, end), so a
 * closed-loop slot whose next request is sent the microsecond the previous one
 * ends counts once, not twice.
 */
export function peakConcurrency(records: readonly RequestRecord[]): number {
  const events: Array<[number, number]> = [];
  for (const r of records) {
    const end = endOfRequestUs(r);
    if (end <= r.sent_at_us) continue;
    events.push([r.sent_at_us, 1], [end, -1]);
  }
  // Ends before starts at the same instant (half-open intervals).
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let peak = 0;
  for (const [, delta] of events) {
    current += delta;
    if (current > peak) peak = current;
  }
  return peak;
}

/**
 * Most output tokens in any 1-s bucket, per second. Buckets start at `origin_us`
 * (the measured window's start). Tokens are placed at their chunk times; each
 * request's chunks are scaled so they add up to its `output_tokens` (the
 * server's count, which the throughput figures use), and chunks with unknown
 * token counts share the request's tokens evenly. So the buckets sum exactly to
 * Σ output_tokens and the peak is comparable with `output_throughput`.
 * A bucket is always divided by a full second, so a window shorter than 1 s
 * gives a lower bound.
 */
export function peakOutputThroughput(records: readonly RequestRecord[], origin_us: number): number | null {
  const buckets = new Map<number, number>();
  for (const r of records) {
    const times = r.chunk_times_us;
    if (times.length === 0 || r.output_tokens <= 0) continue;
    let weightSum = 0;
    const usable = r.chunk_tokens.length === times.length;
    if (usable) for (const t of r.chunk_tokens) weightSum += t;
    const even = !usable || weightSum <= 0;
    const scale = even ? r.output_tokens / times.length : r.output_tokens / weightSum;
    for (let i = 0; i < times.length; i++) {
      const tokens = even ? scale : (r.chunk_tokens[i] as number) * scale;
      const bucket = Math.floor(((times[i] as number) - origin_us) / PEAK_BUCKET_US);
      buckets.set(bucket, (buckets.get(bucket) ?? 0) + tokens);
    }
  }
  if (buckets.size === 0) return null;
  let peak = 0;
  for (const tokens of buckets.values()) if (tokens > peak) peak = tokens;
  return peak / (PEAK_BUCKET_US / 1_000_000);
}

/**
 * The measured window on the records' clock: min(sent_at) to the latest
 * last_token_at (done_at for a request without tokens) of measured requests;
 * null without any. Server scrapes inside it are the ones taken under load.
 */
export function measuredWindowUs(
  records: readonly RequestRecord[],
): { start_us: number; end_us: number } | null {
  let start_us = Infinity;
  let end_us = -Infinity;
  for (const r of records) {
    if (r.phase === 'warmup') continue;
    if (r.sent_at_us < start_us) start_us = r.sent_at_us;
    const end = r.last_token_at_us ?? r.done_at_us ?? r.sent_at_us;
    if (end > end_us) end_us = end;
  }
  return start_us === Infinity ? null : { start_us, end_us };
}

/** The event-loop threshold for an iteration whose pooled ITL has this median (ms). */
export function eventLoopThresholdMs(median_itl_ms: number | null): number {
  if (median_itl_ms === null) return EVENT_LOOP_MAX_THRESHOLD_MS;
  return Math.min(
    EVENT_LOOP_MAX_THRESHOLD_MS,
    Math.max(EVENT_LOOP_MIN_THRESHOLD_MS, EVENT_LOOP_ITL_FRACTION * median_itl_ms),
  );
}

/** Push the non-null values of one metric over all requests. */
function collect(metrics: readonly RequestMetrics[], pick: (m: RequestMetrics) => number | null): number[] {
  const values: number[] = [];
  for (const m of metrics) {
    const v = pick(m);
    if (v !== null) values.push(v);
  }
  return values;
}

/**
 * Summarise one iteration from its request records (warmup ones included; they
 * are excluded from every figure but counted). Latency distributions use
 * completed requests only; ITL is pooled across them; goodput tests each
 * completed request against every SLO (see `meetsSlo`).
 */
export function summarizeIteration(
  records: readonly RequestRecord[],
  info: IterationInfo,
  slos: readonly Slo[],
): IterationSummary {
  const measured: RequestRecord[] = [];
  let warmupRecords = 0;
  for (const r of records) {
    if (r.phase === 'warmup') warmupRecords++;
    else measured.push(r);
  }

  const completed: RequestRecord[] = [];
  const errorsByClass = zeroErrorCounts();
  let errored = 0;
  let cancelled = 0;
  for (const r of measured) {
    if (r.status === 'ok') completed.push(r);
    else if (r.status === 'error') {
      errored++;
      errorsByClass[r.error_class ?? 'unclassified']++;
    } else cancelled++;
  }

  // The measured window (METRICS.md duration).
  let start_us = Infinity;
  let lastToken_us = -Infinity;
  let lastDone_us = -Infinity;
  for (const r of measured) {
    if (r.sent_at_us < start_us) start_us = r.sent_at_us;
    if (r.last_token_at_us !== null && r.last_token_at_us > lastToken_us) lastToken_us = r.last_token_at_us;
    if (r.done_at_us !== null && r.done_at_us > lastDone_us) lastDone_us = r.done_at_us;
  }
  let duration_s: number | null = null;
  let duration_basis: IterationSummary['duration_basis'] = null;
  if (measured.length > 0) {
    if (lastToken_us > -Infinity) {
      duration_s = (lastToken_us - start_us) / 1e6;
      duration_basis = 'last_token';
    } else if (lastDone_us > -Infinity) {
      duration_s = (lastDone_us - start_us) / 1e6;
      duration_basis = 'done';
    }
  }

  // Tokens of completed requests.
  let outputTotal = 0;
  let inputTotal = 0;
  let reasoningTotal = 0;
  const outputSource = { server: 0, tokenizer: 0 };
  const inputSource = { server: 0, workload: 0 };
  for (const r of completed) {
    outputTotal += r.output_tokens;
    inputTotal += r.input_tokens;
    reasoningTotal += r.reasoning_tokens ?? 0;
    outputSource[r.output_tokens_source]++;
    inputSource[r.input_tokens_source]++;
  }

  // Per-request metrics and distributions.
  const perRequest = completed.map(requestMetrics);
  const itl: number[] = [];
  const tokensPerChunk: number[] = [];
  for (let i = 0; i < completed.length; i++) {
    for (const gap of (perRequest[i] as RequestMetrics).itl_ms) itl.push(gap);
    for (const t of (completed[i] as RequestRecord).chunk_tokens) tokensPerChunk.push(t);
  }
  const openLoop = info.mode !== 'concurrency';
  const distributions: IterationDistributions = {
    ttfb_ms: describe(collect(perRequest, (m) => m.ttfb_ms)),
    ttft_ms: describe(collect(perRequest, (m) => m.ttft_ms)),
    ttfo_ms: describe(collect(perRequest, (m) => m.ttfo_ms)),
    e2e_latency_ms: describe(collect(perRequest, (m) => m.e2e_latency_ms)),
    e2e_done_ms: describe(collect(perRequest, (m) => m.e2e_done_ms)),
    client_queue_ms: describe(collect(perRequest, (m) => m.client_queue_ms)),
    e2e_plus_queue_ms: openLoop ? describe(collect(perRequest, (m) => m.e2e_plus_queue_ms)) : null,
    tpot_ms: describe(collect(perRequest, (m) => m.tpot_ms)),
    itl_ms: describe(itl),
    tokens_per_chunk: describe(tokensPerChunk),
    decode_speed_tokens_per_s: describe(collect(perRequest, (m) => m.decode_speed_tokens_per_s)),
    output_tokens: describe(completed.map((r) => r.output_tokens)),
    input_tokens: describe(completed.map((r) => r.input_tokens)),
  };

  // Finished = completed + errored: the denominator of error rate and goodput attainment.
  const finished = completed.length + errored;

  // Goodput.
  let goodput: GoodputSummary | null = null;
  if (slos.length > 0) {
    const met = slos.map(() => 0);
    let metAll = 0;
    for (const m of perRequest) {
      let all = true;
      slos.forEach((slo, i) => {
        if (meetsSlo(m, slo)) met[i] = (met[i] as number) + 1;
        else all = false;
      });
      if (all) metAll++;
    }
    goodput = {
      slos: slos.map((slo, i) => ({
        text: slo.text,
        metric: slo.metric,
        op: slo.op,
        threshold: slo.threshold,
        percentile: slo.percentile,
        met: met[i] as number,
      })),
      met_all: metAll,
      attainment: finished > 0 ? metAll / finished : null,
    };
  }

  // Error rate.
  let errorRateByClass: ErrorCounts | null = null;
  if (finished > 0) {
    errorRateByClass = zeroErrorCounts();
    for (const key of Object.keys(errorsByClass) as Array<keyof ErrorCounts>) {
      errorRateByClass[key] = errorsByClass[key] / finished;
    }
  }

  // Flags and warnings.
  const warnings: string[] = [];
  const lowSampleMetrics: string[] = [];
  for (const [field, dist] of Object.entries(distributions) as Array<[string, Distribution | null]>) {
    if (dist === null || !LATENCY_FIELDS.has(field)) continue;
    if (dist.count > 0 && dist.count < MIN_SAMPLES_FOR_P99) lowSampleMetrics.push(field);
  }
  if (lowSampleMetrics.length > 0) {
    const counts = lowSampleMetrics.map(
      (f) => `${f} n=${distributions[f as keyof IterationDistributions]?.count}`,
    );
    warnings.push(
      `p99 from fewer than ${MIN_SAMPLES_FOR_P99} samples (no distribution-free 95% interval): ${counts.join(', ')}`,
    );
  }
  let eventLoop: IterationFlags['event_loop'] = null;
  let eventLoopFlag = false;
  if (info.event_loop_delay) {
    const threshold_ms = eventLoopThresholdMs(distributions.itl_ms.p50);
    eventLoop = { ...info.event_loop_delay, threshold_ms };
    eventLoopFlag = info.event_loop_delay.p99_ms > threshold_ms;
    if (eventLoopFlag) {
      warnings.push(
        `client event-loop delay p99 ${info.event_loop_delay.p99_ms.toFixed(2)} ms exceeds ${threshold_ms.toFixed(2)} ms: timestamps may be skewed`,
      );
    }
  }
  const dropped = info.dropped_arrivals ?? 0;
  const late = info.late_arrivals ?? 0;
  if (dropped > 0)
    warnings.push(`${dropped} arrivals dropped (no free slot): the offered load was not fully sent`);
  if (late > 0) warnings.push(`${late} arrivals sent late: see client_queue_ms`);
  if (measured.length === 0) warnings.push('no measured requests');
  else if (duration_basis === 'done')
    warnings.push('no request produced a token: duration measured to done_at');
  if (cancelled > 0) warnings.push(`${cancelled} requests cancelled at the end (not counted as errors)`);

  return {
    schema_version: ITERATION_SUMMARY_SCHEMA_VERSION,
    iteration: info.iteration,
    scenario: info.scenario,
    mode: info.mode,
    concurrency: info.concurrency ?? null,
    rate_rps: info.rate_rps ?? null,
    ended_by: info.ended_by,
    wall_s: info.wall_s,
    duration_s,
    duration_basis,
    requests: {
      total: records.length,
      warmup: Math.max(warmupRecords, info.warmup_requests),
      measured: measured.length,
      completed: completed.length,
      errored,
      cancelled,
      errors_by_class: errorsByClass,
      planned: info.planned_requests ?? null,
      dropped_arrivals: dropped,
      late_arrivals: late,
    },
    request_throughput_rps: throughput(completed.length, completed.length, duration_s),
    output_throughput_tokens_per_s: throughput(completed.length, outputTotal, duration_s),
    input_throughput_tokens_per_s: throughput(completed.length, inputTotal, duration_s),
    total_token_throughput_tokens_per_s: throughput(completed.length, inputTotal + outputTotal, duration_s),
    goodput_rps: goodput ? throughput(completed.length, goodput.met_all, duration_s) : null,
    error_rate: finished > 0 ? errored / finished : null,
    error_rate_by_class: errorRateByClass,
    peak_concurrency: peakConcurrency(measured),
    peak_output_throughput_tokens_per_s:
      measured.length > 0 ? peakOutputThroughput(completed, start_us) : null,
    tokens: {
      output_total: outputTotal,
      input_total: inputTotal,
      reasoning_total: reasoningTotal,
      output_tokens_source: outputSource,
      input_tokens_source: inputSource,
    },
    distributions,
    goodput,
    slo_checks:
      slos.length > 0 ? slos.map((slo) => checkSlo(slo, sloSamples(slo.metric, perRequest), errored)) : null,
    flags: {
      low_samples: lowSampleMetrics.length > 0,
      low_sample_metrics: lowSampleMetrics,
      event_loop_flag: eventLoopFlag,
      event_loop: eventLoop,
      dropped_arrivals: dropped > 0,
    },
    warnings,
  };
}
