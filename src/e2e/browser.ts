/**
 * What the browser tests share: Debian's Chromium driven by playwright-core (no
 * browser download), a warehouse built from real runs of the built CLI against the
 * simulator, a read-only look into it, and the folder screenshots go to.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT, cli, runFolderUnder } from '../cli/testing/harness.js';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { type Row } from '../warehouse/sql.js';

/** Where Chromium is looked for: $INFERMARK_CHROMIUM, else Debian's package. */
export const CHROMIUM = process.env.INFERMARK_CHROMIUM || '/usr/bin/chromium';

/** Screenshots land here (git-ignored); CI keeps the folder as a test artifact. */
export const SCREENSHOTS = join(ROOT, 'artifacts', 'e2e');

/**
 * Headless Chromium. A missing binary fails the test with how to install it: these
 * tests are the acceptance of the pages, so skipping them would hide a broken CI.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) ` +
        'or point INFERMARK_CHROMIUM at a Chromium binary',
    );
  }
  await mkdir(SCREENSHOTS, { recursive: true });
  // --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
}

/** A warehouse of real runs: a run group of two repeats (two scenarios × two concurrencies) and one run alone. */
export interface RunsFixture {
  sim: SpawnedSimulator;
  tmp: string;
  warehousePath: string;
  groupId: string;
  groupRuns: string[];
  soloRun: string;
}

export async function buildRuns(prefix: string): Promise<RunsFixture> {
  const sim = await spawnSimulator({
    // The model the runs name: `run` checks it at /v1/models first.
    model: 'm',
    ttftMs: 8,
    ttftPerInputTokenMs: 0,
    itlMs: 2,
    itlJitterMs: 1,
    errorRate: 0.1,
  });
  // A failed build must not leave the simulator running: its child process would keep the
  // test process alive, and the file would hang instead of failing.
  try {
    return await buildRunsOn(sim, prefix);
  } catch (error) {
    await sim.close();
    throw error;
  }
}

async function buildRunsOn(sim: SpawnedSimulator, prefix: string): Promise<RunsFixture> {
  const tmp = await mkdtemp(join(tmpdir(), prefix));
  const warehousePath = join(tmp, 'warehouse.duckdb');
  const job = join(tmp, 'job.yaml');
  await writeFile(
    job,
    `apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata:
  name: e2e-browser
spec:
  endpoint:
    endpoint:
      url: '${sim.url}/v1/chat/completions'
      apiFormat: openai
      modelName: m
  task: text-to-text
  trafficScenarios: ['D(16,6)', 'D(32,4)']
  numConcurrency: [1, 3]
  maxTimePerIteration: 1
  maxRequestsPerIteration: 12
  serviceMetadata: { engine: vLLM, version: '0.6.0', gpuType: H100, gpuCount: 2 }
  costPerHourUsd: 7.2
`,
  );
  const group = await cli(
    [
      'run',
      job,
      '--repeats',
      '2',
      '--out',
      join(tmp, 'runs-a'),
      '--quiet',
      '--json',
      '--warehouse',
      warehousePath,
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(group.code, 0, group.stderr);
  const parsed = JSON.parse(group.stdout) as { run_group_id: string; runs: { run_id: string }[] };
  const solo = await cli([
    'run',
    '--url',
    sim.url,
    '--model',
    'm',
    '--scenario',
    'D(16,6)',
    '--concurrency',
    '1,3',
    '--max-requests',
    '10',
    '--out',
    join(tmp, 'runs-b'),
    '--quiet',
    '--warehouse',
    warehousePath,
  ]);
  assert.equal(solo.code, 0, solo.stderr);
  const soloRun = (
    JSON.parse(await readFile(join(await runFolderUnder(join(tmp, 'runs-b')), 'run.json'), 'utf8')) as {
      run_id: string;
    }
  ).run_id;
  return {
    sim,
    tmp,
    warehousePath,
    groupId: parsed.run_group_id,
    groupRuns: parsed.runs.map((r) => r.run_id),
    soloRun,
  };
}

/** Work on the warehouse opened read-only (the dashboard may hold it too). */
export function withWarehouse<T>(path: string, work: (w: Warehouse) => Promise<T>): Promise<T> {
  return Warehouse.using(path, { readOnly: true }, work);
}

export async function rows(path: string, sql: string, params: string[] = []): Promise<Row[]> {
  return withWarehouse(path, async (w) => (await w.json(sql, params)).rows);
}

/** Equal numbers, up to the last bits a median or a JSON round trip may change. */
export function close(a: number | null, b: number | null): boolean {
  return a === null || b === null ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
}

export function assertPoints(
  actual: [number, number | null][],
  expected: [number, number | null][],
  what: string,
): void {
  const show = `${what}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`;
  assert.equal(actual.length, expected.length, show);
  actual.forEach((p, i) => {
    const e = expected[i] as [number, number | null];
    assert.ok(close(p[0], e[0]) && close(p[1], e[1]), `${show} (at ${i})`);
  });
}

/**
 * Runs before the page's scripts: wraps the uPlot constructor the report defines,
 * so the test reads what each plot holds (its series labels and aligned data).
 */
export const UPLOT_SPY = `(() => {
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

/** Each chart's series as the report defines them: chart kind → [warehouse column, series name]. */
export const REPORT_SERIES: Record<string, [string, string][]> = {
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
