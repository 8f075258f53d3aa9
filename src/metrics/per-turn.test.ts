// per_turn: measured requests by turn index, warmup and single requests left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { perTurnSummary } from './per-turn.js';
import { emptyRecord, type RequestRecord } from './record.js';

/** A completed request of `turn` with a TTFT of `ttftMs`. */
function turn(
  index: number,
  turnIndex: number | null,
  ttftMs: number,
  status: RequestRecord['status'] = 'ok',
) {
  const r = emptyRecord(`0-${index}`, 0, index, 'measured', 0, 10 * (1 + (turnIndex ?? 0)));
  r.sent_at_us = 1_000;
  r.first_token_at_us = 1_000 + ttftMs * 1000;
  r.first_output_at_us = r.first_token_at_us;
  r.last_token_at_us = r.first_token_at_us + 2_000;
  r.done_at_us = r.last_token_at_us;
  r.chunk_times_us = [r.first_token_at_us, r.last_token_at_us];
  r.chunk_tokens = [1, 1];
  r.output_tokens = 2;
  r.status = status;
  if (status === 'error') r.error_class = 'http_5xx';
  r.conversation_id = turnIndex === null ? null : `0-${Math.floor(index / 2)}`;
  r.turn_index = turnIndex;
  return r;
}

test('each turn index its own counts and distributions, in turn order', () => {
  const summary = perTurnSummary([
    turn(3, 1, 30),
    turn(0, 0, 10),
    turn(1, 1, 50),
    turn(2, 0, 20),
    turn(5, 1, 0, 'error'),
  ]);
  assert.deepEqual(
    summary?.map((t) => [t.turn_index, t.completed, t.errored, t.ttft_ms.p50, t.input_tokens.mean]),
    [
      [0, 2, 0, 15, 10],
      [1, 2, 1, 40, 20],
    ],
  );
});

test('no turns, no per_turn: single requests are not a turn', () => {
  assert.equal(perTurnSummary([turn(0, null, 10), turn(1, null, 12)]), null);
  assert.equal(perTurnSummary([]), null);
});
