// The terminal summary table: columns, alignment, flags, goodput, SLOs, width and colour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeIteration } from '../metrics/aggregate.js';
import { type IterationInfo, type IterationSummary } from '../metrics/iteration-summary.js';
import { evenChunks, streamedRecord } from '../metrics/testing/record-fixtures.js';
import type { Slo } from '../spec/slo-types.js';
import { errorCell, formatFigure, renderSummaryTable } from './summary-table.js';

const info = (over: Partial<IterationInfo>): IterationInfo => ({
  iteration: 0,
  scenario: 'D(100,100)',
  mode: 'concurrency',
  concurrency: 1,
  wall_s: 10,
  warmup_requests: 0,
  ended_by: 'max_requests',
  ...over,
});

function iteration(n: number, over: Partial<IterationInfo>, slos: Slo[] = []): IterationSummary {
  const records = Array.from({ length: n }, (_, i) =>
    streamedRecord({ index: i, sent_ms: i * 1000, chunks_ms: evenChunks(i * 1000 + 120, 20, 11) }),
  );
  records.push(
    streamedRecord({ index: n, sent_ms: 0, status: 'error', error_class: 'http_5xx', done_ms: 5 }),
  );
  return summarizeIteration(records, info(over), slos);
}

test('one row per iteration with the expected columns, aligned', () => {
  const table = renderSummaryTable([
    iteration(5, { iteration: 0, concurrency: 1 }),
    iteration(5, { iteration: 1, scenario: 'N(480,240)/(300,150)', concurrency: 16 }),
    iteration(5, { iteration: 2, mode: 'rate', rate_rps: 2.5, concurrency: undefined }),
  ]);
  const lines = table.trimEnd().split('\n');
  const header = lines[0] as string;
  for (const name of [
    'scenario',
    'load',
    'ok/err',
    'req/s',
    'out tok/s',
    'TTFT p50',
    'TTFT p99',
    'TPOT p50',
    'ITL p99',
    'E2E p99',
    'err%',
    'flags',
  ]) {
    assert.ok(header.includes(name), `header has ${name}`);
  }
  assert.ok(!header.includes('goodput'), 'no goodput column without SLOs');
  assert.match(lines[1] as string, /^-+( +-+)+$/);
  const row = lines[2] as string;
  assert.match(row, /^D\(100,100\) +c=1 +5\/1 /);
  assert.match(row, / 120 +120 +20\.0 +20\.0 +320 +16\.7 \(http_5xx 1\) +⚠ n<370$/);
  assert.match(lines[3] as string, /^N\(480,240\)\/\(300,150\) +c=16 /);
  assert.match(lines[4] as string, / 2\.5 rps /);
  // right-aligned numeric columns end at the same offset as their header
  const end = header.indexOf('TTFT p99') + 'TTFT p99'.length;
  for (const r of lines.slice(2, 5)) assert.equal(r.slice(end - 3, end), '120');
  assert.match(table, /latencies in ms/);
  assert.match(table, /⚠ n<370: a p99 comes from fewer than 370 samples/);
  assert.ok(!table.includes('\x1b['), 'no colour unless asked');
});

test('goodput column with SLOs; flags for event loop, dropped arrivals, interruption', () => {
  const slos: Slo[] = [
    { text: 'p99_ttft_ms<=200', metric: 'ttft_ms', percentile: 99, op: '<=', threshold: 200 },
  ];
  const s = iteration(
    4,
    {
      mode: 'rate',
      rate_rps: 1,
      dropped_arrivals: 2,
      event_loop_delay: { p99_ms: 15, max_ms: 40 },
      ended_by: 'interrupted',
    },
    slos,
  );
  const table = renderSummaryTable([s]);
  assert.match(table.split('\n')[0] as string, /goodput\/s/);
  // 4 of 5 finished requests good, over a 3.32 s window
  assert.match(table, / 1\.20 \(80%\) /);
  assert.match(table, /⚠ n<370,loop,drop,intr/);
  assert.match(table, /⚠ loop: /);
  assert.match(table, /⚠ drop: /);
});

test('each SLO at its percentile: met / not met per row, with the measured values under the table', () => {
  const slos: Slo[] = [
    { text: 'p99_ttft_ms<=100', metric: 'ttft_ms', percentile: 99, op: '<=', threshold: 100 },
    { text: 'p99_tpot_ms <= 25', metric: 'tpot_ms', percentile: 99, op: '<=', threshold: 25 },
  ];
  const table = renderSummaryTable([
    iteration(5, { concurrency: 1 }, slos),
    iteration(5, { concurrency: 4 }, slos),
  ]);
  const lines = table.split('\n');
  assert.match(lines[0] as string, /SLOs met/);
  // TTFT is 120 ms for every request (p99 120 > 100), TPOT 20 ms (≤ 25) but 1 of 6 errored:
  // more than the 1% a p99 allows, so neither is met.
  assert.match(lines[2] as string, / 0\/2 ✗ /);
  assert.ok(
    lines.includes('SLO p99_ttft_ms<=100: NOT MET in 2 of 2 rows; measured p99 per row: 120 ✗, 120 ✗'),
    table,
  );
  assert.ok(
    lines.includes(
      'SLO p99_tpot_ms<=25: NOT MET in 2 of 2 rows; measured p99 per row: 20.0 ✗ (+1 errored), 20.0 ✗ (+1 errored)',
    ),
    table,
  );
  const coloured = renderSummaryTable([iteration(5, {}, slos)], { color: true });
  assert.ok(coloured.includes('\x1b[31mSLO p99_ttft_ms<=100: NOT MET'), 'a missed SLO in red');
});

test('narrow terminals: the scenario is truncated, then the least important columns hidden', () => {
  const s = iteration(3, { scenario: 'N(480,240)/(300,150)-with-a-long-suffix' });
  const wide = renderSummaryTable([s]);
  const narrow = renderSummaryTable([s], { width: 90 });
  const lines = narrow.split('\n');
  assert.ok((lines[2] as string).length <= 90, `row fits: ${lines[2]}`);
  assert.match(lines[2] as string, /^N\(480,240\)\/…/);
  assert.ok(!(lines[0] as string).includes('E2E p99'));
  assert.ok((lines[0] as string).includes('TTFT p99'));
  assert.match(narrow, /hidden to fit 90 columns: E2E p99/);
  assert.ok(wide.includes('E2E p99'));
});

test('colour only when asked; empty input; number formatting', () => {
  const coloured = renderSummaryTable([iteration(2, {})], { color: true });
  const ESC = '\x1b[';
  assert.ok(coloured.includes(`${ESC}1mscenario`), 'bold header');
  assert.ok(coloured.includes(`${ESC}31m`), 'errors in red');
  assert.ok(coloured.includes(`${ESC}33m⚠`), 'flags in yellow');
  assert.equal(renderSummaryTable([]), 'no iterations\n');
  assert.deepEqual(
    [formatFigure(3.14159), formatFigure(31.4159), formatFigure(314.159), formatFigure(null)],
    ['3.14', '31.4', '314', '—'],
  );
});

test('the error column gives the rate and the errored requests by class, most first, compactly', () => {
  const records = [
    streamedRecord({ index: 0, sent_ms: 0, chunks_ms: evenChunks(120, 20, 11) }),
    ...Array.from({ length: 10 }, (_, i) =>
      streamedRecord({ index: 1 + i, sent_ms: 0, status: 'error', error_class: 'http_5xx', done_ms: 5 }),
    ),
    ...[1, 2].map((i) =>
      streamedRecord({ index: 20 + i, sent_ms: 0, status: 'error', error_class: 'timeout', done_ms: 5 }),
    ),
  ];
  const mixed = summarizeIteration(records, info({}), []);
  assert.equal(errorCell(mixed), '92.3 (http_5xx 10, timeout 2)');
  const table = renderSummaryTable([mixed]);
  assert.match(table, / 92\.3 \(http_5xx 10, timeout 2\) /);
  assert.match(table, /err% \(errored requests by class\)/);

  // Four classes: the three largest named, the rest counted.
  const classes = ['http_5xx', 'http_5xx', 'timeout', 'timeout', 'connection', 'protocol'] as const;
  const many = summarizeIteration(
    classes.map((error_class, i) =>
      streamedRecord({ index: i, sent_ms: 0, status: 'error', error_class, done_ms: 5 }),
    ),
    info({}),
    [],
  );
  assert.equal(errorCell(many), '100.0 (http_5xx 2, timeout 2, connection 1, +1)');
  // Nothing completed: no throughput (—), and a flag that says why.
  const row = (renderSummaryTable([many]).split('\n')[2] as string).replace(/ +/g, ' ');
  assert.match(row, /^D\(100,100\) c=1 0\/6 — — /);
  assert.match(row, /⚠ no-ok$/);
  assert.match(renderSummaryTable([many]), /⚠ no-ok: no measured request completed/);

  const clean = summarizeIteration(records.slice(0, 1), info({}), []);
  assert.equal(errorCell(clean), '0.0');
});
