/**
 * The HTML report in headless Chromium with the network off: built by the CLI
 * from real runs against the simulator (a run group of two repeats `--vs` one
 * run), opened as file://, every figure drawn by uPlot with exactly the embedded
 * points, and those points are the warehouse's numbers. Screenshots go to
 * artifacts/e2e/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { cli } from '../cli/testing/harness.js';
import { POINT_METRICS, type Chart, type ReportData, type XY } from '../report/report-data.js';
import type { Row } from '../warehouse/sql.js';
import {
  assertPoints,
  buildRuns,
  launchChromium,
  REPORT_SERIES,
  rows,
  SCREENSHOTS,
  UPLOT_SPY,
  type RunsFixture,
} from './browser.js';

let fx: RunsFixture;
let browser: Browser;

before(async () => {
  // Chromium first: without it the test fails at once, saying how to install it.
  browser = await launchChromium();
  fx = await buildRuns('infermark-e2e-report-');
});

after(async () => {
  await browser?.close();
  await fx?.sim.close();
  if (fx?.tmp) await rm(fx.tmp, { recursive: true, force: true });
});

interface Drawn {
  id: string | null;
  labels: string[];
  data: (number | null)[][];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

type PointsBy = Map<string, Map<number, Record<string, number | null>>>;

/** Per scenario and concurrency, each metric's median over the runs (one run: its value), from the warehouse. */
async function medians(warehousePath: string, runIds: string[]): Promise<PointsBy> {
  const facts = await rows(
    warehousePath,
    `SELECT scenario, concurrency, ${POINT_METRICS.join(', ')} FROM serving_outcome_fact
     WHERE run_id IN (${runIds.map((_, i) => `$${i + 1}`).join(', ')})`,
    runIds,
  );
  const out: PointsBy = new Map();
  for (const f of facts) {
    const scenario = String(f.scenario);
    const byLoad = out.get(scenario) ?? new Map<number, Record<string, number | null>>();
    out.set(scenario, byLoad);
    const load = Number(f.concurrency);
    if (byLoad.has(load)) continue;
    const same = facts.filter((g) => g.scenario === f.scenario && Number(g.concurrency) === load);
    byLoad.set(
      load,
      Object.fromEntries(
        POINT_METRICS.map((m) => {
          const values = same.map((g) => g[m]).filter((v) => v !== null && v !== undefined);
          return [m, values.length === 0 ? null : median(values.map(Number))];
        }),
      ),
    );
  }
  return out;
}

function series(points: PointsBy, scenario: string, column: string): [number, number | null][] {
  return [...(points.get(scenario) ?? new Map<number, Record<string, number | null>>()).entries()]
    .map(([load, m]): [number, number | null] => [load, m[column] ?? null])
    .sort((a, b) => a[0] - b[0]);
}

/** A drawn plot back to its lines: uPlot holds them aligned on the union of x, gaps as null. */
function lines(drawn: Drawn): [number, number | null][][] {
  const xs = drawn.data[0] as number[];
  return drawn.data
    .slice(1)
    .map((ys) => xs.flatMap((x, j) => (ys[j] === null ? [] : [[x, ys[j] as number] as [number, number]])));
}

/**
 * The report's time-series buckets, recomputed from request_fact rows: 40 equal
 * buckets from the first send to the latest end (sent + e2e); per bucket, at its
 * start the requests in flight (sent ≤ t < end), the output tokens of the successful
 * requests ending in it as tokens/s, and the failed requests sent in it (the last
 * bucket also takes what lands on its far edge).
 */
function bucketed(
  requests: Row[],
  buckets = 40,
): {
  widthMs: number;
  inFlight: [number, number][];
  tokensPerS: [number, number][];
  errors: [number, number][];
} {
  const spans = requests.map((r) => {
    const sent = Number(r.sent_at_us) / 1000;
    return {
      sent,
      end: r.e2e_latency_ms === null ? null : sent + Number(r.e2e_latency_ms),
      ok: r.status === 'ok',
      tokens: r.output_tokens === null ? 0 : Number(r.output_tokens),
    };
  });
  const t0 = Math.min(...spans.map((s) => s.sent));
  const t1 = Math.max(...spans.map((s) => s.end ?? s.sent));
  const widthMs = Math.max((t1 - t0) / buckets, 1e-3);
  const starts = Array.from({ length: buckets }, (_, b) => t0 + b * widthMs);
  // The bucket a time falls in: the last one whose start is not after it.
  const bucketOf = (t: number): number => starts.findLastIndex((from) => from <= t);
  const tokens = new Array<number>(buckets).fill(0);
  const errors = new Array<number>(buckets).fill(0);
  for (const s of spans) {
    if (s.ok && s.end !== null) {
      const b = bucketOf(s.end);
      tokens[b] = (tokens[b] ?? 0) + s.tokens;
    }
    if (!s.ok) {
      const b = bucketOf(s.sent);
      errors[b] = (errors[b] ?? 0) + 1;
    }
  }
  return {
    widthMs,
    inFlight: starts.map((from) => [
      from - t0,
      spans.filter((s) => s.end !== null && s.sent <= from && from < s.end).length,
    ]),
    tokensPerS: starts.map((from, b) => [from - t0, (tokens[b] as number) / (widthMs / 1000)]),
    errors: starts.map((from, b) => [from - t0, errors[b] as number]),
  };
}

/** The report rounds the time series to 3 decimals: equal within that rounding. */
function assertRounded(actual: XY[], expected: [number, number][], what: string): void {
  const show = `${what}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`;
  const near = (a: number | null, e: number): boolean =>
    a !== null && Math.abs(a - e) <= 5e-4 + 1e-9 * Math.abs(e);
  assert.equal(actual.length, expected.length, show);
  actual.forEach((p, i) => {
    const e = expected[i] as [number, number];
    assert.ok(near(p[0], e[0]) && near(p[1], e[1]), `${show} (at ${i})`);
  });
}

/** A table's body as text, row by row. */
async function tableCells(page: Page, table: string): Promise<string[][]> {
  return page
    .locator(`${table} tbody tr`)
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
}

/** A number as a table cell shows it (3 decimals, "—" for none), against its value. */
function assertShown(cell: string | undefined, value: number | null, what: string): void {
  if (value === null) return assert.equal(cell, '—', what);
  assert.ok(
    cell !== undefined && Math.abs(Number(cell) - value) <= 5e-4 + 1e-9 * Math.abs(value),
    `${what}: ${cell} vs ${value}`,
  );
}

test('the report opens offline in Chromium and every chart is drawn with the warehouse’s points', async () => {
  const file = join(fx.tmp, 'report.html');
  const made = await cli([
    'report',
    fx.groupId,
    '--vs',
    fx.soloRun,
    '--warehouse',
    fx.warehousePath,
    '-o',
    file,
  ]);
  assert.equal(made.code, 0, made.stderr);

  // The network is off, and anything that still tries to leave file:// is aborted and counted.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.setOffline(true);
  const attempts: string[] = [];
  await context.route(
    (url) => url.protocol !== 'file:' && url.protocol !== 'data:',
    (route) => {
      attempts.push(route.request().url());
      return route.abort('internetdisconnected');
    },
  );
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  await page.addInitScript(UPLOT_SPY);
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-charts-rendered]');

  const data = JSON.parse((await page.locator('#report-data').textContent()) ?? '') as ReportData;
  assert.equal(data.subject.kind, 'run_group');
  assert.equal(data.baseline?.id, fx.soloRun);
  assert.deepEqual(
    await page.locator('body').getAttribute('data-charts-rendered'),
    String(data.charts.length),
  );
  const figures = page.locator('figure[data-chart]');
  assert.deepEqual(
    (await figures.evaluateAll((els) => els.map((e) => e.getAttribute('data-chart')))).sort(),
    data.charts.map((c) => c.id).sort(),
  );
  const drawn = (await page.evaluate('window.__drawn')) as Drawn[];
  for (const c of data.charts) {
    const figure = page.locator(`figure[data-chart="${c.id}"]`);
    assert.equal(await figure.getAttribute('data-rendered'), 'true', c.id);
    const canvas = figure.locator('.plot canvas');
    assert.ok((await canvas.count()) >= 1, `${c.id}: no uPlot canvas`);
    const box = await canvas.first().boundingBox();
    assert.ok(box && box.width > 100 && box.height > 100, `${c.id}: canvas ${JSON.stringify(box)}`);
    // What uPlot holds is what the report embeds, series by series.
    const plot = drawn.find((d) => d.id === c.id);
    assert.ok(plot, `${c.id} was not drawn`);
    const expected = c.series.flatMap((s) =>
      s.frontier
        ? [[s.label, s.points] as const, [`${s.label} frontier`, s.frontier] as const]
        : [[s.label, s.points] as const],
    );
    assert.deepEqual(plot.labels, [c.x, ...expected.map(([label]) => label)], c.id);
    lines(plot).forEach((points, i) =>
      assertPoints(
        points,
        (expected[i]?.[1] ?? []).filter((p) => p[1] !== null),
        `${c.id} drawn ${expected[i]?.[0]}`,
      ),
    );
    assert.ok(
      c.series.some((s) => s.points.length > 0),
      `${c.id} has no points`,
    );
  }

  // The embedded points are the warehouse's: A = the lone run, B = the medians over the group's repeats.
  const a = await medians(fx.warehousePath, [fx.soloRun]);
  const b = await medians(fx.warehousePath, fx.groupRuns);
  const subjects = [
    ['A', a],
    ['B', b],
  ] as const;
  const chart = (id: string): Chart => {
    const found = data.charts.find((c) => c.id === id);
    assert.ok(found, `no chart ${id}`);
    return found;
  };
  const scenarios = [...b.keys()];
  assert.deepEqual(scenarios.sort(), ['D(16,6)', 'D(32,4)']);
  for (const scenario of scenarios) {
    const i = data.charts
      .find((c) => c.id.startsWith('throughput-') && c.scenario === scenario)
      ?.id.split('-')[1];
    assert.ok(i !== undefined, `no charts for ${scenario}`);
    for (const [kind, columns] of Object.entries(REPORT_SERIES)) {
      const c = chart(`${kind}-${i}`);
      const want = subjects.flatMap(([label, points]) =>
        columns.map(([column, name]) => [`${label} ${name}`, series(points, scenario, column)] as const),
      );
      assert.deepEqual(
        c.series.map((s) => s.label),
        want.map(([label]) => label),
        c.id,
      );
      c.series.forEach((s, k) => assertPoints(s.points, want[k]?.[1] ?? [], `${c.id} ${s.label}`));
    }
    const pareto = chart(`pareto-${i}`);
    subjects.forEach(([label, points], k) => {
      const tps = series(points, scenario, 'output_throughput_tokens_per_s');
      const e2e = series(points, scenario, 'e2e_latency_ms_p50');
      const want = tps
        .map(([, x], j): [number, number | null] => [x as number, e2e[j]?.[1] ?? null])
        .sort((p, q) => p[0] - q[0]);
      const s = pareto.series[k];
      assert.equal(s?.label, label);
      assertPoints(s?.points ?? [], want, `${pareto.id} ${label}`);
      for (const [x, y] of s?.frontier ?? []) {
        assert.ok(
          want.some((p) => p[0] === x && p[1] === y),
          `${pareto.id}: frontier point not a point`,
        );
        assert.ok(!want.some((p) => p[0] > x && (p[1] as number) < (y as number)), `${pareto.id}: beaten`);
      }
    });
  }

  // Distributions and the time series come from the drill-down iteration's requests
  // (request_fact, measured phase). Each is recomputed here from the warehouse, not
  // with the report's code; the loop above already showed uPlot holds these points.
  const d = data.drilldown;
  assert.ok(d);
  const where = [d.run_id, String(d.iteration)];
  const requests = await rows(
    fx.warehousePath,
    `SELECT status, sent_at_us::DOUBLE AS sent_at_us, e2e_latency_ms, output_tokens::DOUBLE AS output_tokens
     FROM request_fact WHERE run_id = $1 AND iteration = $2 AND phase = 'measured'`,
    where,
  );
  const ok = requests.filter((r) => r.status === 'ok');
  assert.ok(
    ok.length >= 5 && ok.length < requests.length,
    `drill-down: ${ok.length} ok of ${requests.length}`,
  );

  // CDFs: DuckDB's cume_dist is the fraction of the successful requests ≤ each distinct value.
  const warehouseCdf = async (column: string): Promise<[number, number][]> =>
    (
      await rows(
        fx.warehousePath,
        `SELECT DISTINCT ${column} AS x, cume_dist() OVER (ORDER BY ${column}) AS y FROM request_fact
         WHERE run_id = $1 AND iteration = $2 AND phase = 'measured' AND status = 'ok'
           AND ${column} IS NOT NULL AND isfinite(${column})
         ORDER BY x`,
        where,
      )
    ).map((r) => [Number(r.x), Number(r.y)]);
  const ttftCdf = chart('ttft-cdf');
  assert.deepEqual(
    ttftCdf.series.map((s) => s.label),
    ['TTFT'],
  );
  const ttft = await warehouseCdf('ttft_ms');
  assert.equal(ttft.at(-1)?.[1], 1);
  assertPoints(ttftCdf.series[0]?.points ?? [], ttft, 'ttft-cdf TTFT');
  // ITL: request_fact keeps no single gaps (the records' chunk_times_us are not ingested),
  // so the chart is per request: tpot_ms (mean gap after the first token) and itl_max_ms.
  const itlCdf = chart('itl-cdf');
  const itl: [string, string][] = [
    ['TPOT (mean ITL per request)', 'tpot_ms'],
    ['max ITL per request', 'itl_max_ms'],
  ];
  assert.deepEqual(
    itlCdf.series.map((s) => s.label),
    itl.map(([label]) => label),
  );
  for (const [k, [label, column]] of itl.entries()) {
    const want = await warehouseCdf(column);
    assert.ok(want.length >= 5, `itl-cdf ${label}: ${want.length} values`);
    assertPoints(itlCdf.series[k]?.points ?? [], want, `itl-cdf ${label}`);
  }

  // The time series: 40 buckets from the first send to the last request's end.
  const ts = chart('timeseries');
  assert.deepEqual(
    ts.series.map((s) => s.label),
    ['requests in flight', 'output tokens/s', 'errors'],
  );
  const want = bucketed(requests);
  const [inFlight, tokensPerS, errors] = ts.series.map((s) => s.points);
  assertRounded(inFlight ?? [], want.inFlight, 'timeseries in flight');
  assertRounded(tokensPerS ?? [], want.tokensPerS, 'timeseries tokens/s');
  assertRounded(errors ?? [], want.errors, 'timeseries errors');
  // And what holds whatever the buckets: closed loop at the drill-down's concurrency never
  // has more in flight; the errors are the failed requests; the tokens are the ok requests'.
  const peak = Math.max(...(inFlight ?? []).map((p) => Number(p[1])));
  assert.ok(
    peak >= 1 && peak <= Number(d.concurrency),
    `peak in flight ${peak} at concurrency ${d.concurrency}`,
  );
  assert.equal(
    (errors ?? []).reduce((sum, p) => sum + Number(p[1]), 0),
    requests.length - ok.length,
  );
  const tokens = ok
    .filter((r) => r.e2e_latency_ms !== null)
    .reduce((sum, r) => sum + Number(r.output_tokens), 0);
  const drawnTokens = (tokensPerS ?? []).reduce((sum, p) => sum + Number(p[1]) * (want.widthMs / 1000), 0);
  assert.ok(Math.abs(drawnTokens - tokens) < 0.05, `tokens: ${drawnTokens} drawn vs ${tokens}`);

  // The deltas table shows B's and A's medians, one row per delta, and so does the page.
  const deltaRows = await tableCells(page, '#deltas + p + table');
  assert.equal(deltaRows.length, data.deltas.length);
  assert.ok(data.deltas.length > 0);
  data.deltas.forEach((delta, k) => {
    assert.ok(delta.concurrency !== null);
    const of = (points: PointsBy): number | null =>
      points.get(delta.scenario)?.get(delta.concurrency as number)?.[delta.metric] ?? null;
    assertPoints([[0, delta.a]], [[0, of(a)]], `delta A ${delta.scenario} ${delta.metric}`);
    assertPoints([[0, delta.b]], [[0, of(b)]], `delta B ${delta.scenario} ${delta.metric}`);
    // Cells: point, metric, A, B, change %, verdict (to 3 decimals, — for none).
    const cells = deltaRows[k] ?? [];
    assert.equal(cells[1], delta.metric);
    assertShown(cells[2], of(a), `deltas table A ${delta.scenario} c${delta.concurrency} ${delta.metric}`);
    assertShown(cells[3], of(b), `deltas table B ${delta.scenario} c${delta.concurrency} ${delta.metric}`);
  });
  // A is one run, so the gate gives no verdicts, and the page says why instead of a table.
  assert.equal(data.gate?.status, 'single-run');
  assert.match(
    (await page.locator('#gate-verdicts + p[data-gate-status="single-run"]').textContent()) ?? '',
    /Verdicts need repeats: A is a single run/,
  );
  assert.equal(await page.locator('#gate-verdicts ~ table').count(), 0);

  await page.screenshot({ path: join(SCREENSHOTS, 'report.png'), fullPage: true });
  await page
    .locator('figure[data-chart="pareto-0"]')
    .screenshot({ path: join(SCREENSHOTS, 'report-pareto.png') });
  assert.deepEqual(attempts, [], 'the report tried to reach the network');
  assert.deepEqual(problems, []);
  await context.close();
});

/** The keys the gate compares per point (gate/metric-keys.ts): latency statistics and four rates. */
const GATED_COLUMNS: [string, string][] = [
  ...['ttft_ms', 'tpot_ms', 'itl_ms', 'e2e_latency_ms'].flatMap((m) =>
    ['p50', 'p90', 'p99', 'mean'].map((stat): [string, string] => [`${m}.${stat}`, `${m}_${stat}`]),
  ),
  ...['output_throughput_tokens_per_s', 'request_throughput_rps', 'goodput_rps', 'error_rate'].map(
    (m): [string, string] => [`${m}.value`, m],
  ),
];

/** A number as the verdict table shows it: 1 decimal from 100 up, else 4 significant digits. */
function assertGateNumber(cell: string | undefined, value: number, what: string): void {
  const shown = Number(cell?.split(' ')[0]);
  const slack = Math.abs(value) >= 100 ? 0.05 : 5e-4 * Math.abs(value);
  assert.ok(Math.abs(shown - value) <= slack + 1e-12, `${what}: ${cell} vs ${value}`);
}

test('--vs two run groups: the gate verdicts the browser shows are the warehouse’s repeats', async () => {
  // A second group of the same job (same case, so the gate compares them): B; the fixture's group is A.
  const run = await cli(
    [
      'run',
      join(fx.tmp, 'job.yaml'),
      '--repeats',
      '2',
      '--out',
      join(fx.tmp, 'runs-c'),
      '--quiet',
      '--json',
      '--warehouse',
      fx.warehousePath,
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(run.code, 0, run.stderr);
  const groupB = JSON.parse(run.stdout) as { run_group_id: string; runs: { run_id: string }[] };
  const file = join(fx.tmp, 'report-gate.html');
  const made = await cli([
    'report',
    groupB.run_group_id,
    '--vs',
    fx.groupId,
    '--warehouse',
    fx.warehousePath,
    '-o',
    file,
  ]);
  assert.equal(made.code, 0, made.stderr);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.setOffline(true);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-charts-rendered]');
  assert.match(
    (await page.locator('#gate-verdicts + p[data-gate-status="ok"]').textContent()) ?? '',
    /B against A as the baseline; 2 vs 2 repeats/,
  );
  const gateRows = await tableCells(page, '#gate-verdicts + p + p.note + table');
  assert.ok(gateRows.length > 0, 'no gate verdicts drawn');

  // Each run's value per (scenario, concurrency), from serving_outcome_fact.
  const perRun = async (runIds: string[]): Promise<Map<string, Row[]>> => {
    const facts = await rows(
      fx.warehousePath,
      `SELECT * FROM serving_outcome_fact WHERE run_id IN (${runIds.map((_, i) => `$${i + 1}`).join(', ')})`,
      runIds,
    );
    const out = new Map<string, Row[]>();
    for (const f of facts) {
      const point = `${String(f.scenario)}.c${Number(f.concurrency)}`;
      out.set(point, [...(out.get(point) ?? []), f]);
    }
    return out;
  };
  const a = await perRun(fx.groupRuns);
  const b = await perRun(groupB.runs.map((r) => r.run_id));
  assert.deepEqual([...a.keys()].sort(), ['D(16,6).c1', 'D(16,6).c3', 'D(32,4).c1', 'D(32,4).c3']);
  const samples = (of: Map<string, Row[]>, point: string, column: string): number[] =>
    (of.get(point) ?? [])
      .map((f) => f[column])
      .filter((v) => v !== null && v !== undefined)
      .map(Number);
  const expectedKeys = [...a.keys()].flatMap((point) =>
    GATED_COLUMNS.filter(([, column]) => samples(a, point, column).length === 2).map(
      ([k]) => `${point}.${k}`,
    ),
  );
  assert.deepEqual(gateRows.map((r) => r[0]).sort(), expectedKeys.sort());

  // Cells: key, verdict, A median, B median, Δ, Δ %, regression (HL), lower bound, upper bound, allowed,
  // p (Holm), why.
  const verdictOf = new Map<string, string>();
  for (const cells of gateRows) {
    const key = cells[0] as string;
    verdictOf.set(key, cells[1] as string);
    const [scenario, point, metric, stat] = key.split('.') as [string, string, string, string];
    const column = stat === 'value' ? metric : `${metric}_${stat}`;
    const sa = samples(a, `${scenario}.${point}`, column);
    const sb = samples(b, `${scenario}.${point}`, column);
    assert.equal(sb.length, 2, key);
    const ma = median(sa);
    const mb = median(sb);
    assertGateNumber(cells[2], ma, `${key} A median`);
    assertGateNumber(cells[3], mb, `${key} B median`);
    assertGateNumber(cells[4]?.replace(/^\+/, ''), mb - ma, `${key} Δ`);
    // Hodges-Lehmann: the median of the pairwise shifts B − A, oriented so that positive is worse.
    const worse = ['output_throughput_tokens_per_s', 'request_throughput_rps', 'goodput_rps'].includes(metric)
      ? -1
      : 1;
    assertGateNumber(cells[6], median(sb.flatMap((y) => sa.map((x) => worse * (y - x)))), `${key} HL`);
    // Two repeats a side: the best one-sided confidence 4 pairwise shifts give is 5/6, short
    // of the default 99 %, so no finite bound; and fewer repeats than the default 5 decide nothing.
    assert.equal(cells[7], '−∞', `${key} lower bound`);
    assert.match(cells[8] ?? '', /^∞ \(/, `${key} upper bound`);
    assert.equal(cells[1], 'INCONCLUSIVE', key);
    assert.match(cells[11] ?? '', /2 repeats per group; the tolerances ask for at least 5/, key);
  }

  // The deltas table's gate column is the verdict of the same key.
  const deltaRows = await tableCells(page, '#deltas + p + table');
  assert.ok(deltaRows.length > 0);
  for (const cells of deltaRows) {
    const [point, metric] = [cells[0] ?? '', cells[1] ?? ''];
    const at = /^(.*) @ concurrency (\d+)$/.exec(point);
    assert.ok(at, point);
    const stat = /^(.*)_(p\d+|mean)$/.exec(metric);
    const key = `${at[1]}.c${at[2]}.${stat ? `${stat[1]}.${stat[2]}` : `${metric}.value`}`;
    assert.equal(cells[6], verdictOf.get(key) ?? '—', `deltas gate column ${key}`);
  }
  assert.ok(
    deltaRows.some((cells) => cells[6] !== '—'),
    'no delta has a gate verdict',
  );
  await page
    .locator('#gate-verdicts + p + p.note + table')
    .screenshot({ path: join(SCREENSHOTS, 'report-gate.png') });
  await context.close();
});
