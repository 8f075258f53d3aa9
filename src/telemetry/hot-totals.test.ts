/**
 * Hot totals on the wire: a run's records split over shards, each shard's totals sent as
 * JSON and summed, give the one-process totals; a series stays small whatever it counts;
 * and the schema refuses a series of the wrong shape or with impossible values, naming
 * the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MESSAGE_LIMIT_BYTES } from '../engine/shard-protocol.js';
import type { RequestRecord } from '../metrics/record.js';
import { evenChunks, streamedRecord } from '../metrics/testing/record-fixtures.js';
import { ERROR_CLASSES, OUTCOMES, PHASES } from './hot-labels.js';
import { HotTotals, hotSeriesWire, requestsCounted, type HotSeriesWire } from './hot-totals.js';

const C4 = { mode: 'concurrency', concurrency: 4 } as const;
const RATE = { mode: 'rate' } as const;

/** 60 records of every kind: warmup, ok with 1 to 40 chunks (some past the last bucket), errors, cancelled. */
function records(): RequestRecord[] {
  return Array.from({ length: 60 }, (_, index) => {
    const sent = index * 10;
    if (index % 11 === 3)
      return streamedRecord({ index, sent_ms: sent, status: 'error', error_class: 'http_429' });
    if (index % 13 === 5) return streamedRecord({ index, sent_ms: sent, status: 'cancelled' });
    return streamedRecord({
      index,
      phase: index < 4 ? 'warmup' : 'measured',
      sent_ms: sent,
      headers_ms: sent + 1,
      // TTFT from 2 ms to ~90 s (past the last TTFT bound), gaps of 0.4 to 3 s.
      chunks_ms: evenChunks(
        sent + 2 + (index % 7 === 0 ? 90_000 : index * 3.7),
        0.4 + (index % 5) * 0.7,
        1 + (index % 40),
      ),
    });
  });
}

/** JSON there and back, and through the schema, as a progress message's `hot` travels. */
function overTheWire(series: HotSeriesWire | null): HotSeriesWire {
  assert.ok(series);
  return hotSeriesWire.parse(JSON.parse(JSON.stringify(series)));
}

test("shards' totals, sent as JSON and summed, are the one-process totals", () => {
  const whole = new HotTotals();
  const shards = [new HotTotals(), new HotTotals(), new HotTotals()];
  for (const [plan, bucket] of [
    [C4, '2-4'],
    [RATE, 'rate'],
  ] as const) {
    whole.startIteration(plan);
    for (const s of shards) s.startIteration(plan);
    records().forEach((r, j) => {
      whole.record(plan, r);
      (shards[j % 3] as HotTotals).record(plan, r);
    });
    const sum = new HotTotals();
    for (const s of shards) sum.add(overTheWire(s.wire(bucket)));
    const a = whole.wire(bucket) as HotSeriesWire;
    const b = sum.wire(bucket) as HotSeriesWire;
    assert.deepEqual(b.requests, a.requests);
    assert.deepEqual(b.errors, a.errors);
    assert.equal(b.output_tokens, a.output_tokens);
    for (const name of ['ttft', 'tpot', 'itl', 'e2e'] as const) {
      assert.deepEqual(b[name].counts, a[name].counts, name);
      assert.equal(b[name].count, a[name].count, name);
      // Sums of the same values in another order: equal but for the last bits.
      assert.ok(Math.abs(b[name].sum - a[name].sum) <= 1e-9 * a[name].sum, name);
    }
    assert.equal(requestsCounted(a), 60);
    assert.equal(a.requests[PHASES.indexOf('warmup') * OUTCOMES.length + OUTCOMES.indexOf('ok')], 3);
    assert.equal(a.errors[ERROR_CLASSES.indexOf('http_429')], 6);
    assert.ok(a.ttft.count > a.ttft.counts.reduce((n, c) => n + c, 0), 'some TTFT above the last bound');
  }
  assert.equal(whole.wire('1'), null, 'no series for a bucket without records');
});

test('a series is a few hundred numbers, far under the message limit, whatever it counts', () => {
  const totals = new HotTotals();
  totals.startIteration(C4);
  for (const r of records()) totals.record(C4, r);
  const series = totals.wire('2-4') as HotSeriesWire;
  // About the largest values a series can hold: 15-digit counts in every bucket, 16-digit
  // totals, every sum a long fraction.
  const huge = JSON.parse(
    JSON.stringify(series, (key, value: unknown) => {
      if (typeof value !== 'number') return value;
      if (key === 'sum') return 1.2345678901234567e300;
      return /^\d+$/.test(key) ? 99_999_999_999_999 : Number.MAX_SAFE_INTEGER;
    }),
  ) as unknown;
  const parsed = hotSeriesWire.parse(huge);
  const bytes = Buffer.byteLength(JSON.stringify(parsed));
  console.log(`# one bucket's series: ${Buffer.byteLength(JSON.stringify(series))} bytes; at most ${bytes}`);
  assert.ok(bytes < MESSAGE_LIMIT_BYTES / 8, `${bytes} bytes`);
});

test('the schema refuses a series of the wrong shape or with impossible values, naming the field', () => {
  const totals = new HotTotals();
  totals.startIteration(C4);
  for (const r of records()) totals.record(C4, r);
  const good = totals.wire('2-4') as HotSeriesWire;
  const bad: [string, (s: Record<string, unknown> & HotSeriesWire) => void][] = [
    ['ttft.counts', (s) => s.ttft.counts.push(0)],
    ['itl.counts', (s) => s.itl.counts.pop()],
    ['requests', (s) => s.requests.push(1)],
    ['errors', (s) => (s.errors = [])],
    ['requests.0', (s) => (s.requests[0] = -1)],
    ['errors.1', (s) => (s.errors[1] = 0.5)],
    ['output_tokens', (s) => (s.output_tokens = Number.NaN)],
    ['e2e.sum', (s) => (s.e2e.sum = -3)],
    ['tpot.count', (s) => (s.tpot.count = 0)],
    ['bucket', (s) => ((s as { bucket: string }).bucket = '16')],
    ['', (s) => (s.labels = { run_id: 'x' })],
  ];
  assert.equal(hotSeriesWire.safeParse(good).success, true);
  for (const [path, spoil] of bad) {
    const copy = JSON.parse(JSON.stringify(good)) as Record<string, unknown> & HotSeriesWire;
    spoil(copy);
    // JSON has no NaN: it arrives as null, which is refused as well.
    const parsed = hotSeriesWire.safeParse(JSON.parse(JSON.stringify(copy)));
    assert.equal(parsed.success, false, path);
    assert.equal(parsed.error?.issues[0]?.path.join('.'), path, JSON.stringify(parsed.error?.issues[0]));
  }
});
