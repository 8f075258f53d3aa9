/**
 * Goodput's per-request test: does one request meet an SLO? An SLO written
 * `p99_ttft_ms<=500` applies to each request as `ttft_ms<=500` (METRICS.md);
 * the percentile only says which tail the user watches and is kept for display.
 */
import type { Slo, SloMetric, SloOperator } from '../spec/slo-types.js';
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
