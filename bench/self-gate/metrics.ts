/**
 * Every metric the self-gate reports, declared in one place with its unit, the
 * direction that is better and what it means, and the flat `key → values` map
 * that budgets are checked against (one value per repeat where a phase repeats;
 * a budget checks the median).
 */
import type { Direction } from '../../src/gate/metric-keys.js';
import type { OverheadResult, TimingResult } from './overhead.js';
import type { SoakResult } from './soak.js';

export interface MetricDef {
  unit: string;
  direction: Direction;
  description: string;
}

export interface Measurements {
  overhead: OverheadResult;
  timing: TimingResult;
  soak: SoakResult;
}

/** Per concurrency level `c<N>`, from the overhead rows' fields of the same name. */
const CLIENT: Record<
  | 'cpu_us_per_token'
  | 'cpu_us_per_request'
  | 'cpu_us_per_token_above_floor'
  | 'cpu_us_per_request_above_floor'
  | 'wall_ms_per_request',
  MetricDef
> = {
  cpu_us_per_token: {
    unit: 'µs',
    direction: 'lower',
    description:
      'client CPU (user + system) from iteration start to end, per streamed output token, at zero server delay',
  },
  cpu_us_per_request: {
    unit: 'µs',
    direction: 'lower',
    description: 'the same CPU per request (records, aggregation and sealing included)',
  },
  cpu_us_per_token_above_floor: {
    unit: 'µs',
    direction: 'lower',
    description:
      'client CPU per token − the undici floor’s (a client that parses nothing) at the same level, measured right after: infermark’s own cost on this host',
  },
  cpu_us_per_request_above_floor: {
    unit: 'µs',
    direction: 'lower',
    description: 'the same per request',
  },
  wall_ms_per_request: {
    unit: 'ms',
    direction: 'lower',
    description: 'iteration wall time ÷ requests (the inverse of request throughput) at zero server delay',
  },
};

const FIXED: Record<string, MetricDef> = {
  'client.errored_requests': {
    unit: 'requests',
    direction: 'lower',
    description: 'failed requests in the overhead runs',
  },
  'timing.ttft_error_ms.p50': {
    unit: 'ms',
    direction: 'lower',
    description: 'measured TTFT p50 − the simulator’s fixed TTFT (no jitter)',
  },
  'timing.ttft_error_ms.p99': {
    unit: 'ms',
    direction: 'lower',
    description: 'measured TTFT p99 − the simulator’s fixed TTFT',
  },
  'timing.tpot_error_ms.p50': {
    unit: 'ms',
    direction: 'lower',
    description: 'measured TPOT p50 − the simulator’s fixed inter-token gap',
  },
  'timing.errored_requests': {
    unit: 'requests',
    direction: 'lower',
    description: 'failed requests in the timing run',
  },
  'soak.records_written': {
    unit: 'records',
    direction: 'higher',
    description: 'request records appended in the soak',
  },
  'soak.equivalent_hours': {
    unit: 'h',
    direction: 'higher',
    description: 'records written ÷ the reference rate: hours of a real run at that rate',
  },
  'soak.records_per_s': {
    unit: 'records/s',
    direction: 'higher',
    description: 'records sustained per second of wall time',
  },
  'soak.errored_records': {
    unit: 'records',
    direction: 'lower',
    description: 'records of failed requests in the soak',
  },
  'soak.rss_growth_per_24h_equiv_bytes': {
    unit: 'bytes',
    direction: 'lower',
    description:
      'least-squares RSS bytes per record (after GC, at each rollover) × records of a 24h-equivalent',
  },
  'soak.heap_growth_per_24h_equiv_bytes': {
    unit: 'bytes',
    direction: 'lower',
    description: 'the same for the V8 heap in use',
  },
  'soak.max_rss_delta_bytes': {
    unit: 'bytes',
    direction: 'lower',
    description: 'peak RSS after the soak baseline (sampled every 100 ms) − the baseline',
  },
  'soak.rss_end_bytes': { unit: 'bytes', direction: 'lower', description: 'RSS after the soak, after GC' },
  'soak.final_retained_segments': {
    unit: 'segments',
    direction: 'lower',
    description: 'segments (sealed run folders) kept after pruning',
  },
  'soak.final_retained_files': {
    unit: 'files',
    direction: 'lower',
    description: 'files kept on disk after pruning',
  },
  'soak.final_retained_bytes': {
    unit: 'bytes',
    direction: 'lower',
    description: 'bytes kept on disk after pruning',
  },
  'soak.rollover_count': {
    unit: 'rollovers',
    direction: 'higher',
    description: 'times a full segment rolled over to a new one',
  },
  'soak.pruned_segment_count': {
    unit: 'segments',
    direction: 'higher',
    description: 'oldest segments deleted by retention',
  },
  'soak.pruned_bytes': { unit: 'bytes', direction: 'higher', description: 'bytes deleted by retention' },
  'soak.unverified_segments': {
    unit: 'segments',
    direction: 'lower',
    description: 'kept segments that do not verify as sealed, complete runs',
  },
};

/** Every key the self-gate reports for these concurrency levels, in report order. */
export function metricKeys(levels: readonly number[]): string[] {
  const sorted = [...new Set(levels)].sort((a, b) => a - b);
  return [
    ...(Object.keys(CLIENT) as (keyof typeof CLIENT)[]).flatMap((name) =>
      sorted.map((level) => `client.${name}.c${level}`),
    ),
    ...Object.keys(FIXED),
  ];
}

/** The flat map the budgets are checked against, with each key's definition. */
export function flattenMetrics(m: Measurements): {
  values: Map<string, number[]>;
  defs: Map<string, MetricDef>;
} {
  const values = new Map<string, number[]>();
  const defs = new Map<string, MetricDef>();
  const levels = [...new Set(m.overhead.rows.map((row) => row.streams))].sort((a, b) => a - b);
  for (const name of Object.keys(CLIENT) as (keyof typeof CLIENT)[]) {
    for (const level of levels) {
      const key = `client.${name}.c${level}`;
      const rows = m.overhead.rows.filter((row) => row.streams === level);
      values.set(
        key,
        rows.map((row) => row[name]),
      );
      defs.set(key, CLIENT[name]);
    }
  }
  const { soak, timing } = m;
  const fixed: Record<keyof typeof FIXED, number> = {
    'client.errored_requests': m.overhead.rows.reduce((t, row) => t + row.errored, 0),
    'timing.ttft_error_ms.p50': timing.ttft_error_ms_p50,
    'timing.ttft_error_ms.p99': timing.ttft_error_ms_p99,
    'timing.tpot_error_ms.p50': timing.tpot_error_ms_p50,
    'timing.errored_requests': timing.errored,
    'soak.records_written': soak.records_written,
    'soak.equivalent_hours': soak.equivalent_hours,
    'soak.records_per_s': soak.records_per_s,
    'soak.errored_records': soak.errored_records,
    'soak.rss_growth_per_24h_equiv_bytes': soak.rss.growth_per_24h_equiv_bytes,
    'soak.heap_growth_per_24h_equiv_bytes': soak.rss.heap_growth_per_24h_equiv_bytes,
    'soak.max_rss_delta_bytes': soak.rss.max_delta_bytes,
    'soak.rss_end_bytes': soak.rss.end_bytes,
    'soak.final_retained_segments': soak.final_retained_segments,
    'soak.final_retained_files': soak.final_retained_files,
    'soak.final_retained_bytes': soak.final_retained_bytes,
    'soak.rollover_count': soak.rollover_count,
    'soak.pruned_segment_count': soak.pruned_segment_count,
    'soak.pruned_bytes': soak.pruned_bytes,
    'soak.unverified_segments': soak.unverified_segments,
  };
  for (const [key, def] of Object.entries(FIXED)) {
    values.set(key, [fixed[key] as number]);
    defs.set(key, def);
  }
  return { values, defs };
}
