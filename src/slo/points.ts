/**
 * The measured points an SLO is proposed from: one per (scenario, load), with the raw
 * per-request values of each latency metric (completed measured requests only) and the
 * request outcomes. Repeats of one point pool their requests. Plain data; where it came
 * from (a run folder, the warehouse) is the sources' business.
 */

/** The latency metrics an SLO can be proposed for, by their CLI names. */
export const PROPOSE_METRICS = { ttft: 'ttft_ms', tpot: 'tpot_ms', e2e: 'e2e_latency_ms' } as const;
export type ProposeMetricName = keyof typeof PROPOSE_METRICS;
export type ProposeField = (typeof PROPOSE_METRICS)[ProposeMetricName];

/** Closed loop counts users (concurrency), open loop its arrival rate; a trace replay has no load axis. */
export type LoadKind = 'concurrency' | 'rate' | 'trace';

export interface SloPoint {
  scenario: string;
  load_kind: LoadKind;
  /** Concurrency or rate (req/s); null for a trace replay. */
  load: number | null;
  /** The iterations pooled into this point. */
  iterations: number[];
  completed: number;
  errored: number;
  samples: Record<ProposeField, number[]>;
}

/** One iteration as a source reads it, before repeats are pooled. */
export interface IterationPoint {
  iteration: number;
  scenario: string;
  load_kind: LoadKind;
  load: number | null;
  completed: number;
  errored: number;
  samples: Record<ProposeField, number[]>;
}

/** The load as a user writes it: `16` users, `4 req/s`, `trace`. */
export function loadLabel(point: Pick<SloPoint, 'load_kind' | 'load'>): string {
  if (point.load_kind === 'trace' || point.load === null) return 'trace replay';
  return point.load_kind === 'concurrency' ? `concurrency ${point.load}` : `rate ${point.load} req/s`;
}

/** Errored over finished requests (0 when nothing finished). */
export function errorRate(point: Pick<SloPoint, 'completed' | 'errored'>): number {
  const finished = point.completed + point.errored;
  return finished === 0 ? 0 : point.errored / finished;
}

/** Pools iterations of the same scenario and load (repeats), in order of first appearance. */
export function poolIterations(iterations: readonly IterationPoint[]): SloPoint[] {
  const points = new Map<string, SloPoint>();
  for (const it of iterations) {
    const key = JSON.stringify([it.scenario, it.load_kind, it.load]);
    let point = points.get(key);
    if (point === undefined) {
      point = {
        scenario: it.scenario,
        load_kind: it.load_kind,
        load: it.load,
        iterations: [],
        completed: 0,
        errored: 0,
        samples: { ttft_ms: [], tpot_ms: [], e2e_latency_ms: [] },
      };
      points.set(key, point);
    }
    point.iterations.push(it.iteration);
    point.completed += it.completed;
    point.errored += it.errored;
    for (const field of Object.values(PROPOSE_METRICS)) {
      for (const value of it.samples[field]) point.samples[field].push(value);
    }
  }
  return [...points.values()];
}
