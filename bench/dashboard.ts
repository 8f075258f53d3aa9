/**
 * Dashboard benchmark: time to first byte and to the full response of the run
 * list page (`/`) and `/api/runs` (and one run page) on a warehouse of 1,000
 * runs. The warehouse is filled by SQL, as bench/warehouse.ts does (runs of 6
 * points each, several models, engines and GPUs), because ingesting 1,000 real
 * runs would measure the setup, not the dashboard. The server runs in this
 * process; requests are sequential, so the numbers are the server's own.
 *
 * The first request after the warehouse has been closed (idle) reopens it: that
 * cold figure is reported apart. Target: the first page within 1 s.
 *
 * Run: `npm run build && node dist/bench/dashboard.js` (options: `--runs 1000`,
 * `--requests 50`).
 */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startDashboard } from '../src/server/server.js';
import { Warehouse } from '../src/warehouse/warehouse.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '50' },
  },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);

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
      ['`/runs/run-000500` (run page)', '/runs/run-000500'],
      ['`/api/compare?a=…&b=…`', '/api/compare?a=run-000001&b=run-000999'],
      [
        '`/api/lineage?query=serving_points&…`',
        '/api/lineage?query=serving_points&column=ttft_ms_p99&run=run-000500&iteration=3',
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
} finally {
  await rm(root, { recursive: true, force: true });
}
