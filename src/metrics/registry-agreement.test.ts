// The metric registry is the only place a metric's unit and direction are written: the
// gate's keys, the warehouse compare, the report's points and deltas, and the dashboard's
// traced and compared columns, each taken from the readers' own functions on a real
// DuckDB warehouse on disk, agree with it; and no source outside src/metrics/ writes a
// direction or a metric unit of its own (a scan that is shown to catch the old lists).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  betterDirection,
  columnMetric,
  DISTRIBUTION_STATS,
  listMetrics,
  metricByField,
  metricColumn,
  metricOfColumn,
  metricsMarkdownTable,
  registryEntries,
  registryEntry,
  type MetricDirection,
} from './definitions.js';
import { listTelemetryFamilies } from './telemetry-families.js';
import { summarizeIteration } from './aggregate.js';
import { streamedRecord } from './testing/record-fixtures.js';
import { gatedMetrics } from '../gate/metric-keys.js';
import { BUILTIN_QUERIES, compareRuns } from '../warehouse/queries.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { buildReportData, POINT_METRICS, verdictOf } from '../report/report-data.js';
import { gateKeyOf } from '../report/report-verdicts.js';
import { compareGroups, runDetail } from '../server/api.js';
import { comparePage, runPage } from '../server/pages.js';
import type { Slo } from '../spec/slo-types.js';

// dist/src/metrics → the repository root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The column of a gate key `<scenario>.<point>.<field>.<stat>` (`value` is the field itself). */
function columnOfGateKey(key: string): string {
  const parts = key.split('.');
  const [field, stat] = parts.slice(-2) as [string, string];
  return stat === 'value' ? field : `${field}_${stat}`;
}

/** B's change of +50 % judged as the registry's direction says. */
function expectedVerdict(direction: MetricDirection): string {
  return direction === 'higher' ? 'better' : direction === 'lower' ? 'worse' : 'n/a';
}

test('the gate keys carry the unit and direction of the registry', () => {
  const records = [
    streamedRecord({ index: 0, sent_ms: 0, headers_ms: 20, chunks_ms: [100, 120, 140] }),
    streamedRecord({ index: 1, sent_ms: 10, headers_ms: 30, chunks_ms: [90, 150] }),
  ];
  const slos: Slo[] = [
    { text: 'ttft_ms<=500', metric: 'ttft_ms', percentile: null, op: '<=', threshold: 500 },
  ];
  const summary = summarizeIteration(
    records,
    {
      iteration: 0,
      scenario: 'D(100,100)',
      mode: 'concurrency',
      concurrency: 2,
      wall_s: 1,
      warmup_requests: 0,
      ended_by: 'max_requests',
    },
    slos,
  );
  const gated = gatedMetrics(summary);
  assert.ok(gated.length >= 20, `${gated.length} gated keys`);
  for (const m of gated) {
    const column = metricOfColumn(columnOfGateKey(m.key));
    assert.ok(column, `${m.key} is a metric of the registry`);
    assert.equal(m.unit, column.unit, `${m.key} unit`);
    assert.equal(m.direction, column.direction, `${m.key} direction`);
  }
  // Throughputs and goodput are gated higher-is-better, latencies and errors lower.
  const direction = (suffix: string): string | undefined =>
    gated.find((m) => m.key.endsWith(suffix))?.direction;
  assert.equal(direction('.goodput_rps.value'), 'higher');
  assert.equal(direction('.ttft_ms.p99'), 'lower');
  assert.equal(direction('.error_rate.value'), 'lower');
});

test('warehouse compare, the report and the dashboard agree with the registry (real DuckDB)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'infermark-registry-'));
  const w = await Warehouse.open(join(dir, 'warehouse.duckdb'));
  try {
    // Two runs of one point; every metric column of B is 1.5 × A's, so each comparison moves +50 %.
    const columns = [
      ...new Set([
        ...POINT_METRICS,
        ...['ttft_ms', 'tpot_ms', 'itl_ms', 'e2e_latency_ms'].flatMap((f) =>
          ['p50', 'p90', 'p99', 'mean', 'count'].map((s) => `${f}_${s}`),
        ),
      ]),
    ];
    for (const [runId, group, started, value] of [
      ['run-aaaa', 'group-a', '2026-01-01T00:00:00Z', 10],
      ['run-bbbb', 'group-b', '2026-01-02T00:00:00Z', 15],
    ] as const) {
      await w.run(
        "INSERT INTO benchmark_run_fact (run_id, run_group_id, source, status, started_at, model, iterations_completed, ingested_at) VALUES ($1, $2, 'infermark', 'complete', $3::TIMESTAMPTZ, 'm', 1, now())",
        [runId, group, started],
      );
      await w.run(
        `INSERT INTO serving_outcome_fact (run_id, iteration, scenario, mode, concurrency, ingested_at, ${columns.join(', ')})
         VALUES ($1, 0, 'D(100,100)', 'concurrency', 4, now(), ${columns.map(() => String(value)).join(', ')})`,
        [runId],
      );
    }

    // warehouse compare: every compared column is a registry metric with a direction.
    const compared = await compareRuns(w, 'run-aaaa', 'run-bbbb');
    const comparedMetrics = compared.columns
      .filter((c) => c.endsWith('_change_pct'))
      .map((c) => c.slice(0, -'_change_pct'.length));
    assert.ok(comparedMetrics.length >= 9, comparedMetrics.join(', '));
    for (const m of comparedMetrics) {
      assert.notEqual(columnMetric(m).direction, 'neutral', `${m} is judged`);
      assert.equal(compared.rows[0]?.[`${m}_change_pct`], 50, m);
    }

    // The report: its points hold registry metrics, and each delta's verdict follows the registry's direction.
    const report = await buildReportData(w, 'run-bbbb', { vs: 'run-aaaa' });
    const point = report.subject.points[0];
    assert.ok(point);
    for (const m of Object.keys(point.metrics)) assert.ok(metricOfColumn(m), `report point metric ${m}`);
    assert.deepEqual(
      report.deltas.map((d) => d.metric),
      comparedMetrics,
      'the report compares what the warehouse compares',
    );
    for (const d of report.deltas) {
      assert.equal(d.verdict, expectedVerdict(columnMetric(d.metric).direction), `report delta ${d.metric}`);
    }
    // Every point metric the report shows is judged as the registry says (goodput_attainment: higher).
    for (const m of POINT_METRICS) {
      assert.equal(verdictOf(m, 50), expectedVerdict(columnMetric(m).direction), `verdictOf ${m}`);
    }
    assert.equal(verdictOf('goodput_attainment', 50), 'better');

    // The report's deltas and the gate name the same keys for what both judge.
    const gateKeys = new Set(
      gatedMetrics({
        scenario: 'D(100,100)',
        mode: 'concurrency',
        concurrency: 4,
        rate_rps: null,
        output_throughput_tokens_per_s: 1,
        request_throughput_rps: 1,
        goodput_rps: 1,
        error_rate: 0.1,
        distributions: Object.fromEntries(
          ['ttft_ms', 'tpot_ms', 'itl_ms', 'e2e_latency_ms'].map((f) => [
            f,
            { p50: 1, p90: 1, p99: 1, mean: 1, count: 1 },
          ]),
        ) as Parameters<typeof gatedMetrics>[0]['distributions'],
      }).map((m) => m.key),
    );
    for (const d of report.deltas) {
      assert.ok(gateKeys.has(gateKeyOf(d)), `${d.metric} → ${gateKeyOf(d)} is a gate key`);
    }

    // The dashboard's compare pages (runs and run groups): green/red as the registry's direction.
    const classes = (html: string): Map<string, string> =>
      new Map(
        [...html.matchAll(/<td(?: class="(better|worse)")? data-testid="delta" data-metric="([^"]+)">/g)].map(
          (match) => [match[2] as string, match[1] ?? 'n/a'],
        ),
      );
    const runsPage = comparePage(
      { kind: 'runs', a: 'run-aaaa', b: 'run-bbbb' },
      { a: { run_id: 'run-aaaa' }, b: { run_id: 'run-bbbb' }, ...compared },
      [],
      'nonce',
    );
    const groups = await compareGroups(w, 'group-a', 'group-b');
    const groupsPage = comparePage({ kind: 'groups', a: 'group-a', b: 'group-b' }, groups, [], 'nonce');
    for (const page of [runsPage, groupsPage]) {
      const shown = classes(page);
      assert.deepEqual([...shown.keys()], comparedMetrics);
      for (const [m, cls] of shown) {
        assert.equal(cls, expectedVerdict(columnMetric(m).direction), `dashboard delta ${m}`);
      }
    }

    // The dashboard's traced numbers: registry metrics, each a column of the serving_points named query.
    const detail = await runDetail(w, 'run-bbbb');
    const traced = [
      ...runPage(detail, 'nonce').matchAll(/data-lineage data-testid="metric-value" data-column="([^"]+)"/g),
    ].map((match) => match[1] as string);
    assert.ok(traced.length >= 10, traced.join(', '));
    const servingPoints = BUILTIN_QUERIES.find((q) => q.name === 'serving_points')?.sql ?? '';
    for (const c of new Set(traced)) {
      assert.ok(metricOfColumn(c), `traced ${c} is a registry metric`);
      assert.match(servingPoints, new RegExp(`\\bo\\.${c}\\b`), `serving_points has ${c}`);
    }
  } finally {
    w.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every numeric column of serving_outcome_fact that holds a metric resolves in the registry', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'infermark-registry-'));
  const w = await Warehouse.open(join(dir, 'warehouse.duckdb'));
  try {
    const { rows } = await w.json(
      `SELECT column_name FROM information_schema.columns
       WHERE table_name = 'serving_outcome_fact' AND data_type IN ('DOUBLE', 'BIGINT')`,
    );
    // The point's load is its identity, not a measurement.
    const notMetrics = new Set(['rate_rps']);
    const numeric = rows.map((r) => String(r.column_name));
    assert.ok(numeric.length > 50, `${numeric.length} numeric columns`);
    assert.deepEqual(
      numeric.filter((c) => !notMetrics.has(c) && !metricOfColumn(c)),
      [],
    );
  } finally {
    w.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the registry: lookups, derived statistics, and every kind of metric in one list', () => {
  assert.equal(metricByField('ttft_ms')?.name, 'ttft');
  const p99 = columnMetric('ttft_ms_p99');
  assert.deepEqual([p99.metric.name, p99.stat, p99.unit, p99.direction], ['ttft', 'p99', 'ms', 'lower']);
  assert.equal(columnMetric('ttft_ms_p99_9').stat, 'p99_9');
  assert.deepEqual(
    [columnMetric('itl_ms_count').unit, columnMetric('itl_ms_count').direction],
    ['samples', 'neutral'],
  );
  assert.equal(columnMetric('decode_speed_tokens_per_s_p50').direction, 'higher');
  assert.equal(metricOfColumn('scenario'), undefined);
  assert.equal(metricOfColumn('ttft_ms'), undefined, 'a distribution is a column only through a statistic');
  assert.equal(betterDirection('goodput_attainment'), 'higher');
  assert.equal(betterDirection('dropped_arrivals'), 'lower');
  assert.throws(() => betterDirection('output_tokens_p50'), /neutral/);
  assert.throws(() => columnMetric('nope'), /not a metric column/);
  for (const stat of DISTRIBUTION_STATS) assert.ok(metricOfColumn(`e2e_latency_ms_${stat}`), stat);

  assert.equal(metricColumn('ttft_ms', 'p99'), 'ttft_ms_p99');
  assert.equal(metricColumn('error_rate', 'value'), 'error_rate');
  assert.equal(registryEntry('ttft_ms')?.name, 'ttft');
  assert.equal(registryEntry('ttft')?.field, 'ttft_ms');
  assert.equal(registryEntry('sm_clock')?.direction, 'higher');
  assert.equal(registryEntry('nope'), undefined);

  const entries = registryEntries();
  assert.deepEqual([...new Set(entries.map((e) => e.scope))], ['request', 'iteration', 'point', 'telemetry']);
  assert.equal(entries.length, listMetrics().length + listTelemetryFamilies().length);
  assert.equal(new Set(entries.map((e) => e.name)).size, entries.length, 'names are unique');
  for (const e of entries) {
    assert.ok(e.unit && e.description && e.formula, e.name);
    assert.ok(['lower', 'higher', 'neutral'].includes(e.direction), e.name);
  }
  const queue = entries.find((e) => e.name === 'server_queue_time');
  assert.equal(queue?.kind, 'histogram');
  assert.ok(queue?.same_as.includes('vllm: vllm:request_queue_time_seconds'));

  const md = metricsMarkdownTable();
  assert.match(md, /### Telemetry families/);
  assert.match(md, /\| `kv_cache_usage` \| server \| gauge \| fraction \| lower \|/);
  assert.match(md, /\| `goodput_attainment` \| `goodput_attainment` \| fraction \| higher \|/);
});

/** Registry metric units that only the registry may write as a `unit:` (generic words like `s` are left out). */
const METRIC_UNITS = new Set(['ms', 'tokens/s', 'req/s', 'USD']);

/**
 * Where a source writes a metric's direction or unit itself: a `direction: 'lower'`
 * (or `=`), a `unit: 'ms'`, or a declaration named for better/worse/higher/lower whose
 * value names registry metrics or tests names with a regex (`HIGHER_IS_BETTER = new
 * Set([...])`, `higherBetter = (m) => /throughput/.test(m)`). Reading a direction
 * (`x.direction === 'lower'`) is not writing one. Also a metric named beside a direction
 * on one line, as a call's arguments.
 */
function directionWrites(source: string): string[] {
  const found: string[] = [];
  const lineOf = (index: number): number => source.slice(0, index).split('\n').length;
  for (const m of source.matchAll(/\bdirection\s*[:=]\s*['"](lower|higher|neutral)['"]/g)) {
    found.push(`${lineOf(m.index)}: direction '${m[1]}'`);
  }
  for (const m of source.matchAll(/\bunit\s*[:=]\s*['"]([^'"\n]+)['"]/g)) {
    if (METRIC_UNITS.has(m[1] as string)) found.push(`${lineOf(m.index)}: unit '${m[1]}'`);
  }
  // A metric named beside a direction on one line: `scalar('goodput_rps', value, 'req/s', 'higher')`.
  source.split('\n').forEach((line, i) => {
    const direction = /['"](lower|higher)['"]/.exec(line);
    const metric = [...line.matchAll(/['"]([a-z0-9_]+)['"]/g)].find((s) => metricOfColumn(s[1] as string));
    if (direction && metric) found.push(`${i + 1}: ${metric[1]} written as ${direction[1]}`);
  });
  for (const m of source.matchAll(/\b(?:const|let|var)\s+(\w*(?:higher|lower|better|worse)\w*)\b[^=;]*=/gi)) {
    const value = source.slice(m.index + m[0].length, source.indexOf(';', m.index + m[0].length));
    const names = [...value.matchAll(/['"]([a-z0-9_]+)['"]/g)]
      .map((s) => s[1] as string)
      .filter((s) => metricOfColumn(s) !== undefined || metricByField(s) !== undefined);
    const regexTest = /\/[^/\n]+\/[gimsuy]*\.test\(/.test(value);
    if (names.length > 0 || regexTest) found.push(`${lineOf(m.index)}: ${m[1]} lists metrics by direction`);
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'testing' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

test('the scan catches a direction or unit written outside the registry', () => {
  // The lists this issue removed, as they were written.
  assert.equal(
    directionWrites(
      "const HIGHER_IS_BETTER = new Set(['output_throughput_tokens_per_s', 'request_throughput_rps', 'goodput_rps']);",
    ).length,
    1,
  );
  assert.equal(
    directionWrites('  const higherBetter = (m: string): boolean => /throughput|_rps$/.test(m);').length,
    1,
  );
  assert.deepEqual(directionWrites("  scalar('goodput_rps', summary.goodput_rps, 'req/s', 'higher');"), [
    '1: goodput_rps written as higher',
  ]);
  assert.deepEqual(
    directionWrites("out.push({ key, value, unit: 'ms', direction: 'lower', samples });").map((f) =>
      f.replace(/^\d+: /, ''),
    ),
    ["direction 'lower'", "unit 'ms'"],
  );
  // Reading a direction, and names that merely sound like one, are not writes.
  assert.deepEqual(
    directionWrites(
      [
        "const lowerIsBetter = base.direction === 'lower';",
        "if (direction === 'higher') return 1;",
        "const direction = z.enum(['lower', 'higher']);",
        "out.push({ metric, value, unit: 'increase' });",
        "clock: { anchor_wall_ms: 1, unit: 'us' },",
      ].join('\n'),
    ),
    [],
  );
});

test('no source outside src/metrics/ writes a metric direction or unit of its own', () => {
  const src = join(ROOT, 'src');
  // The simulator is a product of its own that imports base/ only (.dependency-cruiser.cjs): it cannot read the registry.
  const exempt = [join(src, 'metrics'), join(src, 'sim')];
  const files = sourceFiles(src).filter((f) => !exempt.some((dir) => f.startsWith(`${dir}/`)));
  assert.ok(files.length > 100, `${files.length} sources scanned`);
  const offences = files.flatMap((file) =>
    directionWrites(readFileSync(file, 'utf8')).map((f) => `${relative(ROOT, file)}:${f}`),
  );
  assert.deepEqual(offences, []);
});
