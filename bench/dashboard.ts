/**
 * Dashboard benchmark: time to first byte and to the full response of the run
 * list page (`/`) and `/api/runs` (and one run page) on a warehouse of 1,000
 * runs. The warehouse is filled by SQL, as bench/warehouse.ts does (runs of 6
 * points each, several models, engines and GPUs), because ingesting 1,000 real
 * runs would measure the setup, not the dashboard. The server runs in this
 * process; requests are sequential, so the numbers are the server's own.
 *
 * The first request after the warehouse has been closed (idle) reopens it: that
 * cold figure is reported apart.
 *
 * Then the first page in headless Chromium (Debian's, by playwright-core, as the
 * browser tests start it): from navigation start until the page's content is
 * drawn, i.e. the first animation frame in which the run list's last row (the
 * 50th run of the server-rendered table) is laid out and visible, read in the
 * page (`performance.now()`, whose origin is navigation start); beside it the
 * driver's wall time from `page.goto` until Playwright sees that row visible,
 * and the page's own TTFB, FCP and LCP (the content painted). Cold: each load on a fresh server whose
 * warehouse is closed, in a fresh browser context (the first one also the
 * browser's first navigation); warm: reloads of one page on one server.
 * Target (issue 6, acceptance 4): the first page renders within 1 s, every
 * load, cold or warm, by content drawn, LCP and the driver's wall time; PASS/FAIL is printed and a FAIL exits 1.
 *
 * Run: `npm run build && node dist/bench/dashboard.js` (options: `--runs 1000`,
 * `--requests 50` HTTP requests per target, `--cold 5` cold and `--reloads 20`
 * warm loads in Chromium, `--target-ms 1000`, `--no-browser` to skip Chromium).
 */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { launchChromium } from '../src/e2e/browser.js';
import { startDashboard } from '../src/server/server.js';
import { Warehouse } from '../src/warehouse/warehouse.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '50' },
    cold: { type: 'string', default: '5' },
    reloads: { type: 'string', default: '20' },
    'target-ms': { type: 'string', default: '1000' },
    'no-browser': { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
const COLD = Number(values.cold);
const RELOADS = Number(values.reloads);
const TARGET_MS = Number(values['target-ms']);
for (const [name, n, min] of [
  ['--runs', RUNS, 1],
  ['--requests', REQUESTS, 1],
  ['--cold', COLD, 1],
  ['--reloads', RELOADS, 1],
  ['--target-ms', TARGET_MS, 1],
] as const) {
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected a whole number ≥ ${min}`);
}

/** The id fillRuns gives run `i`. */
const runName = (i: number): string => `run-${String(i).padStart(6, '0')}`;

/** RUNS runs × 6 points, by SQL, spread over a year, 3 models × 2 engines × 2 GPUs. */
async function fillRuns(warehouse: Warehouse): Promise<void> {
  await warehouse.run(`INSERT INTO benchmark_run_fact (run_id, source, status, started_at, model, engine, engine_version,
      gpu_type, gpu_count, iterations_planned, iterations_completed, ingested_at)
    SELECT 'run-' || lpad(i::VARCHAR, 6, '0'), 'infermark', 'complete', now() - to_hours(i * 8),
      ['llama-3.1-8b', 'qwen2.5-7b', 'mistral-7b'][1 + i % 3], ['vLLM', 'SGLang'][1 + i % 2], '0.6.' || (i % 4),
      ['H100', 'A100'][1 + (i // 2) % 2], 1 + i % 2, 6, 6, now()
    FROM range(${RUNS}) t(i)`);
  const scenarios = ['D(100,100)', 'N(480,240)/(300,150)'];
  await warehouse.run(`INSERT INTO serving_outcome_fact (run_id, iteration, scenario, mode, concurrency, requests_completed,
      requests_errored, ttft_ms_p50, ttft_ms_p99, tpot_ms_p50, tpot_ms_p99, itl_ms_p99, e2e_latency_ms_p99,
      output_throughput_tokens_per_s, request_throughput_rps, goodput_rps, error_rate, ingested_at)
    SELECT 'run-' || lpad(r::VARCHAR, 6, '0'), p, ['${scenarios.join("','")}'][1 + p // 3], 'concurrency', [1, 4, 16][1 + p % 3],
      100, 0, 50 + random() * 10, 90 + random() * 30, 15 + random(), 20 + random(), 40 + random() * 5, 2000 + random() * 100,
      500 + random() * 50, 3 + random(), 3 + random(), 0, now()
    FROM range(${RUNS}) a(r), range(6) b(p)`);
}

interface Timing {
  ttfbMs: number;
  totalMs: number;
  bytes: number;
  status: number;
}

function get(url: string): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(url, (res) => {
      const ttfbMs = performance.now() - t0;
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () =>
        resolve({ ttfbMs, totalMs: performance.now() - t0, bytes, status: res.statusCode ?? 0 }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function percentile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

/**
 * Runs in the page before its own parsing: on every animation frame until then,
 * whether the run list's last row is laid out and visible; the first frame it is
 * (ms since navigation start) is the content-drawn time.
 */
const CONTENT_PROBE = `(() => {
  const probe = () => {
    const rows = document.querySelectorAll('[data-testid=run-row]');
    const last = rows[rows.length - 1];
    const box = last ? last.getBoundingClientRect() : null;
    if (box && box.width > 0 && box.height > 0 && getComputedStyle(last).visibility !== 'hidden') {
      window.__contentAt = performance.now();
      window.__rowsDrawn = rows.length;
    } else requestAnimationFrame(probe);
  };
  requestAnimationFrame(probe);
})()`;

/** What the page measured itself, once the content is drawn (ms since navigation start). */
const PAGE_TIMINGS = `new Promise((resolve) => {
  let lcp = null;
  const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) lcp = e.startTime; });
  try { observer.observe({ type: 'largest-contentful-paint', buffered: true }); } catch {}
  for (const e of observer.takeRecords()) lcp = e.startTime;
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  requestAnimationFrame(() => setTimeout(() => {
    observer.disconnect();
    resolve({
      contentMs: window.__contentAt ?? null,
      rows: window.__rowsDrawn ?? 0,
      count: document.querySelector('[data-testid=run-count]')?.textContent ?? null,
      ttfbMs: nav ? nav.responseStart : null,
      fcpMs: fcp ? fcp.startTime : null,
      lcpMs: lcp,
    });
  }, 50));
})`;

/** The last row of the first page of the run list (the table is server-rendered: 50 runs). */
const LAST_ROW = '[data-testid=runs-table] tbody tr[data-testid=run-row]:last-child';

interface Load {
  /** Navigation start → the first frame with the last run row laid out (in the page). */
  contentMs: number;
  /** `page.goto` called → Playwright sees the last row visible (driver wall time). */
  wallMs: number;
  ttfbMs: number | null;
  fcpMs: number | null;
  lcpMs: number | null;
}

/** One load of the first page: navigate (or reload), wait for its content, read the page's timings. */
async function loadFirstPage(page: Page, url: string | null): Promise<Load> {
  const t0 = performance.now();
  if (url === null) await page.reload({ waitUntil: 'commit' });
  else await page.goto(url, { waitUntil: 'commit' });
  await page.waitForSelector(LAST_ROW, { state: 'visible', timeout: 30_000 });
  const wallMs = performance.now() - t0;
  await page.waitForFunction('window.__contentAt !== undefined', undefined, { timeout: 30_000 });
  const t = (await page.evaluate(PAGE_TIMINGS)) as Omit<Load, 'wallMs'> & {
    rows: number;
    count: string | null;
  };
  // The page must hold the data: a full first page of runs and the warehouse's count.
  if (t.rows !== Math.min(50, RUNS) || t.count !== String(RUNS)) {
    throw new Error(
      `the first page drew ${t.rows} rows and a count of ${t.count}, not ${Math.min(50, RUNS)} of ${RUNS}`,
    );
  }
  return { contentMs: t.contentMs as number, wallMs, ttfbMs: t.ttfbMs, fcpMs: t.fcpMs, lcpMs: t.lcpMs };
}

function stats(values: (number | null)[]): { n: number; p50: number; p99: number; max: number } | null {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return { n: v.length, p50: percentile(v, 0.5), p99: percentile(v, 0.99), max: v.at(-1) as number };
}

const root = await mkdtemp(join(tmpdir(), 'infermark-bench-dashboard-'));
try {
  const path = join(root, 'bench.duckdb');
  const warehouse = await Warehouse.open(path);
  await fillRuns(warehouse);
  warehouse.close();

  const dashboard = await startDashboard({ warehousePath: path, port: 0, idleCloseMs: 60_000 });
  const rows: string[] = [
    '| request | n | TTFB p50 | TTFB p99 | full p50 | full p99 | bytes |',
    '|---|---|---|---|---|---|---|',
  ];
  try {
    const targets: [string, string][] = [
      ['`/` (run list page, 50 runs)', '/'],
      ['`/api/runs` (50 runs)', '/api/runs'],
      ['`/?model=qwen2.5-7b&gpu=H100&offset=100`', '/?model=qwen2.5-7b&gpu=H100&offset=100'],
      [
        '`/api/runs?scenario=D(100,100)&from=…`',
        `/api/runs?scenario=D(100,100)&from=${new Date(Date.now() - 90 * 86_400_000).toISOString().slice(0, 10)}`,
      ],
      [`\`/runs/${runName(RUNS >> 1)}\` (run page)`, `/runs/${runName(RUNS >> 1)}`],
      ['`/api/compare?a=…&b=…`', `/api/compare?a=${runName(Math.min(1, RUNS - 1))}&b=${runName(RUNS - 1)}`],
      [
        '`/api/lineage?query=serving_points&…`',
        `/api/lineage?query=serving_points&column=ttft_ms_p99&run=${runName(RUNS >> 1)}&iteration=3`,
      ],
    ];
    for (const [label, target] of targets) {
      const timings: Timing[] = [];
      for (let i = 0; i < 3; i++) await get(dashboard.url + target); // warm the connection and caches
      for (let i = 0; i < REQUESTS; i++) timings.push(await get(dashboard.url + target));
      const bad = timings.find((t) => t.status !== 200);
      if (bad) throw new Error(`${target}: HTTP ${bad.status}`);
      const ttfb = timings.map((t) => t.ttfbMs).sort((a, b) => a - b);
      const total = timings.map((t) => t.totalMs).sort((a, b) => a - b);
      rows.push(
        `| ${label} | ${REQUESTS} | ${percentile(ttfb, 0.5).toFixed(1)} ms | ${percentile(ttfb, 0.99).toFixed(1)} ms | ${percentile(total, 0.5).toFixed(1)} ms | ${percentile(total, 0.99).toFixed(1)} ms | ${(timings[0] as Timing).bytes.toLocaleString('en-US')} |`,
      );
    }
  } finally {
    await dashboard.close();
  }

  // Cold: a fresh server whose first request opens the warehouse.
  const cold: number[] = [];
  for (let i = 0; i < 5; i++) {
    const fresh = await startDashboard({ warehousePath: path, port: 0, idleCloseMs: 0 });
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the start-up open close again
    cold.push((await get(`${fresh.url}/`)).totalMs);
    await fresh.close();
  }
  cold.sort((a, b) => a - b);
  rows.push(
    `| \`/\` cold (warehouse reopened), 5 servers | 5 | — | — | ${percentile(cold, 0.5).toFixed(1)} ms | max ${(cold.at(-1) as number).toFixed(1)} ms | — |`,
  );
  process.stdout.write(
    `Dashboard on a warehouse of ${RUNS.toLocaleString('en-US')} runs × 6 points\n\n${rows.join('\n')}\n`,
  );

  if (values['no-browser']) {
    process.stdout.write('\nChromium skipped (--no-browser): the 1 s first-page target is not checked.\n');
  } else {
    const browser = await launchChromium();
    const cold: Load[] = [];
    const warm: Load[] = [];
    try {
      // Cold: a fresh server (its warehouse closed) and a fresh browser context, every load.
      for (let i = 0; i < COLD; i++) {
        const fresh = await startDashboard({ warehousePath: path, port: 0, idleCloseMs: 0 });
        await new Promise((resolve) => setTimeout(resolve, 20)); // let the start-up open close again
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        try {
          const page = await context.newPage();
          await page.addInitScript(CONTENT_PROBE);
          cold.push(await loadFirstPage(page, `${fresh.url}/`));
        } finally {
          await context.close();
          await fresh.close();
        }
      }
      // Warm: one server, one page, reloaded.
      const server = await startDashboard({ warehousePath: path, port: 0, idleCloseMs: 60_000 });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const page = await context.newPage();
        await page.addInitScript(CONTENT_PROBE);
        await loadFirstPage(page, `${server.url}/`); // opens the warehouse; not counted
        for (let i = 0; i < RELOADS; i++) warm.push(await loadFirstPage(page, null));
      } finally {
        await context.close();
        await server.close();
      }
    } finally {
      await browser.close();
    }

    const failed: string[] = [];
    const table = [
      `| first page \`/\` in headless Chromium (${Math.min(50, RUNS)} of ${RUNS.toLocaleString('en-US')} runs drawn) | n | p50 | p99 | max | ≤ ${TARGET_MS} ms |`,
      '|---|---|---|---|---|---|',
    ];
    const ms = (v: number): string => `${v.toFixed(1)} ms`;
    for (const [kind, loads] of [
      ['cold', cold],
      ['warm (reload)', warm],
    ] as const) {
      const metrics: [string, (l: Load) => number | null, boolean][] = [
        ['content drawn (navigation start → last run row laid out)', (l) => l.contentMs, true],
        ['driver wall (`page.goto` → last row visible)', (l) => l.wallMs, true],
        ['TTFB (responseStart)', (l) => l.ttfbMs, false],
        ['first contentful paint', (l) => l.fcpMs, false],
        ['largest contentful paint', (l) => l.lcpMs, true],
      ];
      for (const [label, pick, gated] of metrics) {
        const st = stats(loads.map(pick));
        if (!st) {
          table.push(`| ${kind}: ${label} | 0 | — | — | — | ${gated ? 'FAIL (not measured)' : '—'} |`);
          if (gated) failed.push(`${kind}: ${label} not measured`);
          continue;
        }
        // A gated figure the page did not report for some load is a FAIL, not a smaller sample.
        const ok = st.max <= TARGET_MS && st.n === loads.length;
        if (gated && !ok)
          failed.push(`${kind}: ${label} max ${ms(st.max)} (${st.n} of ${loads.length} loads)`);
        table.push(
          `| ${kind}: ${label} | ${st.n} | ${ms(st.p50)} | ${ms(st.p99)} | ${ms(st.max)} | ${gated ? (ok ? 'PASS' : 'FAIL') : '—'} |`,
        );
      }
    }
    process.stdout.write(
      `\n${table.join('\n')}\n\ncold: ${COLD} loads, each on a fresh server (warehouse closed, reopened by the request) in a fresh browser context; warm: ${RELOADS} reloads of one page.\n`,
    );
    if (failed.length > 0) {
      process.stdout.write(
        `FAIL: the first page rendered in more than ${TARGET_MS} ms: ${failed.join('; ')}\n`,
      );
      process.exitCode = 1;
    } else {
      process.stdout.write(
        `PASS: the first page rendered within ${TARGET_MS} ms on every load (${cold.length} cold, ${warm.length} warm); slowest ${ms(Math.max(...[...cold, ...warm].map((l) => Math.max(l.contentMs, l.wallMs, l.lcpMs ?? 0))))}\n`,
      );
    }
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
