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
import type { Browser } from 'playwright-core';
import { cli } from '../cli/cli-harness.js';
import { POINT_METRICS, type Chart, type ReportData } from '../report/report-data.js';
import { assertPoints, buildRuns, launchChromium, rows, SCREENSHOTS, type RunsFixture } from './browser.js';

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

/**
 * Runs before the page's scripts: wraps the uPlot constructor the report defines,
 * so the test reads what each plot holds (its series labels and aligned data).
 */
const UPLOT_SPY = `(() => {
  const drawn = [];
  Object.defineProperty(window, '__drawn', { value: drawn });
  let real;
  Object.defineProperty(window, 'uPlot', {
    configurable: true,
    get() { return real; },
    set(U) {
      const Spy = function (opts, data, target) {
        const u = new U(opts, data, target);
        const fig = target.closest('[data-chart]');
        drawn.push({
          id: fig ? fig.getAttribute('data-chart') : null,
          labels: u.series.map((s) => s.label),
          data: JSON.parse(JSON.stringify(u.data)),
        });
        return u;
      };
      Object.assign(Spy, U);
      Spy.prototype = U.prototype;
      real = Spy;
    },
  });
})();`;

interface Drawn {
  id: string | null;
  labels: string[];
  data: (number | null)[][];
}

/** Each chart's series as the report defines them: chart kind → [warehouse column, series name]. */
const SERIES: Record<string, [string, string][]> = {
  throughput: [['output_throughput_tokens_per_s', 'output tokens/s']],
  ttft: [
    ['ttft_ms_p50', 'TTFT p50'],
    ['ttft_ms_p99', 'TTFT p99'],
  ],
  tpot: [
    ['tpot_ms_p50', 'TPOT p50'],
    ['tpot_ms_p99', 'TPOT p99'],
    ['itl_ms_p99', 'ITL p99'],
  ],
  errors: [['error_rate', 'error rate']],
  goodput: [
    ['goodput_rps', 'goodput'],
    ['request_throughput_rps', 'request throughput'],
  ],
};

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
    for (const [kind, columns] of Object.entries(SERIES)) {
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

  // Distributions and the time series come from the drill-down iteration's requests.
  const d = data.drilldown;
  assert.ok(d);
  const requests = await rows(
    fx.warehousePath,
    `SELECT status, ttft_ms FROM request_fact WHERE run_id = $1 AND iteration = $2 AND phase = 'measured'`,
    [d.run_id, String(d.iteration)],
  );
  const ok = requests.filter((r) => r.status === 'ok');
  assert.deepEqual(
    chart('ttft-cdf').series[0]?.points.map((p) => p[0]),
    [...new Set(ok.map((r) => Number(r.ttft_ms)).sort((x, y) => x - y))],
  );
  assert.equal(
    chart('timeseries')
      .series.find((s) => s.label === 'errors')
      ?.points.reduce((sum, p) => sum + Number(p[1]), 0),
    requests.length - ok.length,
  );

  // The deltas table shows B's and A's medians, one row per delta.
  assert.equal(await page.locator('#deltas + p + table tbody tr').count(), data.deltas.length);
  assert.ok(data.deltas.length > 0);
  for (const delta of data.deltas) {
    if (delta.concurrency === null) continue;
    const of = (points: PointsBy): number | null =>
      points.get(delta.scenario)?.get(delta.concurrency as number)?.[delta.metric] ?? null;
    assertPoints([[0, delta.a]], [[0, of(a)]], `delta A ${delta.scenario} ${delta.metric}`);
    assertPoints([[0, delta.b]], [[0, of(b)]], `delta B ${delta.scenario} ${delta.metric}`);
  }

  await page.screenshot({ path: join(SCREENSHOTS, 'report.png'), fullPage: true });
  await page
    .locator('figure[data-chart="pareto-0"]')
    .screenshot({ path: join(SCREENSHOTS, 'report-pareto.png') });
  assert.deepEqual(attempts, [], 'the report tried to reach the network');
  assert.deepEqual(problems, []);
  await context.close();
});
