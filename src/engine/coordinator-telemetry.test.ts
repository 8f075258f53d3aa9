// A split run's telemetry is scraped once, by its coordinator: the built CLI with `--workers 3`
// (real `infermark shard` workers) against the simulator in its own process, its /metrics and
// its DCGM exporter reached through a raw node:http proxy that counts each GET. The split run
// scrapes the server as often as `--workers 1` does, the shards scrape nothing, the merged
// folder keeps the coordinator's scrapes (the layout one process writes), verifies, ingests
// with its telemetry, and a merge cut short and done again keeps those scrapes byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cli, jsonLines, runFolderUnder, simulatorFixture, writeJobYaml } from '../cli/testing/harness.js';
import { listFiles } from '../evidence/manifest.js';
import { verifyRunFolder } from '../evidence/verify.js';
import { measuredWindowUs } from '../metrics/measured-window.js';
import type { RequestRecord } from '../metrics/record.js';
import type { ScrapeIndex } from '../telemetry/scrape-files.js';
import { ingestRunFolder } from '../warehouse/ingest-run.js';
import { checkTelemetryLineage } from '../warehouse/telemetry-lineage.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { mergeRunFolder } from './merge-run.js';

const SCRAPED = ['/metrics', '/sim/dcgm'] as const;

let proxy: { server: Server; url: string; counts: Map<string, number> } | null = null;

const { sim, tmp } = simulatorFixture(
  'infermark-coordinator-telemetry-',
  { ttftMs: 10, ttftPerInputTokenMs: 0, itlMs: 2, itlJitterMs: 0 },
  {
    // Every request goes on to the simulator as it came; the GETs of the scraped paths are counted.
    setUp: async () => {
      const counts = new Map<string, number>();
      const upstream = new URL(sim().url);
      const server = createServer((req, res) => {
        const path = req.url ?? '/';
        counts.set(path, (counts.get(path) ?? 0) + 1);
        const forward = request(
          { host: upstream.hostname, port: upstream.port, path, method: req.method, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', () => res.destroy());
        req.pipe(forward);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      proxy = { server, url: `http://127.0.0.1:${port}`, counts };
    },
    tearDown: async () => {
      proxy?.server.closeAllConnections();
      await new Promise((resolve) => proxy?.server.close(resolve));
    },
  },
);

function counted(): Map<string, number> {
  return new Map(SCRAPED.map((path) => [path, proxy?.counts.get(path) ?? 0]));
}

/** Runs the job with `workers` workers; the run folder and how often each scraped path was asked for. */
async function runWith(workers: number): Promise<{ dir: string; gets: Map<string, number> }> {
  const via = proxy?.url ?? assert.fail('the proxy is started in the before hook');
  const file = await writeJobYaml(join(tmp(), `scraped-${workers}.yaml`), {
    name: `scraped-${workers}`,
    url: sim().url,
    scenarios: ['D(32,40)'],
    concurrency: [3],
    maxRequestsPerIteration: 18,
    spec: [
      `workers: ${workers}`,
      'seed: 3',
      `metricsUrl: '${via}/metrics'`,
      'metricsIntervalSeconds: 0.5',
      `telemetry: [{ url: '${via}/sim/dcgm', role: gpu }]`,
    ],
  });
  const before = counted();
  const out = join(tmp(), `out-${workers}`);
  const result = await cli(['run', file, '--out', out, '--quiet', '--no-warehouse'], { timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  const after = counted();
  return {
    dir: await runFolderUnder(out),
    gets: new Map(SCRAPED.map((path) => [path, (after.get(path) ?? 0) - (before.get(path) ?? 0)])),
  };
}

/** Each file of an iteration's telemetry/, with the keys of its index and of each index entry. */
async function telemetryShape(dir: string): Promise<unknown> {
  const root = join(dir, 'iterations', '000', 'telemetry');
  const shape: Record<string, unknown> = {};
  for (const target of (await readdir(root)).sort()) {
    const files = (await readdir(join(root, target))).sort();
    const index = JSON.parse(await readFile(join(root, target, 'index.json'), 'utf8')) as ScrapeIndex;
    shape[target] = {
      files: files.map((name) => name.replace(/^\d{4}\.prom\.gz$/, 'NNNN.prom.gz')).filter(unique),
      index: Object.keys(index).sort(),
      entries: [...new Set(index.scrapes.map((entry) => Object.keys(entry).sort().join(',')))],
      kinds: [index.scrapes[0]?.kind, index.scrapes.at(-1)?.kind],
    };
  }
  return shape;
}

function unique(value: string, at: number, all: string[]): boolean {
  return all.indexOf(value) === at;
}

/** sha256 of every file under each iteration's telemetry/, by path. */
async function telemetryDigests(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const path of await listFiles(dir)) {
    if (!/^iterations\/\d+\/telemetry\//.test(path)) continue;
    out.set(
      path,
      createHash('sha256')
        .update(await readFile(join(dir, path)))
        .digest('hex'),
    );
  }
  return out;
}

test('--workers 3 scrapes the server and its exporters as often as --workers 1; the merged folder keeps the coordinator`s scrapes', async (t) => {
  const one = await runWith(1);
  const three = await runWith(3);
  t.diagnostic(
    `GETs with 1 worker: ${JSON.stringify([...one.gets])}; with 3 workers: ${JSON.stringify([...three.gets])}`,
  );
  for (const path of SCRAPED) {
    const [a, b] = [one.gets.get(path) ?? 0, three.gets.get(path) ?? 0];
    // A probe, the start and end samples at least; the split run's iteration is a little longer
    // (the start lead, the shards' seals), so it may get a tick or two more, never one set per shard.
    assert.ok(a >= 3, `${path}: ${a} GETs with one worker`);
    assert.ok(Math.abs(b - a) <= 2, `${path}: ${b} GETs with 3 workers, ${a} with one`);
  }

  // The layout one process writes: the same targets, file names, index fields and entry fields.
  assert.deepEqual(await telemetryShape(three.dir), await telemetryShape(one.dir));
  const runJson = JSON.parse(await readFile(join(three.dir, 'run.json'), 'utf8')) as {
    run_id: string;
    telemetry: { name: string; scraped: boolean }[];
    server: { metrics_scraped: boolean };
  };
  assert.deepEqual(
    runJson.telemetry.map((target) => [target.name, target.scraped]),
    [
      ['gpu', true],
      ['server', true],
    ],
  );
  assert.equal(runJson.server.metrics_scraped, true);
  for (const shard of ['000', '001', '002']) {
    const shardDir = join(three.dir, 'shards', shard);
    const shardRun = JSON.parse(await readFile(join(shardDir, 'run.json'), 'utf8')) as {
      shard: { scraped_by?: string };
    };
    assert.equal(shardRun.shard.scraped_by, 'coordinator');
    assert.deepEqual(
      (await listFiles(shardDir)).filter((path) => path.includes('/telemetry/')),
      [],
      `shard ${shard} scraped nothing`,
    );
  }

  // On the coordinator's clock, around the load of every shard: the start samples before the
  // first request was sent, the end samples after the last finished; the index's window is the records'.
  const records = (await jsonLines(
    join(three.dir, 'iterations', '000', 'requests.jsonl'),
  )) as RequestRecord[];
  const window = measuredWindowUs(records);
  const firstSent = Math.min(...records.map((r) => r.sent_at_us));
  const lastDone = Math.max(...records.map((r) => r.done_at_us ?? r.sent_at_us));
  for (const target of ['gpu', 'server']) {
    const index = JSON.parse(
      await readFile(join(three.dir, 'iterations', '000', 'telemetry', target, 'index.json'), 'utf8'),
    ) as ScrapeIndex;
    assert.deepEqual(index.measured_window_us, window);
    const start = index.scrapes[0]!;
    const end = index.scrapes.at(-1)!;
    assert.ok(
      start.done_at_us < firstSent,
      `${target}: start sample at ${start.done_at_us}, first request ${firstSent}`,
    );
    assert.ok(
      end.sent_at_us > lastDone,
      `${target}: end sample at ${end.sent_at_us}, last request done ${lastDone}`,
    );
    assert.ok(index.scrapes.every((s) => s.ok));
  }

  assert.equal((await verifyRunFolder(three.dir)).status, 'complete');
  const warehouse = await Warehouse.open(join(tmp(), 'w.duckdb'));
  try {
    const { run_id } = await ingestRunFolder(warehouse, three.dir);
    assert.equal(run_id, runJson.run_id);
    const rows = await warehouse.all(
      `SELECT target, count(*)::INTEGER AS n FROM telemetry_slice_fact WHERE run_id = $1 GROUP BY target ORDER BY target`,
      [run_id],
    );
    assert.deepEqual(
      rows.map((row) => row.target),
      ['gpu', 'server'],
    );
    assert.ok(rows.every((row) => Number(row.n) > 0));
    const lineage = await checkTelemetryLineage(warehouse, run_id, three.dir);
    assert.deepEqual([lineage.unknown, lineage.changed], [[], []]);
  } finally {
    warehouse.close();
  }

  // A merge cut short before its seal is done again: the coordinator's scrapes stay as they are.
  const again = join(tmp(), 'merged-again');
  await cp(three.dir, again, { recursive: true });
  const digests = await telemetryDigests(again);
  await rm(join(again, 'manifest.sha256'));
  await rm(join(again, 'iterations', '000', 'summary.json'));
  const merged = await mergeRunFolder(again);
  assert.equal(merged.alreadyMerged, false);
  assert.deepEqual(await telemetryDigests(again), digests);
  assert.equal((await verifyRunFolder(again)).status, 'complete');
  // Sealed, it is not merged again at all.
  assert.equal((await mergeRunFolder(again)).alreadyMerged, true);
});
