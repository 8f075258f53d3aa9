/**
 * A service-level objective for goodput, written like `p99_ttft_ms<=500`.
 * It applies per request (`ttft_ms<=500`); the percentile prefix only says which
 * tail the user cares about and is kept for display (METRICS.md, goodput).
 */
export type SloMetric = 'ttft_ms' | 'ttfb_ms' | 'ttfo_ms' | 'tpot_ms' | 'itl_ms' | 'e2e_latency_ms';

export type SloOperator = '<=' | '<' | '>=' | '>';

export interface Slo {
  /** As written by the user. */
  text: string;
  metric: SloMetric;
  /** 99 for `p99_…`, 99.9 for `p99.9_…`, null when written without a percentile. */
  percentile: number | null;
  op: SloOperator;
  threshold: number;
}
