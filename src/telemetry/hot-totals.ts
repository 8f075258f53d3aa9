/**
 * The plain cumulative totals behind the hot metrics, per concurrency bucket: requests
 * by phase and outcome, errors by class, output tokens and the TTFT/TPOT/ITL/E2E bucket
 * counts. One process's hot metrics keep them for its own records; each shard of a
 * split run keeps them too and sends one bucket's series with its progress messages
 * (`hotSeriesWire`), cumulative, so the coordinator can keep each shard's latest and
 * sum them when /metrics is scraped: a dropped or late message changes nothing.
 */
import { z } from 'zod';
import type { IterationPlan } from '../plan/plan.js';
import type { RequestRecord } from '../metrics/record.js';
import { requestMetrics } from '../metrics/request-metrics.js';
import {
  CONCURRENCY_BUCKETS,
  concurrencyBucket,
  ERROR_CLASSES,
  OUTCOMES,
  PHASES,
  type ConcurrencyBucket,
} from './hot-labels.js';

// Seconds. TTFT spans prefill of short prompts to queued long ones; TPOT and ITL are decode steps.
export const TTFT_BUCKETS_S = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 20, 40, 80,
] as const;
export const TOKEN_GAP_BUCKETS_S = [
  0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
  1, 2.5,
] as const;
export const E2E_BUCKETS_S = [
  0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600,
] as const;

/** Bucket counts in plain arrays: one binary search and three writes per observation. */
export class HistogramCounts {
  /** Non-cumulative: counts[i] holds observations in (bounds[i-1], bounds[i]]; above the last only `count`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const { bounds } = this;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((bounds[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    if (lo < bounds.length) this.counts[lo] = (this.counts[lo] as number) + 1;
    this.sum += value;
    this.count++;
  }

  /** Adds another histogram's counts (same bounds) to these. */
  add(other: { counts: ArrayLike<number>; sum: number; count: number }): void {
    for (let i = 0; i < this.counts.length; i++)
      this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    this.sum += other.sum;
    this.count += other.count;
  }
}

/** One concurrency bucket's plain counters. */
export interface SeriesTotals {
  /** [phase × outcome], in PHASES × OUTCOMES order. */
  requests: Float64Array;
  /** In ERROR_CLASSES order. */
  errors: Float64Array;
  outputTokens: number;
  ttft: HistogramCounts;
  tpot: HistogramCounts;
  itl: HistogramCounts;
  e2e: HistogramCounts;
}

const HISTOGRAM_NAMES = ['ttft', 'tpot', 'itl', 'e2e'] as const;

function emptySeries(): SeriesTotals {
  return {
    requests: new Float64Array(PHASES.length * OUTCOMES.length),
    errors: new Float64Array(ERROR_CLASSES.length),
    outputTokens: 0,
    ttft: new HistogramCounts(TTFT_BUCKETS_S),
    tpot: new HistogramCounts(TOKEN_GAP_BUCKETS_S),
    itl: new HistogramCounts(TOKEN_GAP_BUCKETS_S),
    e2e: new HistogramCounts(E2E_BUCKETS_S),
  };
}

const count = z.number().int().min(0);
const histogramWire = (bounds: readonly number[]) =>
  z
    .object({
      counts: z.array(count).length(bounds.length),
      sum: z.number().finite().min(0),
      count,
    })
    .strict()
    // `count` includes what lies above the last bound: never below the buckets' own total.
    .refine((h) => h.count >= h.counts.reduce((n, c) => n + c, 0), {
      message: 'count is below the sum of the bucket counts',
      path: ['count'],
    });

/**
 * One concurrency bucket's totals on the wire (a shard's progress message): the same fixed
 * arrays SeriesTotals holds, so a message has at most a few hundred numbers whatever the plan.
 */
export const hotSeriesWire = z
  .object({
    bucket: z.enum(CONCURRENCY_BUCKETS),
    requests: z.array(count).length(PHASES.length * OUTCOMES.length),
    errors: z.array(count).length(ERROR_CLASSES.length),
    output_tokens: count,
    ttft: histogramWire(TTFT_BUCKETS_S),
    tpot: histogramWire(TOKEN_GAP_BUCKETS_S),
    itl: histogramWire(TOKEN_GAP_BUCKETS_S),
    e2e: histogramWire(E2E_BUCKETS_S),
  })
  .strict();
export type HotSeriesWire = z.infer<typeof hotSeriesWire>;

/** Finished requests a wire series counts: they only grow, so the larger of two is the later. */
export function requestsCounted(series: Pick<HotSeriesWire, 'requests'>): number {
  return series.requests.reduce((n, c) => n + c, 0);
}

/**
 * Where a split run's coordinator hands its shards' totals: `read` gives each shard's latest
 * series and is called when /metrics is scraped, so the sum is always the shards' latest.
 */
export interface ShardTotalsSink {
  /** The run's shards from now on (a later run of the group replaces an earlier one's). */
  readShards(read: () => Iterable<HotSeriesWire>): void;
}

/** The cumulative totals of a run's records, per concurrency bucket. */
export class HotTotals {
  readonly buckets = new Map<ConcurrencyBucket, SeriesTotals>();
  private current: SeriesTotals | null = null;

  /** The iteration whose records follow: its bucket is looked up once, not per record. */
  startIteration(plan: Pick<IterationPlan, 'mode' | 'concurrency'>): void {
    this.current = this.series(concurrencyBucket(plan));
  }

  /** The per-record path: counters, then the completed request's latencies; a few array writes, no await. */
  record(plan: Pick<IterationPlan, 'mode' | 'concurrency'>, r: RequestRecord): void {
    const series = this.current ?? this.series(concurrencyBucket(plan));
    const at = PHASES.indexOf(r.phase) * OUTCOMES.length + OUTCOMES.indexOf(r.status);
    series.requests[at] = (series.requests[at] as number) + 1;
    if (r.phase !== 'measured') return;
    if (r.status === 'error') {
      const at = ERROR_CLASSES.indexOf(r.error_class ?? 'unclassified');
      series.errors[at] = (series.errors[at] as number) + 1;
      return;
    }
    if (r.status !== 'ok') return;
    series.outputTokens += r.output_tokens;
    const m = requestMetrics(r);
    if (m.ttft_ms !== null) series.ttft.observe(m.ttft_ms / 1000);
    if (m.tpot_ms !== null) series.tpot.observe(m.tpot_ms / 1000);
    if (m.e2e_latency_ms !== null) series.e2e.observe(m.e2e_latency_ms / 1000);
    for (const gap of m.itl_ms) series.itl.observe(gap / 1000);
  }

  /** The bucket's series, made empty on first use. */
  series(bucket: ConcurrencyBucket): SeriesTotals {
    let series = this.buckets.get(bucket);
    if (!series) {
      series = emptySeries();
      this.buckets.set(bucket, series);
    }
    return series;
  }

  /** The bucket's series as plain JSON for a progress message; null before it has any. */
  wire(bucket: ConcurrencyBucket): HotSeriesWire | null {
    const s = this.buckets.get(bucket);
    if (!s) return null;
    const histogram = (h: HistogramCounts) => ({ counts: [...h.counts], sum: h.sum, count: h.count });
    return {
      bucket,
      requests: [...s.requests],
      errors: [...s.errors],
      output_tokens: s.outputTokens,
      ttft: histogram(s.ttft),
      tpot: histogram(s.tpot),
      itl: histogram(s.itl),
      e2e: histogram(s.e2e),
    };
  }

  /** Adds a series (another process's, validated by hotSeriesWire) to its bucket's. */
  add(wire: HotSeriesWire): void {
    const s = this.series(wire.bucket);
    for (let i = 0; i < s.requests.length; i++)
      s.requests[i] = (s.requests[i] as number) + (wire.requests[i] as number);
    for (let i = 0; i < s.errors.length; i++)
      s.errors[i] = (s.errors[i] as number) + (wire.errors[i] as number);
    s.outputTokens += wire.output_tokens;
    for (const name of HISTOGRAM_NAMES) s[name].add(wire[name]);
  }
}
