/**
 * A run group as the gate reads it, from the warehouse instead of the run folders:
 * the per-repeat, per-point values come from serving_outcome_fact (the numbers of
 * each iteration's summary.json, stored as they were), the point's context from
 * request_fact and telemetry_slice_fact, and the per-request values of the
 * bootstrap intervals from request_fact, so a group whose raw folders are in
 * object storage, or gone, can still be gated and reported. What the warehouse
 * does not keep: the client's event-loop p99 (context reads null) and the single
 * inter-token gaps (no per-repeat interval for ITL keys).
 */
import { resolveRunId } from '../warehouse/queries.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import type { Row } from '../warehouse/sql.js';
import { ERROR_CLASSES } from '../telemetry/hot-labels.js';
import type { IterationMode } from '../metrics/iteration-summary.js';
import { gatedMetrics, LATENCIES, LATENCY_STATS, pointOf, type GatedSource } from './metric-keys.js';
import { explainingSlices, groupError, type Repeat, type RunGroup, type SampleSource } from './run-group.js';

const inList = (count: number): string =>
  `(${Array.from({ length: count }, (_, i) => `$${i + 1}`).join(', ')})`;

/** The warehouse columns of the gated latency statistics (`ttft_ms_p50`, …, `ttft_ms_count`). */
const DISTRIBUTION_COLUMNS = LATENCIES.flatMap((metric) =>
  [...LATENCY_STATS, 'count'].map((stat) => `${metric}_${stat}`),
);

/**
 * Loads the repeats `runIds` (in that order) as loadRunGroup loads their folders;
 * refuses what is not a whole infermark run of one case, as it does.
 */
export async function loadRunGroupFromWarehouse(warehouse: Warehouse, runIds: string[]): Promise<RunGroup> {
  if (runIds.length === 0) throw groupError('no runs given');
  const ids = inList(runIds.length);
  const runs = new Map(
    (
      await warehouse.all(
        `SELECT r.run_id, r.run_group_id, r.benchmark_case_id, r.artifact_manifest_digest, r.started_at,
           r.source, r.status, r.model, r.engine, r.engine_version, r.gpu_type, r.gpu_count,
           h.client_cpu_model, h.client_cores, l.raw_uris
         FROM benchmark_run_fact r
         LEFT JOIN hardware_topology_dim h USING (hardware_topology_id)
         LEFT JOIN artifact_lineage_dim l USING (run_id)
         WHERE r.run_id IN ${ids}`,
        runIds,
      )
    ).map((r) => [String(r.run_id), r]),
  );
  const outcomes = await warehouse.all(
    `SELECT run_id, iteration, scenario, mode, concurrency, rate_rps, error_rate, dropped_arrivals,
       event_loop_flag, output_throughput_tokens_per_s, request_throughput_rps, goodput_rps,
       ${DISTRIBUTION_COLUMNS.join(', ')}
     FROM serving_outcome_fact WHERE run_id IN ${ids} ORDER BY run_id, iteration`,
    runIds,
  );
  const errors = await warehouse.all(
    `SELECT run_id, iteration, coalesce(error_class, 'unclassified') AS error_class, count(*) AS n
     FROM request_fact WHERE run_id IN ${ids} AND phase <> 'warmup' AND status = 'error'
     GROUP BY ALL`,
    runIds,
  );
  const slices = await warehouse.all(
    `SELECT run_id, scope_id, metric, value, unit FROM telemetry_slice_fact
     WHERE run_id IN ${ids} AND scope = 'iteration' ORDER BY rowid`,
    runIds,
  );
  const at = (r: Row): string => `${String(r.run_id)}/${Number(r.iteration ?? r.scope_id)}`;

  let first: Row | null = null;
  const repeats: Repeat[] = [];
  for (const runId of runIds) {
    const run = runs.get(runId);
    if (!run) throw groupError(`run ${runId}: not in the warehouse`);
    if (run.source !== 'infermark') {
      throw groupError(
        `run ${runId}: imported from ${String(run.source)}; a gate compares infermark runs only`,
      );
    }
    if (run.status === 'failed') {
      throw groupError(`run ${runId}: the run failed; a gate compares runs that completed only`);
    }
    if (run.status !== 'complete') {
      throw groupError(
        `run ${runId}: is not a complete run (${String(run.status)}); a gate compares whole runs only`,
      );
    }
    first ??= run;
    if (run.benchmark_case_id !== first.benchmark_case_id) {
      throw groupError(
        `run ${runId}: benchmark_case_id ${String(run.benchmark_case_id)} differs from ${String(first.benchmark_case_id)} (run ${String(first.run_id)}): the repeats of a group must be the same case`,
      );
    }
    const repeat: Repeat = {
      run_id: runId,
      dir: (Array.isArray(run.raw_uris) ? run.raw_uris.map(String) : [])[0] ?? '',
      run_group_id: nullableString(run.run_group_id),
      benchmark_case_id: String(run.benchmark_case_id),
      artifact_manifest_digest: String(run.artifact_manifest_digest),
      started_at: run.started_at instanceof Date ? run.started_at.toISOString() : String(run.started_at),
      metrics: new Map(),
      context: new Map(),
      iterations: new Map(),
    };
    for (const o of outcomes.filter((row) => row.run_id === runId)) {
      const source = gatedSource(o);
      const point = `${source.scenario}.${pointOf(source)}`;
      for (const metric of gatedMetrics(source)) repeat.metrics.set(metric.key, metric);
      const byClass = errors.filter((e) => at(e) === at(o));
      repeat.context.set(point, {
        error_rate: num(o.error_rate),
        errors_by_class: Object.fromEntries(
          ERROR_CLASSES.flatMap((c) => {
            const n = Number(byClass.find((e) => e.error_class === c)?.n ?? 0);
            return n > 0 ? [[c, n]] : [];
          }),
        ),
        event_loop_p99_ms: null,
        event_loop_flag: o.event_loop_flag === true,
        dropped_arrivals: Number(o.dropped_arrivals ?? 0),
        server: explainingSlices(
          slices
            .filter((s) => at(s) === at(o))
            .map((s) => ({ metric: String(s.metric), value: Number(s.value), unit: nullableString(s.unit) })),
        ),
      });
    }
    repeats.push(repeat);
  }
  const lead = first as Row;
  const groupIds = new Set(repeats.map((r) => r.run_group_id));
  return {
    run_group_id: groupIds.size === 1 ? ([...groupIds][0] ?? null) : null,
    config_fingerprint: String(lead.benchmark_case_id),
    testbed: {
      client_cpu: nullableString(lead.client_cpu_model) ?? 'unknown',
      client_cores: num(lead.client_cores) ?? 0,
      engine: nullableString(lead.engine),
      engine_version: nullableString(lead.engine_version),
      gpu_type: nullableString(lead.gpu_type),
      gpu_count: num(lead.gpu_count),
      model: nullableString(lead.model) ?? 'unknown',
    },
    repeats,
  };
}

/**
 * The runs an id names in the warehouse: a run (its run_id, or a unique prefix), else
 * a run_group_id's repeats in run_id order, the order a group folder lists them in.
 */
export async function runIdsOf(warehouse: Warehouse, id: string): Promise<string[]> {
  const exact = await warehouse.all('SELECT run_id FROM benchmark_run_fact WHERE run_id = $1', [id]);
  if (exact.length > 0) return [id];
  const group = await warehouse.all(
    'SELECT run_id FROM benchmark_run_fact WHERE run_group_id = $1 ORDER BY run_id',
    [id],
  );
  if (group.length > 0) return group.map((r) => String(r.run_id));
  return [await resolveRunId(warehouse, id)];
}

/** request_fact columns of the latencies a bootstrap interval is drawn from (single ITL gaps are not stored). */
const REQUEST_COLUMNS: Record<string, string> = {
  ttft_ms: 'ttft_ms',
  tpot_ms: 'tpot_ms',
  e2e_latency_ms: 'e2e_latency_ms',
};

/**
 * Per-request values from request_fact: the completed measured requests of the
 * repeat's iteration at the point, in the order their records file held them
 * (ingest inserts each file in order), as requestSamples reads them.
 */
export function warehouseSamples(warehouse: Warehouse): SampleSource {
  return async (repeat, point, metric) => {
    const column = REQUEST_COLUMNS[metric];
    if (column === undefined) return [];
    const iterations = await warehouse.all(
      'SELECT iteration, scenario, mode, concurrency, rate_rps FROM serving_outcome_fact WHERE run_id = $1',
      [repeat.run_id],
    );
    const at = iterations.find((o) => {
      const source = gatedSource(o);
      return `${source.scenario}.${pointOf(source)}` === point;
    });
    if (!at) return [];
    const rows = await warehouse.all(
      `SELECT ${column} AS v FROM request_fact
       WHERE run_id = $1 AND iteration = $2 AND phase = 'measured' AND status = 'ok' AND ${column} IS NOT NULL
       ORDER BY rowid`,
      [repeat.run_id, Number(at.iteration)],
    );
    return rows.map((r) => Number(r.v));
  };
}

/** A serving_outcome_fact row in the shape gatedMetrics reads (the summary's own numbers). */
function gatedSource(o: Row): GatedSource {
  const distribution = (metric: string): GatedSource['distributions']['ttft_ms'] => ({
    p50: num(o[`${metric}_p50`]),
    p90: num(o[`${metric}_p90`]),
    p99: num(o[`${metric}_p99`]),
    mean: num(o[`${metric}_mean`]),
    count: Number(o[`${metric}_count`] ?? 0),
  });
  return {
    scenario: String(o.scenario),
    mode: String(o.mode) as IterationMode,
    concurrency: num(o.concurrency),
    rate_rps: num(o.rate_rps),
    output_throughput_tokens_per_s: num(o.output_throughput_tokens_per_s),
    request_throughput_rps: num(o.request_throughput_rps),
    goodput_rps: num(o.goodput_rps),
    error_rate: num(o.error_rate),
    distributions: {
      ttft_ms: distribution('ttft_ms'),
      tpot_ms: distribution('tpot_ms'),
      itl_ms: distribution('itl_ms'),
      e2e_latency_ms: distribution('e2e_latency_ms'),
    },
  };
}

function num(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function nullableString(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
