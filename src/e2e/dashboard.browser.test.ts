/**
 * The dashboard in headless Chromium: `infermark serve` (the built CLI, in its own
 * process, on an ephemeral port) over a warehouse of real runs against the
 * simulator. The run list is the warehouse's runs; a run page's chart points are
 * its rows; a clicked number walks its lineage to OK artifacts; compare, picked
 * from the list, shows compareRuns' deltas. The run list's filters (model,
 * engine, GPU, scenario, dates) and paging list exactly the warehouse's matching
 * runs; two run groups and two runs compared from the compare form show the
 * warehouse's means and changes; the dashboard's copy of the report (a run, its
 * group, another view and drill-down iteration) plots the warehouse's numbers.
 * Screenshots go to artifacts/e2e/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { cli, type CliResult } from '../cli/testing/harness.js';
import { POINT_METRICS, type ChartSeries, type ReportData } from '../report/report-data.js';
import { COMPARED, compareRuns } from '../warehouse/queries.js';
import type { Row } from '../warehouse/sql.js';
import {
  assertPoints,
  buildRuns,
  close,
  launchChromium,
  REPORT_SERIES,
  rows,
  SCREENSHOTS,
  UPLOT_SPY,
  withWarehouse,
  type RunsFixture,
} from './browser.js';

let fx: RunsFixture;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let server: ChildProcess | undefined;
let served: Promise<CliResult>;
let base: string;

/** `infermark serve --port 0`, resolved with the URL it prints once listening. */
function serve(warehousePath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    served = cli(['serve', '--warehouse', warehousePath, '--port', '0'], {
      timeoutMs: 120_000,
      onSpawn: (child) => {
        server = child;
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
          if (url) resolve(url);
        });
      },
    });
    served.then((r) => reject(new Error(`infermark serve exited early (${r.code}): ${r.stderr}`)), reject);
  });
}

before(async () => {
  browser = await launchChromium();
  fx = await buildRuns('infermark-e2e-dashboard-');
  base = await serve(fx.warehousePath);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await context?.close();
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await served.catch(() => undefined);
  }
  await fx?.sim.close();
  if (fx?.tmp) await rm(fx.tmp, { recursive: true, force: true });
});

const shot = (name: string): Promise<Buffer> =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

/** The chart series of the run page → the warehouse column it plots. */
const PLOTTED: Record<string, string> = {
  p50: 'ttft_ms_p50',
  p99: 'ttft_ms_p99',
  'output tokens/s': 'output_throughput_tokens_per_s',
};

test('the run list is the warehouse’s runs', async () => {
  const runs = await rows(fx.warehousePath, 'SELECT run_id FROM benchmark_run_fact ORDER BY run_id');
  await page.goto(base);
  const listed = await page
    .getByTestId('run-row')
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')));
  assert.deepEqual(
    [...listed].sort(),
    runs.map((r) => r.run_id),
  );
  assert.equal(await page.getByTestId('run-count').textContent(), String(runs.length));
  assert.deepEqual([...listed].sort(), [...fx.groupRuns, fx.soloRun].sort());
  await shot('dashboard-runs');
});

test('a run page: every chart point is a warehouse row, and a clicked number walks its lineage', async () => {
  const runId = fx.groupRuns[0] as string;
  await page.goto(base);
  await Promise.all([
    page.waitForURL(`**/runs/${runId}`),
    page.locator(`[data-testid=run-row][data-run-id="${runId}"] [data-testid=run-link]`).click(),
  ]);
  assert.match((await page.getByTestId('run-title').textContent()) ?? '', new RegExp(runId));

  const facts = await rows(
    fx.warehousePath,
    `SELECT iteration, scenario, concurrency, ttft_ms_p50, ttft_ms_p99, output_throughput_tokens_per_s
     FROM serving_outcome_fact WHERE run_id = $1 ORDER BY iteration`,
    [runId],
  );
  assert.equal(facts.length, 4);
  const sections = page.getByTestId('scenario-charts');
  const scenarios = await sections.evaluateAll((els) => els.map((e) => e.getAttribute('data-scenario')));
  assert.deepEqual([...scenarios].sort(), ['D(16,6)', 'D(32,4)']);
  let checked = 0;
  for (const scenario of scenarios) {
    const points = await page
      .locator(`[data-testid=scenario-charts][data-scenario="${scenario}"] [data-testid=chart-point]`)
      .evaluateAll((els) =>
        els.map((e) => [e.getAttribute('data-series'), e.getAttribute('data-x'), e.getAttribute('data-y')]),
      );
    const mine = facts.filter((f) => f.scenario === scenario);
    // Every plotted point is one row's number, and every row's number is plotted.
    assert.equal(
      points.length,
      mine.length * Object.keys(PLOTTED).length,
      `${scenario}: ${JSON.stringify(points)}`,
    );
    for (const [name, x, y] of points) {
      const column = PLOTTED[String(name)];
      assert.ok(column, `unknown series ${name}`);
      const row = mine.find((f) => Number(f.concurrency) === Number(x));
      assert.ok(row, `${scenario}: no row at concurrency ${x}`);
      assert.ok(
        close(Number(y), Number(row[column])),
        `${scenario} ${name} @${x}: ${y} vs ${String(row[column])}`,
      );
      checked += 1;
    }
    assert.ok(await page.locator(`[data-scenario="${scenario}"] svg circle`).first().isVisible());
  }
  assert.equal(checked, facts.length * Object.keys(PLOTTED).length);
  await shot('dashboard-run');

  // Click TTFT p99 of iteration 1: query → run → digests → raw artifacts, all OK.
  const target = facts.find((f) => f.iteration === 1) as Row;
  const number = page.locator('[data-testid=metric-value][data-column="ttft_ms_p99"][data-iteration="1"]');
  assert.ok(close(Number(await number.getAttribute('data-value')), Number(target.ttft_ms_p99)));
  await number.click();
  const panel = page.getByTestId('lineage-panel');
  await panel.getByTestId('lineage-safe').waitFor();
  const [fact, query] = await withWarehouse(fx.warehousePath, async (w) => [
    (
      await w.all(
        'SELECT benchmark_case_id, workload_spec_digest, artifact_manifest_digest FROM benchmark_run_fact WHERE run_id = $1',
        [runId],
      )
    )[0] as Row,
    (await w.all("SELECT query_spec_digest FROM named_query WHERE name = 'serving_points'"))[0] as Row,
  ]);
  const text = async (testid: string): Promise<string> =>
    (await panel.getByTestId(testid).textContent()) ?? '';
  const shown = Number(/= (\S+) \(row/.exec(await text('lineage-number'))?.[1]);
  assert.ok(close(shown, Number(target.ttft_ms_p99)), `lineage number ${shown}`);
  assert.equal(await text('lineage-query'), `serving_points · ${String(query.query_spec_digest)}`);
  assert.equal(await text('lineage-run'), `${runId} · iteration 1`);
  assert.equal(await text('lineage-case'), String(fact.benchmark_case_id));
  assert.equal(await text('lineage-workload-digest'), String(fact.workload_spec_digest));
  assert.equal(await text('lineage-manifest-digest'), String(fact.artifact_manifest_digest));
  assert.match(await text('lineage-manifest-digest'), /^sha256:/);
  const artifacts = await panel
    .getByTestId('lineage-artifact')
    .evaluateAll((els) => els.map((e) => [e.getAttribute('data-state'), e.children[1]?.textContent ?? '']));
  assert.ok(artifacts.length > 0, 'no artifacts in the lineage');
  assert.ok(
    artifacts.some(([, path]) => path.startsWith('iterations/001/')),
    JSON.stringify(artifacts),
  );
  for (const [state, path] of artifacts) assert.equal(state, 'ok', path);
  assert.equal(await panel.getByTestId('lineage-safe').getAttribute('data-safe'), 'true');
  await panel.scrollIntoViewIfNeeded();
  await shot('dashboard-lineage');
});

test('compare: two runs picked on the list, the deltas are compareRuns’', async () => {
  const [a, b] = [fx.soloRun, fx.groupRuns[1] as string];
  await page.goto(base);
  const go = page.getByTestId('compare-go');
  assert.equal(await go.isDisabled(), true);
  for (const id of [a, b]) await page.locator(`[data-testid=compare-pick][value="${id}"]`).check();
  await Promise.all([page.waitForURL('**/compare?*'), go.click()]);
  const url = new URL(page.url());
  const picked = [url.searchParams.get('a'), url.searchParams.get('b')] as [string, string];
  assert.deepEqual([...picked].sort(), [a, b].sort());
  await page.getByTestId('compare-table').waitFor();

  const expected = await withWarehouse(fx.warehousePath, (w) => compareRuns(w, picked[0], picked[1]));
  const table = await page.getByTestId('compare-row').evaluateAll((els) =>
    els.map((tr) => ({
      cells: [...tr.children].slice(0, 3).map((td) => td.textContent),
      deltas: [...tr.querySelectorAll('[data-testid=delta]')].map((td) => [
        td.getAttribute('data-metric'),
        td.textContent,
      ]),
    })),
  );
  assert.equal(table.length, expected.rows.length);
  assert.ok(table.length >= 4, 'the two runs share no point');
  const metrics = expected.columns.filter((c) => c.endsWith('_change_pct'));
  let numeric = 0;
  table.forEach((row, i) => {
    const want = expected.rows[i] as Row;
    assert.deepEqual(row.cells, [String(want.scenario), String(want.mode), String(want.concurrency)]);
    assert.deepEqual(
      row.deltas,
      metrics.map((c) => {
        const change = want[c] === null || want[c] === undefined ? null : Number(want[c]);
        if (change !== null) numeric += 1;
        return [
          c.slice(0, -'_change_pct'.length),
          change === null ? '—' : `${change > 0 ? '+' : ''}${change.toFixed(1)}`,
        ];
      }),
      `row ${i}`,
    );
  });
  assert.ok(numeric > 0, 'no delta to compare');
  await shot('dashboard-compare');
});

test('the run page links to the full report: served under its CSP, every chart drawn, nothing blocked', async () => {
  const runId = fx.groupRuns[0] as string;
  const problems: string[] = [];
  const outside: string[] = [];
  const onPageError = (error: Error): void => void problems.push(`page error: ${error.message}`);
  const onConsole = (m: { type(): string; text(): string }): void => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  };
  const onFailed = (r: { url(): string; failure(): { errorText: string } | null }): void =>
    void problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`);
  const onRequest = (r: { url(): string }): void => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) outside.push(r.url());
  };
  page.on('pageerror', onPageError);
  page.on('console', onConsole);
  page.on('requestfailed', onFailed);
  page.on('request', onRequest);
  try {
    await page.goto(`${base}/runs/${runId}`);
    const link = page.getByTestId('run-report-link');
    assert.ok(await link.isVisible(), 'the report link is on the run page');
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === `/runs/${runId}/report`),
      link.click(),
    ]);
    await page.waitForURL(`**/runs/${runId}/report`);
    assert.equal(response.status(), 200);
    const csp = response.headers()['content-security-policy'] ?? '';
    assert.match(csp, /^default-src 'none'; script-src 'sha256-/);
    assert.doesNotMatch(csp, /unsafe-|https?:|\*/);
    await page.waitForSelector('body[data-charts-rendered]');

    const figures = page.locator('figure[data-chart]');
    const count = await figures.count();
    assert.ok(count >= 4, `only ${count} charts`);
    assert.equal(await page.locator('body').getAttribute('data-charts-rendered'), String(count));
    assert.equal(await page.locator('figure[data-chart][data-rendered="true"] .plot canvas').count(), count);
    const data = JSON.parse((await page.locator('#report-data').textContent()) ?? '') as {
      subject: { kind: string; id: string };
      charts: { id: string }[];
    };
    assert.deepEqual([data.subject.kind, data.subject.id], ['run', runId]);
    assert.equal(data.charts.length, count);
    await shot('dashboard-report');

    // Its run group's report (the repeats, points as medians), and back to the run page.
    await page.goto(`${base}/runs/${runId}`);
    await Promise.all([
      page.waitForURL(`**/groups/${encodeURIComponent(fx.groupId)}/report`),
      page.getByTestId('group-report-link').click(),
    ]);
    await page.waitForSelector('body[data-charts-rendered]');
    const groupCharts = await page.locator('figure[data-chart]').count();
    assert.equal(await page.locator('body').getAttribute('data-charts-rendered'), String(groupCharts));
    const groupData = JSON.parse((await page.locator('#report-data').textContent()) ?? '') as {
      subject: { kind: string; id: string; run_ids: string[] };
    };
    assert.equal(groupData.subject.kind, 'run_group');
    assert.deepEqual([...groupData.subject.run_ids].sort(), [...fx.groupRuns].sort());
    await Promise.all([page.waitForURL('**/runs/*'), page.getByTestId('report-back').click()]);
    assert.ok(await page.getByTestId('run-report-link').isVisible());
  } finally {
    page.off('pageerror', onPageError);
    page.off('console', onConsole);
    page.off('requestfailed', onFailed);
    page.off('request', onRequest);
  }
  assert.deepEqual(problems, [], 'no page error, console error or blocked request');
  assert.deepEqual(outside, [], 'nothing requested from outside the dashboard');
});

/**
 * A number as a page shows it ('—' for none) is `want`, rounded no more than the
 * page's format allows (`precision`: the largest rounding error), so a wrong
 * number, a missing one, one where there is none, or one rounded coarser fails.
 */
function assertShown(
  text: string | null | undefined,
  want: number | null,
  what: string,
  precision: number,
): void {
  const t = (text ?? '').trim();
  if (want === null) {
    assert.equal(t, '—', `${what}: the warehouse has none`);
    return;
  }
  const shown = Number(t);
  assert.ok(
    t !== '' && t !== '—' && Number.isFinite(shown),
    `${what}: shows ${JSON.stringify(t)}, warehouse ${want}`,
  );
  assert.ok(
    Math.abs(shown - want) <= precision * (1 + 1e-9) + 1e-12,
    `${what}: shows ${t}, warehouse ${want} (±${precision})`,
  );
}

/** The dashboard's number format: whole numbers as they are, from 100 one decimal, below 4 significant digits. */
function dashboardPrecision(value: number | null): number {
  if (value === null || Number.isInteger(value)) return 0;
  const size = Math.abs(value);
  return size >= 100 ? 0.05 : 0.5 * 10 ** (Math.floor(Math.log10(size)) - 3);
}

const FILTER_KEYS = ['model', 'engine', 'gpu', 'scenario', 'from', 'to'] as const;
type FilterKey = (typeof FILTER_KEYS)[number];

/** Fills the run list's filter form as a user does and submits it; the response to the submit. */
async function applyFilters(values: Partial<Record<FilterKey, string>>): Promise<number> {
  for (const key of FILTER_KEYS) await page.getByTestId(`filter-${key}`).fill(values[key] ?? '');
  const wanted = (u: URL): boolean =>
    u.pathname === '/' && FILTER_KEYS.every((k) => (u.searchParams.get(k) ?? '') === (values[k] ?? ''));
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().resourceType() === 'document' && wanted(new URL(r.url()))),
    page.waitForURL(wanted),
    page.getByTestId('filter-apply').click(),
  ]);
  return response.status();
}

const listedRuns = (): Promise<(string | null)[]> =>
  page.getByTestId('run-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')));

test('filters and paging: the run list shows exactly the warehouse’s matching runs, newest first', async () => {
  const all = await rows(
    fx.warehousePath,
    `SELECT r.run_id, r.model, r.engine, r.engine_version, r.gpu_type, r.gpu_count,
       epoch_ms(r.started_at)::DOUBLE AS at, r.iterations_completed AS iterations,
       (SELECT string_agg(DISTINCT s.scenario, ' ' ORDER BY s.scenario) FROM serving_outcome_fact s
         WHERE s.run_id = r.run_id) AS scenarios
     FROM benchmark_run_fact r`,
  );
  all.sort((x, y) => Number(y.at) - Number(x.at) || (String(y.run_id) < String(x.run_id) ? -1 : 1));
  const ids = (list: Row[]): string[] => list.map((r) => String(r.run_id));
  const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  const DAY = 86_400_000;

  await page.goto(base);
  // The pickers offer the warehouse's values.
  const distinct = async (sql: string): Promise<string[]> =>
    (await rows(fx.warehousePath, sql)).map((r) => String(r.v));
  const offered = async (key: string): Promise<string[]> =>
    page
      .locator(`#choices-${key} option`)
      .evaluateAll((els) => els.map((e) => e.getAttribute('value') ?? ''));
  const choices: [string, string][] = [
    ['model', 'SELECT DISTINCT model AS v FROM benchmark_run_fact WHERE model IS NOT NULL ORDER BY 1'],
    ['engine', 'SELECT DISTINCT engine AS v FROM benchmark_run_fact WHERE engine IS NOT NULL ORDER BY 1'],
    ['gpu', 'SELECT DISTINCT gpu_type AS v FROM benchmark_run_fact WHERE gpu_type IS NOT NULL ORDER BY 1'],
    ['scenario', 'SELECT DISTINCT scenario AS v FROM serving_outcome_fact ORDER BY 1'],
  ];
  for (const [key, sql] of choices)
    assert.deepEqual(await offered(key), await distinct(sql), `${key} choices`);

  /** Submits the filters; the list, its count and the form then are the expected runs and values. */
  const expectList = async (values: Partial<Record<FilterKey, string>>, expected: Row[]): Promise<void> => {
    const what = JSON.stringify(values);
    assert.equal(await applyFilters(values), 200, what);
    assert.deepEqual(await listedRuns(), ids(expected), what);
    assert.equal(await page.getByTestId('run-count').textContent(), String(expected.length), what);
    for (const key of FILTER_KEYS) {
      assert.equal(
        await page.getByTestId(`filter-${key}`).inputValue(),
        values[key] ?? '',
        `${what}: ${key} kept`,
      );
    }
    if (expected.length === 0) assert.ok(await page.getByTestId('runs-empty').isVisible(), what);
  };

  // Engine: only the run group's runs carry one; every listed row shows its warehouse facts.
  const vllm = all.filter((r) => r.engine === 'vLLM');
  assert.ok(vllm.length > 0 && vllm.length < all.length, 'the fixture has runs with and without vLLM');
  await expectList({ engine: 'vLLM' }, vllm);
  const cells = await page
    .getByTestId('run-row')
    .evaluateAll((els) =>
      els.map((tr) => [...tr.children].slice(3, 8).map((td) => (td.textContent ?? '').trim())),
    );
  cells.forEach((shown, i) => {
    const r = vllm[i] as Row;
    assert.deepEqual(
      shown,
      [
        String(r.model),
        `${String(r.engine)} ${String(r.engine_version ?? '')}`.trim(),
        `${String(r.gpu_type)}${r.gpu_count ? ` ×${String(r.gpu_count)}` : ''}`,
        String(r.scenarios),
        String(r.iterations),
      ],
      `row of ${String(r.run_id)}`,
    );
  });
  await shot('dashboard-filters');

  // Scenario: the runs with a point of it (the lone run has D(16,6) only).
  const withScenario = new Set(
    ids(
      await rows(fx.warehousePath, 'SELECT DISTINCT run_id FROM serving_outcome_fact WHERE scenario = $1', [
        'D(32,4)',
      ]),
    ),
  );
  const d32 = all.filter((r) => withScenario.has(String(r.run_id)));
  assert.ok(d32.length > 0 && d32.length < all.length);
  await expectList({ scenario: 'D(32,4)' }, d32);
  await expectList(
    { scenario: 'D(16,6)', model: 'm' },
    all.filter((r) => r.model === 'm'),
  );
  await expectList(
    { model: 'm', gpu: 'H100' },
    all.filter((r) => r.model === 'm' && r.gpu_type === 'H100'),
  );
  await expectList({ gpu: 'A100' }, []);

  // Dates (whole UTC days, `to` inclusive): the runs' own days, then a day before them all.
  const times = all.map((r) => Number(r.at));
  const [first, last] = [day(Math.min(...times)), day(Math.max(...times))];
  const within = (from: string, to: string): Row[] =>
    all.filter(
      (r) =>
        Number(r.at) >= Date.parse(`${from}T00:00:00Z`) && Number(r.at) < Date.parse(`${to}T00:00:00Z`) + DAY,
    );
  await expectList({ from: first, to: last }, within(first, last));
  assert.equal(within(first, last).length, all.length);
  const before = day(Date.parse(`${first}T00:00:00Z`) - DAY);
  await expectList({ engine: 'vLLM', to: before }, []);
  await expectList({ engine: 'vLLM', from: last }, vllm);

  // A SQL-ish value typed into a filter: a clear 400, no runs.
  assert.equal(await applyFilters({ engine: "vLLM' OR '1'='1" }), 400);
  assert.equal(await page.getByTestId('error').getAttribute('data-code'), 'E_BAD_FILTER');
  assert.equal(await page.getByTestId('run-row').count(), 0);

  // Paging, newest first: two pages of 2 and 1; then a filter kept across its pages.
  await page.goto(`${base}/?limit=2`);
  assert.deepEqual(await listedRuns(), ids(all.slice(0, 2)));
  assert.equal(await page.getByTestId('run-range').textContent(), '1–2');
  assert.equal(await page.getByTestId('page-prev').count(), 0);
  await Promise.all([
    page.waitForURL((u) => u.searchParams.get('offset') === '2'),
    page.getByTestId('page-next').click(),
  ]);
  assert.deepEqual(await listedRuns(), ids(all.slice(2, 4)));
  assert.equal(await page.getByTestId('run-range').textContent(), `3–${Math.min(4, all.length)}`);
  assert.equal(await page.getByTestId('run-count').textContent(), String(all.length));
  assert.equal(await page.getByTestId('page-next').count(), all.length > 4 ? 1 : 0);
  await Promise.all([
    page.waitForURL((u) => !u.searchParams.has('offset')),
    page.getByTestId('page-prev').click(),
  ]);
  assert.deepEqual(await listedRuns(), ids(all.slice(0, 2)));

  await page.goto(`${base}/?engine=vLLM&limit=1`);
  const pages: (string | null)[] = [...(await listedRuns())];
  while ((await page.getByTestId('page-next').count()) > 0) {
    const offset = String(pages.length);
    await Promise.all([
      page.waitForURL(
        (u) => u.searchParams.get('offset') === offset && u.searchParams.get('engine') === 'vLLM',
      ),
      page.getByTestId('page-next').click(),
    ]);
    assert.equal(await page.getByTestId('filter-engine').inputValue(), 'vLLM');
    pages.push(...(await listedRuns()));
    assert.ok(pages.length <= all.length, 'paging does not end');
  }
  assert.deepEqual(pages, ids(vllm));

  await Promise.all([
    page.waitForURL((u) => u.pathname === '/' && u.search === ''),
    page.getByTestId('filter-clear').click(),
  ]);
  assert.deepEqual(await listedRuns(), ids(all));
});

type Means = Map<string, { key: Row; metrics: Record<string, number | null> }>;

/** Per point (scenario, mode, concurrency, rate), each compared metric's mean over the given runs, from the warehouse. */
async function meansOf(runIds: string[]): Promise<Means> {
  const facts = await rows(
    fx.warehousePath,
    `SELECT scenario, mode, concurrency, rate_rps, ${COMPARED.join(', ')} FROM serving_outcome_fact
     WHERE run_id IN (${runIds.map((_, i) => `$${i + 1}`).join(', ')})`,
    runIds,
  );
  const out: Means = new Map();
  const keyOf = (f: Row): string => JSON.stringify([f.scenario, f.mode, f.concurrency, f.rate_rps]);
  for (const f of facts) {
    const key = keyOf(f);
    if (out.has(key)) continue;
    const same = facts.filter((g) => keyOf(g) === key);
    out.set(key, {
      key: f,
      metrics: Object.fromEntries(
        COMPARED.map((m) => {
          const values = same
            .map((g) => g[m])
            .filter((v) => v !== null && v !== undefined)
            .map(Number);
          return [m, values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length];
        }),
      ),
    });
  }
  return out;
}

/** The compare table on screen: one row per point of A or B, A, B and B's change in % per compared metric. */
async function assertCompareTable(a: Means, b: Means, what: string): Promise<void> {
  const order = (x: Row, y: Row): number => {
    for (const k of ['scenario', 'mode', 'concurrency', 'rate_rps']) {
      const [p, q] = [x[k], y[k]];
      if (p === q) continue;
      if (p === null || p === undefined) return 1;
      if (q === null || q === undefined) return -1;
      return (typeof p === 'number' ? p < (q as number) : String(p) < String(q)) ? -1 : 1;
    }
    return 0;
  };
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) =>
    order((a.get(x) ?? b.get(x))!.key, (a.get(y) ?? b.get(y))!.key),
  );
  const table = await page
    .getByTestId('compare-row')
    .evaluateAll((els) =>
      els.map((tr) => [...tr.children].map((td) => [td.getAttribute('data-metric'), td.textContent ?? ''])),
    );
  assert.equal(table.length, keys.length, `${what}: one row per point of A or B`);
  let changes = 0;
  table.forEach((cells, i) => {
    const key = keys[i] as string;
    const [pa, pb] = [a.get(key), b.get(key)];
    const row = (pa ?? pb)!.key;
    const at = `${what} ${String(row.scenario)} @${String(row.concurrency)}`;
    assert.deepEqual(
      cells.slice(0, 3).map(([, t]) => t),
      [String(row.scenario), String(row.mode), String(row.concurrency)],
      at,
    );
    assert.equal(cells.length, 4 + 3 * COMPARED.length, at);
    COMPARED.forEach((m, k) => {
      type Cell = [string | null, string];
      const [ca, cb, cd] = cells.slice(4 + 3 * k, 7 + 3 * k) as [Cell, Cell, Cell];
      assert.equal(cd[0], m, `${at}: column order`);
      const va = pa?.metrics[m] ?? null;
      const vb = pb?.metrics[m] ?? null;
      assertShown(ca[1], va, `${at} ${m} A`, dashboardPrecision(va));
      assertShown(cb[1], vb, `${at} ${m} B`, dashboardPrecision(vb));
      const change = va === null || vb === null || va === 0 ? null : (100 * (vb - va)) / va;
      if (change !== null) changes += 1;
      // Rounded to 0.01 % by the query, then shown to 0.1 %: off by 0.055 at most.
      assertShown(cd[1], change, `${at} ${m} Δ%`, 0.05 + 0.005);
    });
  });
  assert.ok(changes > 0, `${what}: no change to check`);
}

test('compare two run groups, then two runs, from the compare form: the means and changes are the warehouse’s', async () => {
  const runId = fx.groupRuns[0] as string;
  const groups = await rows(
    fx.warehousePath,
    'SELECT run_group_id, list(run_id ORDER BY started_at, run_id) AS run_ids FROM benchmark_run_fact GROUP BY run_group_id',
  );
  const runsOf = (group: string): string[] =>
    ((groups.find((g) => g.run_group_id === group)?.run_ids as string[] | undefined) ?? []).map(String);
  const other = (
    await rows(fx.warehousePath, 'SELECT run_group_id FROM benchmark_run_fact WHERE run_id = $1', [
      fx.soloRun,
    ])
  )[0]?.run_group_id as string;
  assert.ok(other && other !== fx.groupId, 'the lone run is a group of its own');
  assert.deepEqual([...runsOf(fx.groupId)].sort(), [...fx.groupRuns].sort());

  // From a run page: "compare its run group with another…" fills A with its group.
  await page.goto(`${base}/runs/${runId}`);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/compare' && u.searchParams.get('ga') === fx.groupId),
    page.getByTestId('compare-group').click(),
  ]);
  const form = page.getByTestId('compare-form');
  assert.equal(await form.getAttribute('data-kind'), 'groups');
  assert.equal(await page.getByTestId('compare-a').inputValue(), fx.groupId);
  const offered = async (): Promise<string[]> =>
    (
      await page.locator('#recent option').evaluateAll((els) => els.map((e) => e.getAttribute('value') ?? ''))
    ).sort();
  assert.deepEqual(await offered(), groups.map((g) => String(g.run_group_id)).sort(), 'the groups offered');
  await page.getByTestId('compare-b').fill(other);
  await Promise.all([
    page.waitForURL((u) => u.searchParams.get('ga') === fx.groupId && u.searchParams.get('gb') === other),
    page.getByTestId('compare-submit').click(),
  ]);
  await page.getByTestId('compare-table').waitFor();
  const linked = async (side: string): Promise<string[]> =>
    page
      .locator(`[data-testid=compare-run-${side}] a`)
      .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
  assert.match(
    (await page.getByTestId('compare-run-a').textContent()) ?? '',
    new RegExp(`group ${fx.groupId} \\(2 runs`),
  );
  assert.deepEqual(await linked('a'), runsOf(fx.groupId));
  assert.deepEqual(await linked('b'), runsOf(other));
  await assertCompareTable(await meansOf(runsOf(fx.groupId)), await meansOf(runsOf(other)), 'groups');
  await shot('dashboard-compare-groups');

  // Back to runs: the two repeats of the group, typed into the form.
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/compare' && u.search === ''),
    page.getByTestId('compare-mode').click(),
  ]);
  assert.equal(await form.getAttribute('data-kind'), 'runs');
  const allRuns = await rows(fx.warehousePath, 'SELECT run_id FROM benchmark_run_fact ORDER BY run_id');
  assert.deepEqual(
    await offered(),
    allRuns.map((r) => String(r.run_id)),
    'the runs offered',
  );
  const [a, b] = fx.groupRuns as [string, string];
  await page.getByTestId('compare-a').fill(a);
  await page.getByTestId('compare-b').fill(b);
  await Promise.all([
    page.waitForURL((u) => u.searchParams.get('a') === a && u.searchParams.get('b') === b),
    page.getByTestId('compare-submit').click(),
  ]);
  await page.getByTestId('compare-table').waitFor();
  assert.deepEqual(await linked('a'), [a]);
  assert.deepEqual(await linked('b'), [b]);
  await assertCompareTable(await meansOf([a]), await meansOf([b]), 'runs');
  await shot('dashboard-compare-runs');
});

/**
 * The report the dashboard serves on `page` (already loaded, charts drawn): every
 * chart's embedded points are the warehouse's (a group's points its medians), uPlot
 * drew exactly those, each figure's table of points shows them, the provenance is
 * the runs', and the drill-down charts are that iteration's requests.
 */
async function assertServedReport(
  p: Page,
  runIds: string[],
  iteration: number | null,
  what: string,
): Promise<ReportData> {
  const data = JSON.parse((await p.locator('#report-data').textContent()) ?? '') as ReportData;
  assert.deepEqual([...data.subject.run_ids].sort(), [...runIds].sort(), what);
  assert.equal(data.baseline, null);

  const facts = await rows(
    fx.warehousePath,
    `SELECT run_id, iteration, scenario, concurrency, ${POINT_METRICS.join(', ')} FROM serving_outcome_fact
     WHERE run_id IN (${runIds.map((_, i) => `$${i + 1}`).join(', ')})`,
    runIds,
  );
  const median = (values: number[]): number => {
    const s = [...values].sort((x, y) => x - y);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  };
  const at = (scenario: string, column: string): [number, number | null][] =>
    [...new Set(facts.filter((f) => f.scenario === scenario).map((f) => Number(f.concurrency)))]
      .sort((x, y) => x - y)
      .map((load) => {
        const values = facts
          .filter((f) => f.scenario === scenario && Number(f.concurrency) === load)
          .map((f) => f[column])
          .filter((v) => v !== null && v !== undefined)
          .map(Number);
        return [load, values.length === 0 ? null : median(values)];
      });
  const scenarios = [...new Set(facts.map((f) => String(f.scenario)))].sort();
  assert.deepEqual(
    [...new Set(data.charts.flatMap((c) => (c.scenario ? [c.scenario] : [])))].sort(),
    scenarios,
    what,
  );
  assert.equal(
    data.charts.length,
    scenarios.length * 6 + 3,
    `${what}: 6 charts per scenario and 3 of the drill-down`,
  );
  for (const scenario of scenarios) {
    for (const [kind, columns] of Object.entries(REPORT_SERIES)) {
      const chart = data.charts.find((c) => c.id.startsWith(`${kind}-`) && c.scenario === scenario);
      assert.ok(chart, `${what}: no ${kind} chart for ${scenario}`);
      assert.deepEqual(
        chart.series.map((s) => s.label),
        columns.map(([, name]) => `run ${name}`),
        chart.id,
      );
      chart.series.forEach((s, k) =>
        assertPoints(
          s.points,
          at(scenario, (columns[k] as [string, string])[0]),
          `${what} ${chart.id} ${s.label}`,
        ),
      );
    }
    const pareto = data.charts.find((c) => c.id.startsWith('pareto-') && c.scenario === scenario);
    assert.ok(pareto, `${what}: no pareto chart for ${scenario}`);
    const e2e = new Map(at(scenario, 'e2e_latency_ms_p50'));
    const want = at(scenario, 'output_throughput_tokens_per_s')
      .map(([load, tps]): [number, number | null] => [tps as number, e2e.get(load) ?? null])
      .sort((x, y) => x[0] - y[0]);
    assertPoints(pareto.series[0]?.points ?? [], want, `${what} ${pareto.id}`);
  }

  // The drill-down: the iteration asked for (else the subject's highest load), its measured requests.
  const d = data.drilldown;
  assert.ok(d, `${what}: no drill-down`);
  const first = runIds.length === 1 ? (runIds[0] as string) : d.run_id;
  assert.ok(runIds.includes(d.run_id));
  const mine = facts.filter((f) => f.run_id === first);
  const point = mine.find((f) => Number(f.iteration) === d.iteration);
  assert.ok(point, `${what}: drill-down iteration ${d.iteration} is not a point of ${first}`);
  assert.deepEqual([d.scenario, d.concurrency], [point.scenario, Number(point.concurrency)], what);
  if (iteration === null) {
    assert.equal(d.concurrency, Math.max(...mine.map((f) => Number(f.concurrency))), `${what}: highest load`);
  } else {
    assert.equal(d.iteration, iteration, what);
  }
  const requests = await rows(
    fx.warehousePath,
    `SELECT status, ttft_ms FROM request_fact WHERE run_id = $1 AND iteration = $2 AND phase = 'measured'`,
    [d.run_id, String(d.iteration)],
  );
  const ok = requests.filter((r) => r.status === 'ok');
  assert.ok(ok.length > 0, `${what}: no requests`);
  const chart = (id: string): ChartSeries[] => data.charts.find((c) => c.id === id)?.series ?? [];
  assert.deepEqual(
    chart('ttft-cdf')[0]?.points.map((q) => q[0]),
    [...new Set(ok.map((r) => Number(r.ttft_ms)).sort((x, y) => x - y))],
    `${what}: TTFT CDF`,
  );
  assert.equal(chart('ttft-cdf')[0]?.points.at(-1)?.[1], 1);
  assert.equal(
    chart('timeseries')
      .find((s) => s.label === 'errors')
      ?.points.reduce((sum, q) => sum + Number(q[1]), 0),
    requests.length - ok.length,
    `${what}: errors over time`,
  );
  assert.match((await p.locator('#drilldown').textContent()) ?? '', new RegExp(`iteration ${d.iteration}$`));

  // What uPlot drew and what each figure's table shows are the embedded points.
  const drawn = (await p.evaluate('window.__drawn')) as {
    id: string | null;
    labels: string[];
    data: (number | null)[][];
  }[];
  assert.equal(drawn.length, data.charts.length, `${what}: plots drawn`);
  for (const c of data.charts) {
    const plot = drawn.find((x) => x.id === c.id);
    assert.ok(plot, `${what}: ${c.id} not drawn`);
    const lines = c.series.flatMap((s) =>
      s.frontier
        ? [[s.label, s.points] as const, [`${s.label} frontier`, s.frontier] as const]
        : [[s.label, s.points] as const],
    );
    assert.deepEqual(plot.labels, [c.x, ...lines.map(([label]) => label)], c.id);
    const xs = plot.data[0] as number[];
    plot.data.slice(1).forEach((ys, i) =>
      assertPoints(
        xs.flatMap((x, j) => (ys[j] === null ? [] : [[x, ys[j] as number] as [number, number]])),
        (lines[i]?.[1] ?? []).filter((q) => q[1] !== null),
        `${what} ${c.id} drawn ${lines[i]?.[0]}`,
      ),
    );
    const table = await p
      .locator(`figure[data-chart="${c.id}"] details table tbody tr`)
      .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
    const want = lines.flatMap(([label, points]) => points.map((q) => [label, q[0], q[1]] as const));
    assert.equal(table.length, want.length, `${what} ${c.id}: table rows`);
    table.forEach((cells, i) => {
      const [label, x, y] = want[i] as readonly [string, number, number | null];
      assert.equal(cells[0], label, `${c.id} table row ${i}`);
      // The table rounds to 0.001.
      assertShown(cells[1], x, `${c.id} table row ${i} x`, 0.0005);
      assertShown(cells[2], y, `${c.id} table row ${i} y`, 0.0005);
    });
  }

  // Provenance: each run's digests, and how many raw artifacts it has.
  const runs = await rows(
    fx.warehousePath,
    `SELECT run_id, status, artifact_manifest_digest, benchmark_case_id,
       (SELECT count(*) FROM run_artifact a WHERE a.run_id = r.run_id)::INTEGER AS artifacts
     FROM benchmark_run_fact r WHERE run_id IN (${runIds.map((_, i) => `$${i + 1}`).join(', ')}) ORDER BY started_at, run_id`,
    runIds,
  );
  const section = p.locator('section[data-subject="run"]');
  const shown = await section
    .locator('table')
    .first()
    .locator('tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
  assert.deepEqual(
    shown.map((c) => [c[0], c[2], c[3], c[4]]),
    runs.map((r) => [r.run_id, r.status, r.artifact_manifest_digest, r.benchmark_case_id].map(String)),
    `${what}: provenance`,
  );
  const artifacts = runs.reduce((sum, r) => sum + Number(r.artifacts), 0);
  assert.ok(artifacts > 0);
  assert.match((await section.textContent()) ?? '', new RegExp(`Raw artifacts \\(${artifacts},`));
  return data;
}

test('the dashboard’s reports plot the warehouse’s numbers: a run, its group, another view and iteration', async () => {
  const runId = fx.groupRuns[1] as string;
  const p = await context.newPage();
  p.setDefaultTimeout(15_000);
  await p.addInitScript(UPLOT_SPY);
  const problems: string[] = [];
  p.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  try {
    // The run's report, reached from its run page.
    await p.goto(`${base}/runs/${runId}`);
    await Promise.all([p.waitForURL(`**/runs/${runId}/report`), p.getByTestId('run-report-link').click()]);
    await p.waitForSelector('body[data-charts-rendered]');
    assert.equal(await p.locator('body').getAttribute('data-view'), 'engineering');
    const data = await assertServedReport(p, [runId], null, 'run report');
    assert.equal(data.subject.kind, 'run');

    // Its group's report: medians over the repeats.
    await p.goto(`${base}/runs/${runId}`);
    await Promise.all([
      p.waitForURL(`**/groups/${encodeURIComponent(fx.groupId)}/report`),
      p.getByTestId('group-report-link').click(),
    ]);
    await p.waitForSelector('body[data-charts-rendered]');
    const group = await assertServedReport(p, fx.groupRuns, null, 'group report');
    assert.deepEqual([group.subject.kind, group.subject.id], ['run_group', fx.groupId]);
    await p.screenshot({ path: join(SCREENSHOTS, 'dashboard-group-report.png'), fullPage: true });

    // Another audience and another drill-down iteration, by the page's parameters.
    await p.goto(`${base}/runs/${runId}/report?view=product&iteration=0`);
    await p.waitForSelector('body[data-charts-rendered]');
    assert.equal(await p.locator('body').getAttribute('data-view'), 'product');
    assert.equal(await p.locator('section.view[data-view="product"] h2').textContent(), 'Product view');
    await assertServedReport(p, [runId], 0, 'product view, iteration 0');
    await p.screenshot({ path: join(SCREENSHOTS, 'dashboard-report-product.png'), fullPage: true });
  } finally {
    await p.close();
  }
  assert.deepEqual(problems, []);
});
