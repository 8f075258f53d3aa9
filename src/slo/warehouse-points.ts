/**
 * Points from the warehouse: serving_outcome_fact says each iteration's scenario, load and
 * outcomes, request_fact holds every request's TTFT, TPOT and E2E latency as ingested
 * from the run folder (completed measured requests only).
 */
import { ExitCode, InfermarkError } from '../base/errors.js';
import type { SqlHandle } from '../warehouse/sql.js';
import type { IterationPoint, LoadKind } from './points.js';

const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** Every iteration of the run `runId` (already resolved), in iteration order. */
export async function warehouseIterations(warehouse: SqlHandle, runId: string): Promise<IterationPoint[]> {
  const outcomes = await warehouse.all(
    `SELECT iteration, scenario, mode, concurrency, rate_rps, requests_completed, requests_errored
       FROM serving_outcome_fact WHERE run_id = $1 ORDER BY iteration`,
    [runId],
  );
  if (outcomes.length === 0) {
    throw new InfermarkError(
      'E_NO_POINTS',
      `run ${runId} has no iterations in the warehouse`,
      ExitCode.badInput,
    );
  }
  const requests = await warehouse.all(
    `SELECT iteration, ttft_ms, tpot_ms, e2e_latency_ms FROM request_fact
      WHERE run_id = $1 AND phase = 'measured' AND status = 'ok'`,
    [runId],
  );
  const byIteration = new Map<number, IterationPoint>();
  const points = outcomes.map((row) => {
    const mode = String(row.mode) as LoadKind;
    const point: IterationPoint = {
      iteration: Number(row.iteration),
      scenario: String(row.scenario),
      load_kind: mode,
      load: mode === 'concurrency' ? num(row.concurrency) : mode === 'rate' ? num(row.rate_rps) : null,
      completed: num(row.requests_completed) ?? 0,
      errored: num(row.requests_errored) ?? 0,
      samples: { ttft_ms: [], tpot_ms: [], e2e_latency_ms: [] },
    };
    byIteration.set(point.iteration, point);
    return point;
  });
  for (const row of requests) {
    const point = byIteration.get(Number(row.iteration));
    if (point === undefined) continue;
    for (const field of ['ttft_ms', 'tpot_ms', 'e2e_latency_ms'] as const) {
      const value = num(row[field]);
      if (value !== null && Number.isFinite(value)) point.samples[field].push(value);
    }
  }
  return points;
}
