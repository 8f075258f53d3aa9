/**
 * An SLO read two ways. Goodput's per-request test: an SLO written
 * `p99_ttft_ms<=500` applies to each request as `ttft_ms<=500` (METRICS.md).
 * And the SLO as written: the measured p99 of TTFT against 500 ms, met or not,
 * so a run whose p99 misses its target says so next to its goodput. Also the
 * iteration's goodput tally (`goodputSummary`), from the per-request test.
 */
import { formatSlo } from '../spec/slo.js';
import type { Slo, SloMetric, SloOperator } from '../spec/slo-types.js';
import { percentileOfSorted } from './percentiles.js';
import type { RequestMetrics } from './request-metrics.js';

/** `value op threshold`. */
export function compare(value: number, op: SloOperator, threshold: number): boolean {
  switch (op) {
    case '<=':
      return value <= threshold;
    case '<':
      return value < threshold;
    case '>=':
      return value >= threshold;
    case '>':
      return value > threshold;
  }
}

function scalar(m: RequestMetrics, metric: Exclude<SloMetric, 'itl_ms'>): number | null {
  switch (metric) {
    case 'ttft_ms':
      return m.ttft_ms;
    case 'ttfb_ms':
      return m.ttfb_ms;
    case 'ttfo_ms':
      return m.ttfo_ms;
    case 'tpot_ms':
      return m.tpot_ms;
    case 'e2e_latency_ms':
      return m.e2e_latency_ms;
  }
}

/**
 * Whether one request meets one SLO.
 * - A request lacking the metric does not meet it (tpot with 1 output token,
 *   ttfo of an all-reasoning answer): goodput counts only what was shown to be good.
 * - `itl_ms` must hold for every gap of the request: a streaming user feels the
 *   worst stall, not the average (an average-gap SLO is what `tpot_ms` is for).
 *   A request with a single chunk has no gap and so does not meet an `itl_ms` SLO.
 */
export function meetsSlo(m: RequestMetrics, slo: Slo): boolean {
  if (slo.metric === 'itl_ms') {
    if (m.itl_ms.length === 0) return false;
    for (const gap of m.itl_ms) if (!compare(gap, slo.op, slo.threshold)) return false;
    return true;
  }
  const value = scalar(m, slo.metric);
  return value !== null && compare(value, slo.op, slo.threshold);
}

/** One SLO checked as written: the metric's measured value at the SLO's percentile, against its target. */
export interface SloCheck {
  /** Canonical text: `p99_ttft_ms<=53`. */
  slo: string;
  metric: SloMetric;
  /** As written; null when the SLO names none. */
  percentile: number | null;
  op: SloOperator;
  threshold: number;
  /**
   * The percentile read: the SLO's own, or, when it names none, every request's
   * worst (100 for an upper bound, 0 for a lower one).
   */
  at_percentile: number;
  /** Over completed measured requests (ITL: every gap, pooled); null without samples. */
  measured: number | null;
  samples: number;
  /**
   * Measured requests that failed: they have no value and missed every target, so they count
   * against a per-request SLO (not against ITL, whose samples are gaps).
   */
  errored: number;
  /**
   * The measured value meets the target and, with errors, the share of requests missing it
   * (completed ones past the target, plus errored ones) is within what the percentile allows
   * (1 − p/100 for an upper bound, p/100 for a lower one); null when there was nothing to measure.
   */
  met: boolean | null;
}

/** The percentile an SLO is checked at (see SloCheck.at_percentile). */
export function checkedPercentile(slo: Slo): number {
  if (slo.percentile !== null) return slo.percentile;
  return slo.op === '<=' || slo.op === '<' ? 100 : 0;
}

/** Checks one SLO at its percentile over the metric's samples (any order; not modified). */
export function checkSlo(slo: Slo, samples: readonly number[], erroredRequests = 0): SloCheck {
  const at_percentile = checkedPercentile(slo);
  const sorted = Float64Array.from(samples).sort();
  const measured = sorted.length === 0 ? null : percentileOfSorted(sorted, at_percentile);
  const errored = slo.metric === 'itl_ms' ? 0 : erroredRequests;
  let met = measured === null ? null : compare(measured, slo.op, slo.threshold);
  if (errored > 0) {
    // A percentile over the completed requests alone would call 40% timeouts "met".
    let misses = errored;
    for (const value of sorted) if (!compare(value, slo.op, slo.threshold)) misses++;
    const upper = slo.op === '<=' || slo.op === '<';
    const allowed = upper ? 1 - at_percentile / 100 : at_percentile / 100;
    met = (met ?? true) && misses / (sorted.length + errored) <= allowed + 1e-12;
  }
  return {
    slo: formatSlo(slo),
    metric: slo.metric,
    percentile: slo.percentile,
    op: slo.op,
    threshold: slo.threshold,
    at_percentile,
    measured,
    samples: sorted.length,
    errored,
    met,
  };
}

/** The samples an SLO's metric is checked over: one per completed request, or every ITL gap. */
export function sloSamples(metric: SloMetric, perRequest: readonly RequestMetrics[]): number[] {
  const out: number[] = [];
  for (const m of perRequest) {
    if (metric === 'itl_ms') {
      for (const gap of m.itl_ms) out.push(gap);
      continue;
    }
    const value = scalar(m, metric);
    if (value !== null) out.push(value);
  }
  return out;
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

/**
 * Goodput's tally: completed requests meeting each SLO and all of them (`meetsSlo`), and
 * the share of finished requests (completed + errored) that met all; an error is a
 * request that was not good.
 */
export function goodputSummary(
  perRequest: readonly RequestMetrics[],
  slos: readonly Slo[],
  finished: number,
): GoodputSummary {
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
  return {
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
