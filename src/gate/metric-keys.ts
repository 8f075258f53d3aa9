/**
 * What a gate compares: metric keys `<scenario>.<point>.<metric>.<stat>` taken from
 * an iteration's summary, each with its unit and which direction is better. The
 * point is `c<N>` for a concurrency level, `r<rate>` for a request rate (`.` as
 * `_`, so a key splits on dots), or `trace`. One value per key per repeat.
 */
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { Distribution } from '../metrics/percentiles.js';

export type Direction = 'lower' | 'higher';

export interface GatedMetric {
  key: string;
  value: number;
  unit: string;
  direction: Direction;
  /** The samples a percentile was computed from (requests, or ITL gaps); null for rates and counts. */
  samples: number | null;
}

/** Latency distributions gated, and their statistics. */
export const LATENCIES = ['ttft_ms', 'tpot_ms', 'itl_ms', 'e2e_latency_ms'] as const;
export const LATENCY_STATS = ['p50', 'p90', 'p99', 'mean'] as const;

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
  | 'scenario'
  | 'mode'
  | 'concurrency'
  | 'rate_rps'
  | 'output_throughput_tokens_per_s'
  | 'request_throughput_rps'
  | 'goodput_rps'
  | 'error_rate'
> & {
  distributions: Record<
    (typeof LATENCIES)[number],
    Pick<Distribution, (typeof LATENCY_STATS)[number] | 'count'>
  >;
};

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
        unit: 'ms',
        direction: 'lower',
        samples: distribution.count,
      });
    }
  }
  const scalar = (metric: string, value: number | null, unit: string, direction: Direction): void => {
    if (value !== null) out.push({ key: `${prefix}.${metric}.value`, value, unit, direction, samples: null });
  };
  scalar('output_throughput_tokens_per_s', summary.output_throughput_tokens_per_s, 'tokens/s', 'higher');
  scalar('request_throughput_rps', summary.request_throughput_rps, 'req/s', 'higher');
  scalar('goodput_rps', summary.goodput_rps, 'req/s', 'higher');
  scalar('error_rate', summary.error_rate, 'fraction', 'lower');
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
