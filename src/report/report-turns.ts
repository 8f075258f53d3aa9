/**
 * The per-turn table of a multi-turn run (docs/multi-turn.md): TTFT by turn index at each
 * point, read from request_fact's turn_index. A later turn carries a longer history, so its
 * TTFT against turn 0 shows what the server's prefix cache saves. Absent for other runs.
 */
import type { Warehouse } from '../warehouse/warehouse.js';

/** What the table needs of a report's subject (report-data.ts's Subject has it). */
interface TurnSubject {
  run_ids: string[];
  points: { iteration: number; scenario: string; concurrency: number | null; rate_rps: number | null }[];
}

/** One turn index at one point of the subject's first run. */
export interface TurnRow {
  run_id: string;
  iteration: number;
  scenario: string;
  concurrency: number | null;
  rate_rps: number | null;
  turn_index: number;
  /** Completed measured requests of this turn. */
  requests: number;
  ttft_ms_p50: number | null;
  ttft_ms_p99: number | null;
  input_tokens_mean: number | null;
}

/** The subject's first run's turns, by point then turn index; empty when it has none. */
export async function perTurnRows(warehouse: Warehouse, subject: TurnSubject): Promise<TurnRow[]> {
  const runId = subject.run_ids[0];
  if (runId === undefined) return [];
  // quantile_cont interpolates linearly: numpy's default, as every percentile of the summaries.
  const { rows } = await warehouse.json(
    `SELECT iteration, turn_index, count(*)::INTEGER AS requests,
       quantile_cont(ttft_ms, 0.5) AS ttft_ms_p50, quantile_cont(ttft_ms, 0.99) AS ttft_ms_p99,
       avg(input_tokens)::DOUBLE AS input_tokens_mean
     FROM request_fact
     WHERE run_id = $1 AND phase = 'measured' AND status = 'ok' AND turn_index IS NOT NULL
     GROUP BY iteration, turn_index ORDER BY iteration, turn_index`,
    [runId],
  );
  const points = new Map<number, TurnSubject['points'][number]>(subject.points.map((p) => [p.iteration, p]));
  return rows.map((r) => {
    const point = points.get(Number(r.iteration));
    return {
      run_id: runId,
      iteration: Number(r.iteration),
      scenario: point?.scenario ?? '',
      concurrency: point?.concurrency ?? null,
      rate_rps: point?.rate_rps ?? null,
      turn_index: Number(r.turn_index),
      requests: Number(r.requests),
      ttft_ms_p50: numberOrNull(r.ttft_ms_p50),
      ttft_ms_p99: numberOrNull(r.ttft_ms_p99),
      input_tokens_mean: numberOrNull(r.input_tokens_mean),
    };
  });
}

function numberOrNull(value: unknown): number | null {
  const n = typeof value === 'number' ? value : Number(value);
  return value === null || value === undefined || !Number.isFinite(n) ? null : n;
}

export const TURN_HEADERS = ['point', 'turn', 'requests', 'TTFT p50', 'TTFT p99', 'input tokens (mean)'];

/** One table row's cells; `point` names the point as the report does elsewhere. */
export function turnCells(row: TurnRow, point: string): unknown[] {
  return [point, row.turn_index, row.requests, row.ttft_ms_p50, row.ttft_ms_p99, row.input_tokens_mean];
}

export const TURN_NOTE =
  'Multi-turn: TTFT by turn index over the measured, completed requests of the first run (request_fact.turn_index). Each turn carries the conversation so far, so a later turn has a longer prompt; a server with a prefix cache answers it sooner than its length alone would say.';
