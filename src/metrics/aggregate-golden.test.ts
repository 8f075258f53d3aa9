// The whole iteration summary, pinned byte for byte: fixed records of every kind (warmup,
// errors of each class, cancelled, reasoning, tokenizer counts, no tokens at all, open and
// closed loop) summarised and compared with fixtures/metrics/iteration-summaries.json, so a
// refactor of summarizeIteration cannot change one figure, field order or warning.
// INFERMARK_UPDATE_GOLDEN=1 rewrites the file from the code (for a deliberate change only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { summarizeIteration } from './aggregate.js';
import { type IterationInfo, type IterationSummary } from './iteration-summary.js';
import type { ErrorClass, RequestRecord } from './record.js';
import { evenChunks, streamedRecord } from './testing/record-fixtures.js';
import type { Slo } from '../spec/slo-types.js';

const GOLDEN = fileURLToPath(new URL('../../../fixtures/metrics/iteration-summaries.json', import.meta.url));

const SLOS: Slo[] = [
  { text: 'p99_ttft_ms<=200', metric: 'ttft_ms', percentile: 99, op: '<=', threshold: 200 },
  { text: 'p50_tpot_ms<=12', metric: 'tpot_ms', percentile: 50, op: '<=', threshold: 12 },
  { text: 'itl_ms<40', metric: 'itl_ms', percentile: null, op: '<', threshold: 40 },
  { text: 'p90_e2e_latency_ms<=900', metric: 'e2e_latency_ms', percentile: 90, op: '<=', threshold: 900 },
  { text: 'p99.9_ttfb_ms<50', metric: 'ttfb_ms', percentile: 99.9, op: '<', threshold: 50 },
];

const CLASSES: (ErrorClass | null)[] = [
  'http_4xx',
  'http_429',
  'http_5xx',
  'timeout',
  'connection',
  'protocol',
  'oversize',
  null,
];

/** A deterministic spread in [0, n): no randomness, the same records on every run. */
const spread = (i: number, n: number): number => (i * 7919 + 104_729) % n;

/** A mixed iteration: `n` requests starting every `every_ms`, with some of every kind. */
function mixedRecords(n: number, every_ms: number, queue_ms: number): RequestRecord[] {
  const records: RequestRecord[] = [];
  for (let i = 0; i < n; i++) {
    const sent = 1000 + i * every_ms + spread(i, 13);
    const first = sent + 40 + spread(i, 170);
    const chunks = 2 + spread(i, 9);
    const gap = 5 + spread(i, 11) * 1.5;
    const base = {
      index: i,
      iteration: 1,
      scheduled_ms: sent - spread(i, queue_ms + 1),
      sent_ms: sent,
      headers_ms: sent + 10 + spread(i, 45),
      input_tokens: 50 + spread(i, 400),
    };
    if (i % 17 === 5) {
      const r = streamedRecord({ ...base, status: 'error', done_ms: sent + 30 + spread(i, 500) });
      r.error_class = CLASSES[spread(i, CLASSES.length)] as ErrorClass | null;
      records.push(r);
    } else if (i % 23 === 7) {
      records.push(
        streamedRecord({ ...base, status: 'cancelled', chunks_ms: evenChunks(first, gap, 2), done_ms: null }),
      );
    } else if (i % 11 === 3) {
      // A single chunk of several tokens (TPOT and ITL absent), counted by the tokenizer.
      records.push(
        streamedRecord({
          ...base,
          chunks_ms: [first],
          chunk_tokens: [3 + spread(i, 5)],
          output_tokens_source: 'tokenizer',
          input_tokens_source: 'workload',
        }),
      );
    } else {
      const reasoning = i % 4 === 1;
      records.push(
        streamedRecord({
          ...base,
          chunks_ms: evenChunks(first, gap, chunks),
          chunk_tokens: Array.from({ length: chunks }, (_, k) => 1 + ((i + k) % 3)),
          // A server count that is not the sum of the chunks: the peak bucket scales them.
          ...(i % 9 === 2 ? { output_tokens: chunks * 2 + 1 } : {}),
          ...(reasoning ? { first_output_ms: first + gap, reasoning_tokens: 1 + spread(i, 6) } : {}),
          done_ms: first + gap * (chunks - 1) + spread(i, 4),
        }),
      );
    }
  }
  for (let w = 0; w < 3; w++) {
    records.push(
      streamedRecord({
        index: n + w,
        iteration: 1,
        phase: 'warmup',
        sent_ms: w * 10,
        chunks_ms: [20 + w * 10],
      }),
    );
  }
  return records;
}

const base = (over: Partial<IterationInfo>): IterationInfo => ({
  iteration: 1,
  scenario: 'N(480,240)/(300,150)',
  mode: 'concurrency',
  wall_s: 12.5,
  warmup_requests: 0,
  ended_by: 'max_requests',
  ...over,
});

const CASES: { name: string; records: RequestRecord[]; info: IterationInfo; slos: Slo[] }[] = [
  {
    name: 'closed loop, SLOs, every kind of record, a quiet event loop',
    records: mixedRecords(120, 20, 0),
    info: base({
      concurrency: 8,
      planned_requests: 120,
      warmup_requests: 2,
      event_loop_delay: { p99_ms: 1.25, max_ms: 3.5 },
    }),
    slos: SLOS,
  },
  {
    name: 'open loop, enough samples for a p99, dropped and late arrivals, a slow event loop',
    records: mixedRecords(420, 4, 25),
    info: base({
      iteration: 2,
      mode: 'rate',
      rate_rps: 250,
      planned_requests: 450,
      dropped_arrivals: 30,
      late_arrivals: 12,
      warmup_requests: 5,
      event_loop_delay: { p99_ms: 14.75, max_ms: 40 },
      ended_by: 'max_time',
    }),
    slos: SLOS.slice(0, 2),
  },
  {
    name: 'trace replay that ended with only errors and tokenless answers',
    records: [
      streamedRecord({ index: 0, sent_ms: 0, headers_ms: 12, chunks_ms: [], done_ms: 90 }),
      streamedRecord({ index: 1, sent_ms: 5, status: 'error', error_class: 'timeout', done_ms: 500 }),
      streamedRecord({ index: 2, sent_ms: 9, headers_ms: 20, chunks_ms: [], done_ms: 140, output_tokens: 0 }),
    ],
    info: base({ iteration: 3, mode: 'trace', wall_s: 1, ended_by: 'trace_end' }),
    slos: SLOS.slice(2),
  },
  {
    name: 'interrupted before anything was measured',
    records: [streamedRecord({ index: 0, phase: 'warmup', sent_ms: 0, chunks_ms: [10, 20] })],
    info: base({ iteration: 4, wall_s: 0.2, warmup_requests: 4, ended_by: 'interrupted' }),
    slos: [],
  },
  {
    name: 'nothing at all',
    records: [],
    info: base({ iteration: 5, mode: 'rate', rate_rps: 1, wall_s: 0, ended_by: 'fail_fast' }),
    slos: SLOS,
  },
];

test('summarizeIteration: every field of every case is the pinned one, byte for byte', async () => {
  const summaries: Record<string, IterationSummary> = {};
  for (const c of CASES) summaries[c.name] = summarizeIteration(c.records, c.info, c.slos);
  if (process.env.INFERMARK_UPDATE_GOLDEN === '1')
    await writeFile(GOLDEN, `${JSON.stringify(summaries, null, 2)}\n`);
  const pinned = JSON.parse(await readFile(GOLDEN, 'utf8')) as unknown;
  assert.deepEqual(summaries, pinned);
  // The file's layout is prettier's; its content, serialised again, must be the code's to the byte.
  assert.equal(JSON.stringify(summaries), JSON.stringify(pinned), 'same figures, same field order');
});

test('the pinned cases exercise what they claim', async () => {
  const pinned = JSON.parse(await readFile(GOLDEN, 'utf8')) as Record<string, IterationSummary>;
  const [closed, open, trace, interrupted, nothing] = CASES.map((c) => pinned[c.name] as IterationSummary);
  assert.ok(closed && open && trace && interrupted && nothing);
  assert.ok(Object.values(closed.requests.errors_by_class).filter((n) => n > 0).length >= 4);
  assert.ok(closed.requests.cancelled > 0 && closed.tokens.reasoning_total > 0);
  assert.ok(closed.tokens.output_tokens_source.tokenizer > 0);
  assert.equal(closed.flags.low_samples, true);
  assert.equal(open.flags.event_loop_flag, true);
  assert.equal(open.flags.dropped_arrivals, true);
  assert.ok((open.distributions.ttft_ms.count as number) >= 370);
  assert.equal(trace.duration_basis, 'done');
  assert.equal(interrupted.requests.measured, 0);
  assert.equal(nothing.requests.total, 0);
});
