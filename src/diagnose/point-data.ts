/**
 * What a diagnosis reads of one run from the warehouse: its workload points (one
 * serving_outcome_fact row each), the completed measured requests of a point, and the
 * point's telemetry by family and scope, window by window. Plain rows in, plain data
 * out; nothing here judges.
 */
import type { Warehouse } from '../warehouse/warehouse.js';
import { sqlString, type Row } from '../warehouse/sql.js';
import { pointOf } from '../gate/metric-keys.js';

/** The latency statistics kept per point (serving_outcome_fact's `<field>_<stat>` columns). */
export const POINT_LATENCIES = ['ttft_ms', 'tpot_ms', 'itl_ms', 'e2e_latency_ms'] as const;
export const POINT_STATS = ['p50', 'p90', 'p99', 'mean'] as const;

export interface PointRow {
  run_id: string;
  iteration: number;
  scenario: string;
  mode: 'concurrency' | 'rate' | 'trace';
  concurrency: number | null;
  rate_rps: number | null;
  /** The gate's name of the point: `c16`, `r2_5`, `trace`. */
  point: string;
  requests_measured: number;
  output_throughput_tokens_per_s: number | null;
  request_throughput_rps: number | null;
  error_rate: number | null;
  event_loop_flag: boolean;
  /** `ttft_ms.p99` → value (ms). */
  latency: Record<string, number | null>;
}

const num = (value: unknown): number | null =>
  value === null || value === undefined || Number.isNaN(Number(value)) ? null : Number(value);

/** Every point of the runs (a run, or a run group's repeats), in iteration order. */
export async function loadPoints(warehouse: Warehouse, runIds: readonly string[]): Promise<PointRow[]> {
  const columns = POINT_LATENCIES.flatMap((f) => POINT_STATS.map((s) => `${f}_${s}`));
  const { rows } = await warehouse.json(
    `SELECT run_id, iteration, scenario, mode, concurrency, rate_rps, requests_measured,
       output_throughput_tokens_per_s, request_throughput_rps, error_rate, event_loop_flag, ${columns.join(', ')}
     FROM serving_outcome_fact WHERE run_id IN (${runIds.map(sqlString).join(', ')}) ORDER BY run_id, iteration`,
  );
  return rows.map((row) => {
    const latency: Record<string, number | null> = {};
    for (const f of POINT_LATENCIES)
      for (const s of POINT_STATS) latency[`${f}.${s}`] = num(row[`${f}_${s}`]);
    const mode = String(row.mode) as PointRow['mode'];
    const concurrency = num(row.concurrency);
    const rate_rps = num(row.rate_rps);
    return {
      run_id: String(row.run_id),
      iteration: Number(row.iteration),
      scenario: String(row.scenario),
      mode,
      concurrency,
      rate_rps,
      point: pointOf({ mode, concurrency: concurrency ?? 0, rate_rps: rate_rps ?? 0 }),
      requests_measured: num(row.requests_measured) ?? 0,
      output_throughput_tokens_per_s: num(row.output_throughput_tokens_per_s),
      request_throughput_rps: num(row.request_throughput_rps),
      error_rate: num(row.error_rate),
      event_loop_flag: row.event_loop_flag === true,
      latency,
    };
  });
}

/** One completed measured request, with its line in the iteration's requests.jsonl. */
export interface RequestSample {
  run_id: string;
  iteration: number;
  request_id: string;
  trace_id: string | null;
  /** 1-based line in `iterations/NNN/requests.jsonl` (ingest inserts each file in order, as the gate relies on). */
  line: number;
  ttft_ms: number | null;
  tpot_ms: number | null;
  e2e_latency_ms: number | null;
  client_queue_ms: number | null;
}

/** The completed measured requests of these (run, iteration) pairs. */
export async function loadRequests(
  warehouse: Warehouse,
  points: readonly Pick<PointRow, 'run_id' | 'iteration'>[],
): Promise<RequestSample[]> {
  const out: RequestSample[] = [];
  for (const { run_id, iteration } of points) {
    const { rows } = await warehouse.json(
      `SELECT * FROM (
         SELECT request_id, trace_id, phase, status, ttft_ms, tpot_ms, e2e_latency_ms, client_queue_ms,
           row_number() OVER (ORDER BY rowid) AS line
         FROM request_fact WHERE run_id = $1 AND iteration = $2)
       WHERE phase = 'measured' AND status = 'ok'`,
      [run_id, iteration],
    );
    for (const row of rows) {
      out.push({
        run_id,
        iteration,
        request_id: String(row.request_id),
        trace_id: row.trace_id === null ? null : String(row.trace_id),
        line: Number(row.line),
        ttft_ms: num(row.ttft_ms),
        tpot_ms: num(row.tpot_ms),
        e2e_latency_ms: num(row.e2e_latency_ms),
        client_queue_ms: num(row.client_queue_ms),
      });
    }
  }
  return out;
}

/** One window of one family at one scope. */
export interface TelemetryWindow {
  start_us: number;
  end_us: number;
  value: number;
  source_path: string | null;
}

/** A family's series at one scope over a point: its windows and their mean. */
export interface ScopedSeries {
  run_id: string;
  family: string;
  unit: string;
  scope: string;
  scope_id: string;
  node_name: string | null;
  /** The windows' mean: a gauge's mean level, a counter's mean rate, a histogram's mean. */
  mean: number;
  max: number;
  windows: TelemetryWindow[];
}

/** Units whose series at one scope add up (requests, rates, memory); the rest (fractions, clocks, means) average. */
const SUMMED_UNITS = new Set(['requests', 'per_s', 'tokens_per_s', 'cpu_s_per_s', 'MiB']);

/**
 * The point's telemetry by (family, scope, scope_id): gauges by their window means,
 * counters by their window rates, histograms by their window means. Several series of
 * one family at one scope (an engine or model each) are summed per window where they count
 * (requests, rates, memory) and averaged where they are levels (usage, clocks, means).
 */
export async function loadTelemetry(
  warehouse: Warehouse,
  points: readonly Pick<PointRow, 'run_id' | 'iteration'>[],
): Promise<ScopedSeries[]> {
  const out: ScopedSeries[] = [];
  for (const { run_id, iteration } of points) {
    const { rows } = await warehouse.json(
      `SELECT family, any_value(unit) AS unit, scope, scope_id, any_value(node_name) AS node_name,
         window_start_us, window_end_us, sum(value) AS total, avg(value) AS average, any_value(source_path) AS source_path
       FROM telemetry_slice_fact
       WHERE run_id = $1 AND iteration = $2 AND family IS NOT NULL AND scope <> 'iteration'
         AND stat IN ('mean', 'rate', 'hist_mean') AND window_start_us IS NOT NULL
       GROUP BY family, scope, scope_id, window_start_us, window_end_us
       ORDER BY family, scope, scope_id, window_start_us`,
      [run_id, iteration],
    );
    let current: ScopedSeries | null = null;
    for (const row of rows as Row[]) {
      const key = [row.family, row.scope, row.scope_id].join('\u0000');
      if (current === null || [current.family, current.scope, current.scope_id].join('\u0000') !== key) {
        current = {
          run_id,
          family: String(row.family),
          unit: String(row.unit ?? ''),
          scope: String(row.scope),
          scope_id: String(row.scope_id),
          node_name: row.node_name === null ? null : String(row.node_name),
          mean: 0,
          max: -Infinity,
          windows: [],
        };
        out.push(current);
      }
      // Counts and rates add up over the series of one scope (engines, models); levels do not.
      const value = Number(SUMMED_UNITS.has(String(row.unit ?? '')) ? row.total : row.average);
      current.windows.push({
        start_us: Number(row.window_start_us),
        end_us: Number(row.window_end_us),
        value,
        source_path: row.source_path === null ? null : String(row.source_path),
      });
    }
  }
  for (const series of out) {
    const values = series.windows.map((w) => w.value).filter(Number.isFinite);
    series.mean = values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
    series.max = values.length === 0 ? Number.NaN : Math.max(...values);
  }
  return out.filter((s) => Number.isFinite(s.mean));
}

/** A family's mean over its scopes (one number for the point), null when it was not scraped. */
export function familyMean(series: readonly ScopedSeries[], family: string, scope?: string): number | null {
  const of = series.filter((s) => s.family === family && (scope === undefined || s.scope === scope));
  return of.length === 0 ? null : of.reduce((a, s) => a + s.mean, 0) / of.length;
}
