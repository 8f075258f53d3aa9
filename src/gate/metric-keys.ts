/**
 * What a gate compares: metric keys `<scenario>.<point>.<metric>.<stat>` taken from
 * an iteration's summary, each with its unit and which direction is better, as the
 * metric registry (metrics/definitions.ts) declares them and which metrics it gates.
 * The point is `c<N>` for a concurrency level, `r<rate>` for a request rate (`.` as
 * `_`, so a key splits on dots), or `trace`. One value per key per repeat.
 */
import {
  betterDirection,
  columnMetric,
  GATED_DISTRIBUTIONS,
  GATED_STATS,
  GATED_VALUES,
  metricColumn,
  type BetterDirection,
} from '../metrics/definitions.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { Distribution } from '../metrics/percentiles.js';

export type Direction = BetterDirection;

export interface GatedMetric {
  key: string;
  value: number;
  unit: string;
  direction: Direction;
  /** The samples a percentile was computed from (requests, or ITL gaps); null for rates and counts. */
  samples: number | null;
}

/** Latency distributions gated, and their statistics (the registry's). */
export const LATENCIES = GATED_DISTRIBUTIONS;
export const LATENCY_STATS = GATED_STATS;

/** The point part of a key. */
export function pointOf(summary: Pick<IterationSummary, 'mode' | 'concurrency' | 'rate_rps'>): string {
  if (summary.mode === 'concurrency') return `c${summary.concurrency}`;
  if (summary.mode === 'rate') return `r${String(summary.rate_rps).replace('.', '_')}`;
  return 'trace';
}

/**
 * What gatedMetrics reads of one iteration: its point, the gated statistics of its
 * latency distributions, and its rates. An IterationSummary is one; so is a
 * serving_outcome_fact row, which holds the same numbers (warehouse-group.ts).
 */
export type GatedSource = Pick<
  IterationSummary,
  'scenario' | 'mode' | 'concurrency' | 'rate_rps' | (typeof GATED_VALUES)[number]
> & {
  distributions: Record<
    (typeof LATENCIES)[number],
    Pick<Distribution, (typeof LATENCY_STATS)[number] | 'count'>
  >;
};

/** A gated key's unit and direction: the registry's for its column (`ttft_ms_p99`, `error_rate`). */
function judged(column: string): { unit: string; direction: Direction } {
  return { unit: columnMetric(column).unit, direction: betterDirection(column) };
}

/** Every gated metric of one iteration (null values, e.g. goodput without SLOs, are left out). */
export function gatedMetrics(summary: GatedSource): GatedMetric[] {
  const prefix = `${summary.scenario}.${pointOf(summary)}`;
  const out: GatedMetric[] = [];
  for (const metric of LATENCIES) {
    const distribution = summary.distributions[metric];
    for (const stat of LATENCY_STATS) {
      const value = distribution[stat];
      if (value === null) continue;
      out.push({
        key: `${prefix}.${metric}.${stat}`,
        value,
        ...judged(metricColumn(metric, stat)),
        samples: distribution.count,
      });
    }
  }
  for (const metric of GATED_VALUES) {
    const value = summary[metric];
    if (value !== null)
      out.push({ key: `${prefix}.${metric}.value`, value, ...judged(metric), samples: null });
  }
  return out;
}

/** The percentile a statistic names (`p99` → 0.99), or null for `mean` and `value`. */
export function percentileOf(stat: string): number | null {
  const match = /^p(\d+)(?:_(\d+))?$/.exec(stat);
  if (!match) return null;
  return Number(`${match[1]}.${match[2] ?? '0'}`) / 100;
}

/** Glob match of keys: `*` is any run of characters (dots included), `?` one character. */
export function globMatches(pattern: string, key: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
      .join('')}$`,
  );
  return regex.test(key);
}
