// Interval scraping of the server's /metrics: samples under load show the server's
// real queue (checked against the simulator's own peaks), every scrape is kept
// (compressed, telemetry/server/) and sealed, the warehouse stores gauges as max/mean over the measured window, and a
// slow or hostile /metrics endpoint never holds up the load (raw node:http servers).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { executeRun } from '../engine/run.js';
import { takeAnchor } from '../base/clock.js';
import { RunFolder } from '../evidence/run-folder.js';
import { loadRunGroup } from '../gate/run-group.js';
import { spawnSimulator } from '../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { ingestRunFolder } from '../warehouse/ingest-run.js';
import { iterationTelemetry, parsePrometheusText, ScrapeSeries } from '../warehouse/prometheus-text.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { readScrapeFile, type ScrapeIndex } from './scrape-files.js';
import { fetchBounded, IterationScraper, MAX_COUNTED_BYTES, scrapeIntervalMs } from './scraper.js';

const CAPACITY = 8;
const CONCURRENCY = 16;

function gauge(text: string, name: string): number {
  for (const [series, value] of parsePrometheusText(text).samples)
    if (series.replace(/\{.*$/, '') === name) return value;
  return Number.NaN;
}

test(
  'under load, interval scrapes show requests running and waiting, and the warehouse keeps their max',
  { timeout: 90_000 },
  async (t) => {
    // Each request decodes 60 tokens 8 ms apart (more with the batch slowdown): ~0.5-1 s each,
    // 64 requests at 16 streams on 8 slots is several seconds with a queue all along.
    const sim = await spawnSimulator({
      seed: 3,
      ttftMs: 20,
      ttftPerInputTokenMs: 0,
      itlMs: 8,
      itlJitterMs: 0,
      capacity: CAPACITY,
      batchSlowdown: 0.5,
    });
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-scrape-'));
    try {
      const job = jobFromCli({
        url: sim.url,
        model: 'sim',
        scenarios: ['D(20,60)'],
        concurrency: [CONCURRENCY],
        maxRequests: 64,
        maxTimeMinutes: 1,
        metricsIntervalSeconds: 0.5,
        seed: 1,
      });
      const result = await executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job, {}), outRoot });
      const stats = await sim.stats();
      const summary = result.summaries[0]!;
      assert.equal(summary.requests.completed, 64);

      const folder = join(result.dir, 'iterations', '000', 'telemetry', 'server');
      const index = JSON.parse(await readFile(join(folder, 'index.json'), 'utf8')) as ScrapeIndex;
      assert.equal(index.target, 'server');
      assert.equal(index.role, 'server');
      const kinds = index.scrapes.map((s) => s.kind);
      assert.equal(kinds[0], 'start');
      assert.equal(kinds.at(-1), 'end');
      assert.ok(index.measured_window_us, 'the index records the measured window');
      const window = index.measured_window_us;
      const during = index.scrapes.filter(
        (s) =>
          s.kind === 'interval' && s.ok && s.done_at_us >= window.start_us && s.done_at_us <= window.end_us,
      );
      assert.ok(
        during.length >= 3,
        `at least 3 samples under load, got ${during.length} (${kinds.join(',')})`,
      );

      const running: number[] = [];
      const waiting: number[] = [];
      for (const s of during) {
        const text = await readScrapeFile(join(folder, s.file));
        running.push(gauge(text, 'vllm:num_requests_running'));
        waiting.push(gauge(text, 'vllm:num_requests_waiting'));
      }
      // What the scrapes saw is what the server had: never above its own peaks, and not 0.
      assert.ok(Math.max(...running) > 0, `running under load: ${running.join(',')}`);
      assert.ok(
        Math.max(...running) <= stats.peakRunning,
        `${running.join(',')} vs peak ${stats.peakRunning}`,
      );
      assert.ok(Math.max(...waiting) > 0, `waiting under load (capacity ${CAPACITY}): ${waiting.join(',')}`);
      assert.ok(
        Math.max(...waiting) <= stats.peakWaiting,
        `${waiting.join(',')} vs peak ${stats.peakWaiting}`,
      );
      t.diagnostic(
        `${index.scrapes.length} scrapes (${during.length} in the measured window of ${((window.end_us - window.start_us) / 1e6).toFixed(2)} s); ` +
          `running ${running.join(',')} (server peak ${stats.peakRunning}); waiting ${waiting.join(',')} (server peak ${stats.peakWaiting})`,
      );
      const end = await readScrapeFile(join(folder, index.scrapes.at(-1)!.file));
      assert.equal(gauge(end, 'vllm:num_requests_running'), 0, 'the end sample is after the drain');

      // Every scrape is sealed evidence.
      const manifest = JSON.parse(await readFile(join(result.dir, 'manifest.json'), 'utf8')) as {
        artifacts: { path: string }[];
      };
      const sealed = new Set(manifest.artifacts.map((a) => a.path));
      for (const s of index.scrapes)
        assert.ok(sealed.has(`iterations/000/telemetry/server/${s.file}`), s.file);
      assert.ok(sealed.has('iterations/000/telemetry/server/index.json'));

      const warehouse = await Warehouse.open(join(outRoot, 'w.duckdb'));
      try {
        await ingestRunFolder(warehouse, result.dir);
        const rows = await warehouse.all(
          `SELECT metric, value, unit FROM telemetry_slice_fact
           WHERE run_id = $1 AND scope = 'iteration' AND metric LIKE 'vllm:num_requests_%' ORDER BY metric`,
          [result.runId],
        );
        const value = (metric: string): number =>
          Number(rows.find((r) => String(r.metric).startsWith(metric))?.value ?? Number.NaN);
        assert.equal(value('vllm:num_requests_running:max'), Math.max(...running));
        assert.ok(value('vllm:num_requests_running:mean') > 0);
        assert.equal(value('vllm:num_requests_waiting:max'), Math.max(...waiting));
        assert.ok(
          rows.every((r) => String(r.unit).endsWith('_over_window')),
          JSON.stringify(rows),
        );
      } finally {
        warehouse.close();
      }

      // The gate's failure diagnostics quote the peak under load, not the drained 0.
      const group = await loadRunGroup([result.dir]);
      const context = [...group.repeats[0]!.context.values()][0]!;
      const quoted = Object.entries(context.server).find(([k]) =>
        k.startsWith('vllm:num_requests_running:max'),
      );
      assert.ok(quoted && quoted[1] > 0, JSON.stringify(context.server));
    } finally {
      await sim.close();
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);

test('gauges: max and time-weighted mean over the scrapes inside the window, counters end − start', () => {
  const text = (running: number, tokens: number): string =>
    `# TYPE r gauge\nr{m="a"} ${running}\n# TYPE t counter\nt_total ${tokens}\n`;
  const series = new ScrapeSeries({ start_us: 1_000, end_us: 4_000 });
  series.add(text(0, 10), 0); // start: before the window
  series.add(text(4, 20), 1_000);
  series.add(text(8, 30), 2_000);
  series.add(text(2, 40), 4_000); // a 2 000 µs gap: its trapezoid weighs twice
  series.add(text(0, 50), 5_000); // end: after the drain
  const slices = new Map(series.slices().map((s) => [s.metric, s]));
  assert.deepEqual(slices.get('r:max{m="a"}'), { metric: 'r:max{m="a"}', value: 8, unit: 'max_over_window' });
  // ((4+8)/2·1000 + (8+2)/2·2000) / 3000 = (6000 + 10000) / 3000
  assert.equal(slices.get('r:mean{m="a"}')?.value, 16_000 / 3_000);
  assert.deepEqual(slices.get('t_total'), { metric: 't_total', value: 40, unit: 'increase' });
});

test('an iteration too short for a scrape in its window uses every scrape, and says so', () => {
  const series = new ScrapeSeries({ start_us: 100, end_us: 200 });
  series.add('# TYPE r gauge\nr 0\n', 0);
  series.add('# TYPE r gauge\nr 3\n', 300);
  const slices = series.slices();
  assert.deepEqual(
    slices.map((s) => [s.metric, s.value, s.unit]),
    [
      ['r:max', 3, 'max_over_iteration'],
      ['r:mean', 1.5, 'mean_over_iteration'],
    ],
  );
});

test('a folder from before interval scraping (metrics-start/end.prom) still reads: counters, and gauges over both', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-legacy-'));
  try {
    await writeFile(join(dir, 'metrics-start.prom'), '# TYPE r gauge\nr 0\n# TYPE t counter\nt_total 5\n');
    await writeFile(join(dir, 'metrics-end.prom'), '# TYPE r gauge\nr 2\n# TYPE t counter\nt_total 9\n');
    assert.deepEqual(
      (await iterationTelemetry(dir)).map((s) => [s.metric, s.value, s.unit]),
      [
        ['t_total', 4, 'increase'],
        ['r:max', 2, 'max_over_iteration'],
        ['r:mean', 1, 'mean_over_iteration'],
      ],
    );
    assert.deepEqual(await iterationTelemetry(join(dir, 'none')), [], 'no scrapes: no slices');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the interval: 2 s asked, shortened for a short time limit, never below 250 ms', () => {
  assert.equal(scrapeIntervalMs(2_000, 600), 2_000);
  assert.equal(scrapeIntervalMs(2_000, 3), 1_000);
  assert.equal(scrapeIntervalMs(2_000, 0.3), 250);
  assert.equal(scrapeIntervalMs(100, 600), 100, 'asked for less: given');
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics` };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

test('a /metrics body past the limit, or one that never ends, is cut and recorded as failed', async () => {
  const endless = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const line = Buffer.alloc(64 * 1024, 'a');
    // Writes until the client goes away; bounded by the test's own time limit.
    const timer = setInterval(() => res.write(line), 1);
    res.on('close', () => clearInterval(timer));
  });
  const silent = await listen((_req, res) => {
    res.writeHead(200);
    res.write('x 1\n');
  });
  try {
    const big = await fetchBounded(endless.url, {}, { timeoutMs: 10_000, maxBytes: 1024 * 1024 });
    assert.equal(big.ok, false);
    assert.match(big.ok ? '' : big.reason, /body over 1048576 bytes/);
    assert.ok(big.bytes <= 1024 * 1024 + 64 * 1024 * 4, `stopped near the limit: ${big.bytes}`);
    const started = Date.now();
    const stuck = await fetchBounded(silent.url, {}, { timeoutMs: 300, maxBytes: 1024 });
    assert.equal(stuck.ok, false);
    assert.match(stuck.ok ? '' : stuck.reason, /no complete answer within 300 ms/);
    assert.ok(Date.now() - started < 5_000);
  } finally {
    await close(endless.server);
    await close(silent.server);
  }
});

test('a slow /metrics skips ticks instead of queueing scrapes, and the timer never blocks', async () => {
  let inFlight = 0;
  let peakInFlight = 0;
  let served = 0;
  const slow = await listen((_req, res) => {
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      served++;
      res.end(`# TYPE g gauge\ng ${served}\n`);
    }, 400);
  });
  const dir = await mkdtemp(join(tmpdir(), 'infermark-scraper-'));
  try {
    const folder = await RunFolder.create(dir);
    const scraper = await IterationScraper.start({
      url: slow.url,
      headers: {},
      folder,
      dir: 'iterations/000',
      anchor: takeAnchor(),
      intervalMs: 100,
    });
    // The loop stays free while scrapes are pending: 20 ticks of 50 ms land on time.
    const lateness: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 50));
      lateness.push(Date.now() - before - 50);
    }
    const index = await scraper.stop(null);
    assert.equal(peakInFlight, 1, 'one scrape at a time');
    assert.ok(index.skipped_ticks > 0, `ticks skipped while one was in flight: ${index.skipped_ticks}`);
    assert.ok(Math.max(...lateness) < 250, `timer lateness ${lateness.join(',')} ms`);
    assert.equal(index.scrapes[0]?.kind, 'start');
    assert.equal(index.scrapes.at(-1)?.kind, 'end');
    assert.ok(index.scrapes.every((s) => s.ok));
    assert.deepEqual(
      index.scrapes.map((s) => s.index),
      index.scrapes.map((_, i) => i),
    );
  } finally {
    await close(slow.server);
    await rm(dir, { recursive: true, force: true });
  }
});

test('series are counted for the index only in bodies up to 1 MiB: a bigger one is kept whole, not parsed on the loop', async () => {
  const series = 80_000;
  const bigBody = `# TYPE g gauge\n${Array.from({ length: series }, (_, i) => `g{i="${i}"} ${i}`).join('\n')}\n`;
  let big = false;
  const server = await listen((_req, res) => {
    res.end(big ? bigBody : '# TYPE g gauge\ng 1\n');
  });
  const dir = await mkdtemp(join(tmpdir(), 'infermark-scraper-'));
  try {
    assert.ok(bigBody.length > MAX_COUNTED_BYTES);
    const folder = await RunFolder.create(dir);
    const scraper = await IterationScraper.start({
      url: server.url,
      headers: {},
      folder,
      dir: 'iterations/000',
      anchor: takeAnchor(),
      intervalMs: 60_000,
    });
    big = true;
    const index = await scraper.stop(null);
    assert.equal(index.scrapes[0]?.series, 1, 'the small start scrape is counted');
    assert.equal(index.scrapes[1]?.ok, true);
    assert.equal(index.scrapes[1]?.series, undefined, 'the big end scrape is not');
    assert.ok((index.scrapes[1]?.body_bytes ?? 0) > MAX_COUNTED_BYTES);
  } finally {
    await close(server.server);
    await rm(dir, { recursive: true, force: true });
  }
});
