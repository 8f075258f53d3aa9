// Telemetry targets end to end (issue 18, acceptance 1): a run against the simulator with its
// /metrics (the server target), two dcgm-exporter-style GPU targets (2 GPUs on each of 2 nodes)
// and two node-exporter targets, served by raw node:http exporters started here whose values
// change on every scrape. The run folder keeps every scrape gzip-compressed in the manifest and
// verifies; telemetry_slice_fact gets several windows per iteration scoped by GPU UUID and node;
// each row's source_path is a run_artifact whose file still has its digest, and a window's value
// is recomputed from the two raw scrapes it spans. A split run's shards made before the
// coordinator scraped for them (each shard scraped every target): the merge keeps one shard's
// scrapes of each target, byte for byte, on the coordinator's clock (the coordinator's own
// scrapes: engine/coordinator-telemetry.test.ts).
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { mergeRunFolder } from '../engine/merge-run.js';
import { executeRun } from '../engine/run.js';
import { runSplitInProcess } from '../engine/testing/split-run.js';
import { verifyRunFolder } from '../evidence/verify.js';
import { spawnSimulator } from '../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { ingestRunFolder } from '../warehouse/ingest-run.js';
import { checkTelemetryLineage } from '../warehouse/telemetry-lineage.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { labelOf, parsePrometheus } from './prom-parse.js';
import { readScrapeFile, type ScrapeIndex } from './scrape-files.js';

const MODEL = 'NVIDIA H100 80GB HBM3';
/** Rows as JSON for messages (DuckDB counts are bigints). */
const show = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
const DRIVER = '550.54.15';
const KEY = 'sk-telemetry-test-key-0123456789';
const TOKEN = 'exporter-token-0123456789';

/** dcgm-exporter's text for the GPUs of one node, as its default counters file exposes them. */
function dcgmText(host: string, uuids: readonly string[], scrape: number): string {
  const families: [string, 'gauge' | 'counter', (gpu: number) => number][] = [
    ['DCGM_FI_DEV_SM_CLOCK', 'gauge', (gpu) => 1980 - 15 * ((scrape + gpu) % 4)],
    ['DCGM_FI_DEV_GPU_UTIL', 'gauge', (gpu) => (scrape * 17 + gpu * 29) % 100],
    ['DCGM_FI_DEV_POWER_USAGE', 'gauge', (gpu) => 350 + scrape + gpu],
    ['DCGM_FI_DEV_GPU_TEMP', 'gauge', (gpu) => 60 + ((scrape + gpu) % 5)],
    ['DCGM_FI_DEV_FB_USED', 'gauge', (gpu) => 70_000 + gpu],
    ['DCGM_FI_DEV_XID_ERRORS', 'gauge', () => 0],
    ['DCGM_FI_DEV_PCIE_REPLAY_COUNTER', 'counter', (gpu) => scrape * (gpu + 1)],
  ];
  const lines: string[] = [];
  for (const [name, type, value] of families) {
    lines.push(`# HELP ${name} ${name}.`, `# TYPE ${name} ${type}`);
    uuids.forEach((uuid, gpu) => {
      lines.push(
        `${name}{gpu="${gpu}",UUID="${uuid}",device="nvidia${gpu}",modelName="${MODEL}",Hostname="${host}",DCGM_FI_DRIVER_VERSION="${DRIVER}"} ${value(gpu)}`,
      );
    });
  }
  return `${lines.join('\n')}\n`;
}

/** node-exporter's text: its uname, load and per-CPU seconds by mode (counters). */
function nodeText(host: string, scrape: number): string {
  const lines = [
    '# HELP node_uname_info Labeled system information as provided by the uname system call.',
    '# TYPE node_uname_info gauge',
    `node_uname_info{domainname="(none)",machine="x86_64",nodename="${host}",release="6.8.0",sysname="Linux",version="#1 SMP"} 1`,
    '# HELP node_load1 1m load average.',
    '# TYPE node_load1 gauge',
    `node_load1 ${(1 + scrape / 10).toFixed(2)}`,
    '# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.',
    '# TYPE node_cpu_seconds_total counter',
  ];
  for (const cpu of [0, 1])
    for (const [mode, rate] of [
      ['idle', 0.5],
      ['user', 0.3],
      ['system', 0.2],
    ] as const)
      lines.push(`node_cpu_seconds_total{cpu="${cpu}",mode="${mode}"} ${(1000 + scrape * rate).toFixed(2)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * One node:http server on 127.0.0.1 serving each node's exporters at /<node>/dcgm and /<node>/node;
 * it counts the requests that carried an Authorization header (none should: another origin).
 */
async function startExporters(
  nodes: Record<string, readonly string[]>,
): Promise<{ server: Server; base: string; authorized: () => number }> {
  const scrapes = new Map<string, number>();
  let authorized = 0;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== undefined) authorized++;
    const [, node, kind] = (req.url ?? '').replace(/\?.*$/, '').split('/');
    const uuids = nodes[node ?? ''];
    if (!uuids || (kind !== 'dcgm' && kind !== 'node')) {
      res.writeHead(404).end();
      return;
    }
    const n = scrapes.get(`${node}/${kind}`) ?? 0;
    scrapes.set(`${node}/${kind}`, n + 1);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(kind === 'dcgm' ? dcgmText(node as string, uuids, n) : nodeText(node as string, n));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    authorized: () => authorized,
  };
}

async function stopExporters(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Distinct windows per (iteration, target) of a run's windowed rows. */
function windowsPerTarget(warehouse: Warehouse, runId: string): ReturnType<Warehouse['all']> {
  return warehouse.all(
    `SELECT iteration, target, count(DISTINCT window_end_us) AS n FROM telemetry_slice_fact
     WHERE run_id = $1 AND scope <> 'iteration' GROUP BY ALL ORDER BY ALL`,
    [runId],
  );
}

test(
  'server, GPU and node targets fill telemetry_slice_fact by window and scope, each row walking back to its raw scrape',
  { timeout: 120_000 },
  async (t) => {
    const nodes = {
      'node-a': ['GPU-aaaaaaaa-0000-0000-0000-000000000000', 'GPU-aaaaaaaa-0000-0000-0000-000000000001'],
      'node-b': ['GPU-bbbbbbbb-0000-0000-0000-000000000000', 'GPU-bbbbbbbb-0000-0000-0000-000000000001'],
    };
    const exporters = await startExporters(nodes);
    // ~40 tokens 10 ms apart: ~0.45 s a request; 16 requests at 2 and at 4 streams: ~3.5 s and ~1.8 s.
    const sim = await spawnSimulator({
      seed: 5,
      ttftMs: 30,
      ttftPerInputTokenMs: 0,
      itlMs: 10,
      itlJitterMs: 0,
    });
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-telemetry-'));
    try {
      const job = jobFromCli({
        url: sim.url,
        model: 'sim',
        scenarios: ['D(20,40)'],
        concurrency: [2, 4],
        maxRequests: 16,
        maxTimeMinutes: 1,
        metricsIntervalSeconds: 0.5,
        seed: 1,
        telemetry: [
          `gpu=${exporters.base}/node-a/dcgm?token=${TOKEN}`,
          `gpu=${exporters.base}/node-b/dcgm`,
          `node=${exporters.base}/node-a/node`,
          `node=${exporters.base}/node-b/node`,
        ],
      });
      assert.deepEqual(
        job.spec.telemetry?.map((target) => target.role),
        ['gpu', 'gpu', 'node', 'node'],
      );
      const result = await executeRun({
        job,
        jobFile: null,
        endpoint: resolveEndpoint(job, {}),
        outRoot,
        apiKey: KEY,
      });
      // The key goes only to the endpoint's origin; a URL's secret never reaches the run folder.
      assert.equal(exporters.authorized(), 0, 'no exporter was sent the API key');
      assert.equal(result.summaries.length, 2);

      // The run folder: one folder per target, scrapes gzip-compressed, all sealed; verify passes.
      const manifest = JSON.parse(await readFile(join(result.dir, 'manifest.json'), 'utf8')) as {
        artifacts: { path: string; sha256: string }[];
      };
      const sealed = new Set(manifest.artifacts.map((a) => a.path));
      const targets = ['gpu', 'gpu-2', 'node', 'node-2', 'server'];
      for (const iteration of ['000', '001']) {
        for (const target of targets) {
          const dir = `iterations/${iteration}/telemetry/${target}`;
          const index = JSON.parse(
            await readFile(join(result.dir, dir, 'index.json'), 'utf8'),
          ) as ScrapeIndex;
          assert.equal(index.target, target);
          assert.ok(sealed.has(`${dir}/index.json`), dir);
          assert.ok(index.scrapes.length >= 4, `${dir}: ${index.scrapes.length} scrapes`);
          for (const scrape of index.scrapes) {
            assert.match(scrape.file, /^\d{4}\.prom\.gz$/);
            assert.ok(sealed.has(`${dir}/${scrape.file}`), `${dir}/${scrape.file} sealed`);
            assert.equal(scrape.dropped_series, 0);
          }
        }
      }
      const gzipped = manifest.artifacts.filter((a) => a.path.endsWith('.prom.gz')).length;
      for (const artifact of manifest.artifacts) {
        const bytes = await readFile(join(result.dir, artifact.path));
        const text = artifact.path.endsWith('.gz')
          ? gunzipSync(bytes).toString('utf8')
          : bytes.toString('utf8');
        assert.ok(!text.includes(TOKEN), `${artifact.path} holds no URL token`);
      }
      const verified = await verifyRunFolder(result.dir);
      assert.equal(verified.status, 'complete', JSON.stringify(verified.problems));
      const runText = await readFile(join(result.dir, 'run.json'), 'utf8');
      assert.ok(!runText.includes(TOKEN), 'the token in a telemetry URL is redacted in run.json');
      const runJson = JSON.parse(runText) as {
        telemetry: { name: string; role: string; scraped: boolean }[];
        environment: { gpus: unknown[] };
      };
      assert.deepEqual(
        runJson.telemetry.map((target) => [target.name, target.role, target.scraped]),
        [
          ['gpu', 'gpu', true],
          ['gpu-2', 'gpu', true],
          ['node', 'node', true],
          ['node-2', 'node', true],
          ['server', 'server', true],
        ],
      );

      const warehouse = await Warehouse.open(join(outRoot, 'w.duckdb'));
      try {
        await ingestRunFolder(warehouse, result.dir);
        const runId = result.runId;
        // Several windows per iteration for every target.
        const windows = await windowsPerTarget(warehouse, runId);
        assert.equal(windows.length, 10, show(windows));
        for (const w of windows) assert.ok(Number(w.n) >= 3, `windows: ${show(w)}`);

        // GPU rows: scoped by each GPU's UUID on its node, with their families and stats.
        const gpus = await warehouse.all(
          `SELECT gpu_uuid, node_name, count(DISTINCT family) AS families FROM telemetry_slice_fact
           WHERE run_id = $1 AND scope = 'gpu' AND scope_id = gpu_uuid GROUP BY ALL ORDER BY gpu_uuid`,
          [runId],
        );
        assert.deepEqual(
          gpus.map((g) => [g.gpu_uuid, g.node_name, Number(g.families)]),
          Object.entries(nodes).flatMap(([node, uuids]) => uuids.map((uuid) => [uuid, node, 7])),
        );
        const stats = await warehouse.all(
          `SELECT family, stat, unit, min(value) AS lo, max(value) AS hi FROM telemetry_slice_fact
           WHERE run_id = $1 AND scope IN ('gpu', 'node', 'server') GROUP BY ALL ORDER BY ALL`,
          [runId],
        );
        const stat = (family: string, name: string): { lo: number; hi: number; unit: string } | undefined => {
          const row = stats.find((s) => s.family === family && s.stat === name);
          return row ? { lo: Number(row.lo), hi: Number(row.hi), unit: String(row.unit) } : undefined;
        };
        // DCGM reports percent; the warehouse keeps a fraction.
        const util = stat('gpu_utilization', 'mean');
        assert.ok(util && util.lo >= 0 && util.hi <= 1 && util.hi > 0, JSON.stringify(util));
        assert.equal(stat('sm_clock', 'max')?.unit, 'MHz');
        assert.ok((stat('gpu_pcie_replays', 'rate')?.hi ?? 0) > 0, 'a counter gives its rate');
        // Node rows: the node's name from node_uname_info, CPU busy summed over cores and modes but idle.
        const nodeRows = await warehouse.all(
          `SELECT DISTINCT scope_id, node_name FROM telemetry_slice_fact
           WHERE run_id = $1 AND scope = 'node' ORDER BY scope_id`,
          [runId],
        );
        assert.deepEqual(
          nodeRows.map((r) => [r.scope_id, r.node_name]),
          [
            ['node-a', 'node-a'],
            ['node-b', 'node-b'],
          ],
        );
        assert.ok(stat('node_cpu_busy', 'rate') && stat('node_load1', 'mean'));
        // Server rows: the simulator's vLLM families, scoped to the server target.
        assert.ok(stat('requests_running', 'max'), 'requests_running by window');
        assert.ok(
          stat('server_queue_time', 'hist_mean') || stat('server_ttft', 'hist_mean'),
          'a histogram mean',
        );
        // Iteration rows for every series, with their target and family.
        const iterationRows = await warehouse.all(
          `SELECT target, count(*) AS n, count(family) AS known FROM telemetry_slice_fact
           WHERE run_id = $1 AND scope = 'iteration' GROUP BY ALL ORDER BY target`,
          [runId],
        );
        assert.deepEqual(
          iterationRows.map((r) => r.target),
          targets,
        );
        assert.ok(iterationRows.every((r) => Number(r.known) > 0));

        // Dimensions: what the DCGM labels reveal, where run.json did not know it.
        const hardware = await warehouse.all(
          `SELECT h.gpu_model, h.gpu_count, s.driver_version FROM benchmark_run_fact r
           JOIN hardware_topology_dim h USING (hardware_topology_id)
           JOIN software_version_dim s USING (software_version_id) WHERE r.run_id = $1`,
          [runId],
        );
        assert.equal(hardware[0]?.driver_version, DRIVER);
        if (runJson.environment.gpus.length === 0) {
          assert.equal(hardware[0]?.gpu_model, MODEL);
          assert.equal(Number(hardware[0]?.gpu_count), 4);
        }

        // Lineage: every row's source_path is a sealed artifact whose bytes still match.
        const lineage = await checkTelemetryLineage(warehouse, runId, result.dir);
        assert.deepEqual(lineage.unknown, []);
        assert.deepEqual(lineage.changed, []);
        const total = await warehouse.all(
          'SELECT count(*) AS n FROM telemetry_slice_fact WHERE run_id = $1',
          [runId],
        );
        assert.equal(lineage.rows, Number(total[0]?.n));

        // And a window's value is the two raw scrapes it spans: the trapezoid of GPU utilisation.
        const row = (
          await warehouse.all(
            `SELECT source_path, gpu_uuid, value, window_start_us, window_end_us FROM telemetry_slice_fact
             WHERE run_id = $1 AND family = 'gpu_utilization' AND stat = 'mean' AND iteration = 1
             ORDER BY window_end_us LIMIT 1 OFFSET 2`,
            [runId],
          )
        )[0];
        assert.ok(row);
        const closing = String(row.source_path);
        const dir = closing.slice(0, closing.lastIndexOf('/'));
        const index = JSON.parse(await readFile(join(result.dir, dir, 'index.json'), 'utf8')) as ScrapeIndex;
        const at = index.scrapes.findIndex((s) => `${dir}/${s.file}` === closing);
        const opening = index.scrapes[at - 1]!;
        assert.equal(Number(row.window_start_us), opening.done_at_us);
        assert.equal(Number(row.window_end_us), index.scrapes[at]!.done_at_us);
        const utilIn = async (file: string): Promise<number> => {
          const parsed = parsePrometheus(await readScrapeFile(join(result.dir, file)));
          const sample = parsed.samples.find(
            (s) => s.name === 'DCGM_FI_DEV_GPU_UTIL' && labelOf(s, 'UUID') === row.gpu_uuid,
          );
          return sample?.value ?? Number.NaN;
        };
        const expected = ((await utilIn(`${dir}/${opening.file}`)) + (await utilIn(closing))) / 2 / 100;
        assert.ok(Math.abs(Number(row.value) - expected) < 1e-9, `${String(row.value)} vs ${expected}`);

        t.diagnostic(
          `${String(total[0]?.n)} telemetry rows, ${lineage.paths} scrape files behind them (${gzipped} .prom.gz sealed); ` +
            `windows per iteration and target: ${windows.map((w) => `${String(w.iteration)}/${String(w.target)}=${String(w.n)}`).join(' ')}`,
        );
      } finally {
        warehouse.close();
      }
    } finally {
      await sim.close();
      await stopExporters(exporters.server);
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);

test(
  'shards that scraped for themselves (runs before the coordinator scraped): the merge keeps shard 0`s copy on the coordinator`s clock',
  { timeout: 120_000 },
  async () => {
    const exporters = await startExporters({ 'node-a': ['GPU-aaaaaaaa-0000-0000-0000-000000000000'] });
    const sim = await spawnSimulator({
      seed: 5,
      ttftMs: 20,
      ttftPerInputTokenMs: 0,
      itlMs: 10,
      itlJitterMs: 0,
    });
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-telemetry-split-'));
    try {
      const job = jobFromCli({
        url: sim.url,
        model: 'sim',
        scenarios: ['D(20,40)'],
        concurrency: [2],
        maxRequests: 8,
        maxTimeMinutes: 1,
        metricsIntervalSeconds: 0.5,
        seed: 1,
        telemetry: [`gpu=${exporters.base}/node-a/dcgm`],
      });
      const dir = join(outRoot, 'split');
      await runSplitInProcess(job, resolveEndpoint(job, {}), dir, 2, 'split-telemetry-1');
      for (const shard of ['000', '001']) {
        const index = JSON.parse(
          await readFile(join(dir, 'shards', shard, 'iterations/000/telemetry/gpu/index.json'), 'utf8'),
        ) as ScrapeIndex;
        assert.ok(index.scrapes.length >= 2, `shard ${shard} scraped the GPU target`);
      }
      await mergeRunFolder(dir);
      const kept = (await readdir(join(dir, 'iterations/000/telemetry'))).sort();
      assert.deepEqual(kept, ['gpu', 'server']);
      const shard0 = JSON.parse(
        await readFile(join(dir, 'shards/000/iterations/000/telemetry/gpu/index.json'), 'utf8'),
      ) as ScrapeIndex;
      const merged = JSON.parse(
        await readFile(join(dir, 'iterations/000/telemetry/gpu/index.json'), 'utf8'),
      ) as ScrapeIndex;
      const shardRun = JSON.parse(await readFile(join(dir, 'shards/000/run.json'), 'utf8')) as {
        shard: { clock_offset_us: number };
      };
      assert.deepEqual(
        merged.scrapes.map((s) => [s.file, s.done_at_us]),
        shard0.scrapes.map((s) => [s.file, s.done_at_us - shardRun.shard.clock_offset_us]),
      );
      for (const s of merged.scrapes) {
        assert.deepEqual(
          await readFile(join(dir, 'iterations/000/telemetry/gpu', s.file)),
          await readFile(join(dir, 'shards/000/iterations/000/telemetry/gpu', s.file)),
          `${s.file}: byte for byte`,
        );
      }
      assert.equal((await verifyRunFolder(dir)).status, 'complete');
      const warehouse = await Warehouse.open(join(outRoot, 'w.duckdb'));
      try {
        const { run_id } = await ingestRunFolder(warehouse, dir);
        const gpuRows = await warehouse.all(
          `SELECT count(*) AS n FROM telemetry_slice_fact WHERE run_id = $1 AND scope = 'gpu'`,
          [run_id],
        );
        assert.ok(Number(gpuRows[0]?.n) > 0);
        const lineage = await checkTelemetryLineage(warehouse, run_id, dir);
        assert.deepEqual([lineage.unknown, lineage.changed], [[], []]);
        assert.ok(lineage.paths > 0);
      } finally {
        warehouse.close();
      }
    } finally {
      await sim.close();
      await stopExporters(exporters.server);
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);

test(
  "the simulator's own exporters (2 nodes × 2 GPUs): windows per iteration by GPU UUID and node, every row back to its scrape",
  { timeout: 120_000 },
  async () => {
    const sim = await spawnSimulator({
      seed: 9,
      ttftMs: 20,
      ttftPerInputTokenMs: 0,
      itlMs: 8,
      itlJitterMs: 0,
      nodes: 2,
      gpusPerNode: 2,
    });
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-telemetry-sim-'));
    try {
      const origin = new URL(sim.url).origin;
      const job = jobFromCli({
        url: sim.url,
        model: 'sim',
        scenarios: ['D(20,40)'],
        concurrency: [2, 4],
        maxRequests: 16,
        metricsIntervalSeconds: 0.5,
        seed: 1,
        telemetry: [
          `gpu=${origin}/sim/nodes/sim-node-0/dcgm`,
          `gpu=${origin}/sim/nodes/sim-node-1/dcgm`,
          `node=${origin}/sim/nodes/sim-node-0/node-exporter`,
          `node=${origin}/sim/nodes/sim-node-1/node-exporter`,
          `cluster=${origin}/sim/cluster`,
        ],
      });
      const result = await executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job), outRoot });
      const warehouse = await Warehouse.open(join(outRoot, 'w.duckdb'));
      try {
        await ingestRunFolder(warehouse, result.dir);
        const windows = await windowsPerTarget(warehouse, result.runId);
        // 2 iterations × 6 targets (the server's own /metrics included), several windows each.
        assert.equal(windows.length, 12, show(windows));
        for (const w of windows) assert.ok(Number(w.n) >= 3, `windows: ${show(w)}`);
        const gpus = await warehouse.all(
          `SELECT DISTINCT gpu_uuid, node_name FROM telemetry_slice_fact
           WHERE run_id = $1 AND scope = 'gpu' AND scope_id = gpu_uuid ORDER BY node_name, gpu_uuid`,
          [result.runId],
        );
        assert.equal(gpus.length, 4, show(gpus));
        assert.deepEqual(
          gpus.map((g) => g.node_name),
          ['sim-node-0', 'sim-node-0', 'sim-node-1', 'sim-node-1'],
        );
        for (const g of gpus) assert.match(String(g.gpu_uuid), /^GPU-[0-9a-f]{8}-/);
        // The hardware dimension names the GPUs and hosts the exporter revealed.
        const dim = await warehouse.all(
          `SELECT h.gpu_uuids, h.hostnames FROM benchmark_run_fact r
           JOIN hardware_topology_dim h USING (hardware_topology_id) WHERE r.run_id = $1`,
          [result.runId],
        );
        assert.equal(dim[0]?.gpu_uuids, [...new Set(gpus.map((g) => String(g.gpu_uuid)))].sort().join(','));
        assert.equal(dim[0]?.hostnames, 'sim-node-0,sim-node-1');
        const scopes = await warehouse.all(
          `SELECT scope, count(DISTINCT scope_id) AS n FROM telemetry_slice_fact
           WHERE run_id = $1 AND scope <> 'iteration' GROUP BY ALL ORDER BY scope`,
          [result.runId],
        );
        assert.deepEqual(
          scopes.map((s) => [s.scope, Number(s.n)]),
          [
            ['gpu', 4],
            ['node', 2],
            ['pod', 2],
            ['server', 1],
          ],
        );
        const lineage = await checkTelemetryLineage(warehouse, result.runId, result.dir);
        assert.deepEqual(lineage.unknown, []);
        assert.deepEqual(lineage.changed, []);
        const total = await warehouse.all(
          'SELECT count(*) AS n FROM telemetry_slice_fact WHERE run_id = $1',
          [result.runId],
        );
        assert.equal(lineage.rows, Number(total[0]?.n));
      } finally {
        warehouse.close();
      }
    } finally {
      await sim.close();
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);
