/**
 * One iteration's summary: the per-iteration aggregates of METRICS.md over the
 * measured window (warmup excluded, but counted), distributions of every
 * per-request metric, goodput against the job's SLOs, and the flags that say
 * when a figure should not be trusted (too few samples for a p99, a client
 * event loop slow enough to skew stamps, dropped arrivals).
 * The result is plain JSON: it is written to disk as the per-iteration summary.
 * The parts are modules of their own (outcomes, window, peaks, goodput, flags);
 * this one assembles them. Readers import each part from its own module.
 */
import type { Slo } from '../spec/slo-types.js';
import { checkSlo, goodputSummary, sloSamples } from './goodput.js';
import { iterationFlags } from './iteration-flags.js';
import {
  ITERATION_SUMMARY_SCHEMA_VERSION,
  type IterationDistributions,
  type IterationInfo,
  type IterationSummary,
} from './iteration-summary.js';
import { measuredDuration } from './measured-window.js';
import { peakConcurrency, peakOutputThroughput } from './peaks.js';
import { perTurnSummary } from './per-turn.js';
import { prefixCacheSummary } from './prefix-cache.js';
import { describe } from './percentiles.js';
import type { RequestRecord } from './record.js';
import { requestMetrics, type RequestMetrics } from './request-metrics.js';
import { countOutcomes, errorRatesByClass } from './request-outcomes.js';

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
  const { measured, warmup } = splitWarmup(records);
  const { completed, errored, errorsByClass, cancelled } = countOutcomes(measured);
  const { start_us, duration_s, duration_basis } = measuredDuration(measured);
  const tokens = tokenTotals(completed);
  const perRequest = completed.map(requestMetrics);
  const distributions = iterationDistributions(completed, perRequest, info.mode !== 'concurrency');
  // Finished = completed + errored: the denominator of error rate and goodput attainment.
  const finished = completed.length + errored;
  const goodput = slos.length > 0 ? goodputSummary(perRequest, slos, finished) : null;
  const { flags, warnings } = iterationFlags(distributions, info);
  if (measured.length === 0) warnings.push('no measured requests');
  else if (duration_basis === 'done')
    warnings.push('no request produced a token: duration measured to done_at');
  if (cancelled > 0) warnings.push(`${cancelled} requests cancelled at the end (not counted as errors)`);

  const rate = (count: number): number | null => throughput(completed.length, count, duration_s);
  const perTurn = perTurnSummary(measured);
  const prefixCache = prefixCacheSummary(measured, completed, perRequest);
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
      warmup: Math.max(warmup, info.warmup_requests),
      measured: measured.length,
      completed: completed.length,
      errored,
      cancelled,
      errors_by_class: errorsByClass,
      planned: info.planned_requests ?? null,
      dropped_arrivals: info.dropped_arrivals ?? 0,
      late_arrivals: info.late_arrivals ?? 0,
    },
    request_throughput_rps: rate(completed.length),
    output_throughput_tokens_per_s: rate(tokens.output_total),
    input_throughput_tokens_per_s: rate(tokens.input_total),
    total_token_throughput_tokens_per_s: rate(tokens.input_total + tokens.output_total),
    goodput_rps: goodput ? rate(goodput.met_all) : null,
    error_rate: finished > 0 ? errored / finished : null,
    error_rate_by_class: errorRatesByClass(errorsByClass, finished),
    peak_concurrency: peakConcurrency(measured),
    peak_output_throughput_tokens_per_s:
      measured.length > 0 ? peakOutputThroughput(completed, start_us) : null,
    tokens,
    distributions,
    goodput,
    slo_checks:
      slos.length > 0 ? slos.map((slo) => checkSlo(slo, sloSamples(slo.metric, perRequest), errored)) : null,
    flags,
    warnings,
    ...(perTurn ? { per_turn: perTurn } : {}),
    ...(info.conversations ? { conversations: { ...info.conversations } } : {}),
    ...(prefixCache ? { prefix_cache: prefixCache } : {}),
  };
}

/** The measured records, in order, and how many were warmup. */
function splitWarmup(records: readonly RequestRecord[]): { measured: RequestRecord[]; warmup: number } {
  const measured: RequestRecord[] = [];
  let warmup = 0;
  for (const r of records) {
    if (r.phase === 'warmup') warmup++;
    else measured.push(r);
  }
  return { measured, warmup };
}

/** Token totals of the completed requests, and where their counts came from. */
function tokenTotals(completed: readonly RequestRecord[]): IterationSummary['tokens'] {
  const tokens: IterationSummary['tokens'] = {
    output_total: 0,
    input_total: 0,
    reasoning_total: 0,
    output_tokens_source: { server: 0, tokenizer: 0 },
    input_tokens_source: { server: 0, workload: 0 },
  };
  for (const r of completed) {
    tokens.output_total += r.output_tokens;
    tokens.input_total += r.input_tokens;
    tokens.reasoning_total += r.reasoning_tokens ?? 0;
    tokens.output_tokens_source[r.output_tokens_source]++;
    tokens.input_tokens_source[r.input_tokens_source]++;
  }
  return tokens;
}

/** Every per-request metric's distribution over the completed requests; ITL and chunk sizes pooled. */
function iterationDistributions(
  completed: readonly RequestRecord[],
  perRequest: readonly RequestMetrics[],
  openLoop: boolean,
): IterationDistributions {
  const itl: number[] = [];
  const tokensPerChunk: number[] = [];
  for (let i = 0; i < completed.length; i++) {
    for (const gap of (perRequest[i] as RequestMetrics).itl_ms) itl.push(gap);
    for (const t of (completed[i] as RequestRecord).chunk_tokens) tokensPerChunk.push(t);
  }
  const of = (pick: (m: RequestMetrics) => number | null) => describe(collect(perRequest, pick));
  return {
    ttfb_ms: of((m) => m.ttfb_ms),
    ttft_ms: of((m) => m.ttft_ms),
    ttfo_ms: of((m) => m.ttfo_ms),
    e2e_latency_ms: of((m) => m.e2e_latency_ms),
    e2e_done_ms: of((m) => m.e2e_done_ms),
    client_queue_ms: of((m) => m.client_queue_ms),
    e2e_plus_queue_ms: openLoop ? of((m) => m.e2e_plus_queue_ms) : null,
    tpot_ms: of((m) => m.tpot_ms),
    itl_ms: describe(itl),
    tokens_per_chunk: describe(tokensPerChunk),
    decode_speed_tokens_per_s: of((m) => m.decode_speed_tokens_per_s),
    output_tokens: describe(completed.map((r) => r.output_tokens)),
    input_tokens: describe(completed.map((r) => r.input_tokens)),
  };
}

/** The non-null values of one metric over all requests. */
function collect(metrics: readonly RequestMetrics[], pick: (m: RequestMetrics) => number | null): number[] {
  const values: number[] = [];
  for (const m of metrics) {
    const v = pick(m);
    if (v !== null) values.push(v);
  }
  return values;
}

/** A throughput of the completed requests: null when none completed (nothing was measured). */
function throughput(completed: number, count: number, duration_s: number | null): number | null {
  return completed === 0 || duration_s === null || duration_s <= 0 ? null : count / duration_s;
}
