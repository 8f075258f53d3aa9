/**
 * Multi-turn figures by turn index (summary.json's `per_turn`): the TTFT of turn 5 against
 * turn 1 is what a prefix cache does for a conversation's growing history. Over measured
 * requests only, as every other figure; turns with no measured request are left out.
 */
import type { TurnSummary } from './iteration-summary.js';
import { describe } from './percentiles.js';
import type { RequestRecord } from './record.js';
import { requestMetrics } from './request-metrics.js';

/** Each turn index's completed and errored measured requests and their distributions; null without turns. */
export function perTurnSummary(measured: readonly RequestRecord[]): TurnSummary[] | null {
  const byTurn = new Map<number, RequestRecord[]>();
  for (const r of measured) {
    if (r.turn_index === null || r.turn_index === undefined) continue;
    let list = byTurn.get(r.turn_index);
    if (!list) byTurn.set(r.turn_index, (list = []));
    list.push(r);
  }
  if (byTurn.size === 0) return null;
  return [...byTurn.keys()]
    .sort((a, b) => a - b)
    .map((turn_index) => {
      const records = byTurn.get(turn_index) as RequestRecord[];
      const completed = records.filter((r) => r.status === 'ok');
      const metrics = completed.map(requestMetrics);
      const present = (values: (number | null)[]): number[] => values.filter((v): v is number => v !== null);
      return {
        turn_index,
        completed: completed.length,
        errored: records.filter((r) => r.status === 'error').length,
        ttft_ms: describe(present(metrics.map((m) => m.ttft_ms))),
        e2e_latency_ms: describe(present(metrics.map((m) => m.e2e_latency_ms))),
        input_tokens: describe(completed.map((r) => r.input_tokens)),
      };
    });
}
