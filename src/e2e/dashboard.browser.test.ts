/**
 * The dashboard in headless Chromium: `infermark serve` (the built CLI, in its own
 * process, on an ephemeral port) over a warehouse of real runs against the
 * simulator. The run list is the warehouse's runs; a run page's chart points are
 * its rows; a clicked number walks its lineage to OK artifacts; compare, picked
 * from the list, shows compareRuns' deltas. Screenshots go to artifacts/e2e/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { cli, type CliResult } from '../cli/cli-harness.js';
import { compareRuns } from '../warehouse/queries.js';
import type { Row } from '../warehouse/warehouse.js';
import {
  buildRuns,
  close,
  launchChromium,
  rows,
  SCREENSHOTS,
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
