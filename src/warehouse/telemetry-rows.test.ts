// telemetry_slice_fact's rows from scrapes written as the scraper writes them (gzip, index.json),
// and from a folder in the layout before telemetry targets (metrics/): counters by rate with a
// reset counted as Prometheus' rate() does, histograms by Δsum/Δcount (no row without an
// observation), percent gauges as fractions, pods scoped with their node from kube_pod_info,
// and the cardinality guard's drops noted.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RunFolder } from '../evidence/run-folder.js';
import { readIterationTelemetry, type ScrapeIndex } from '../telemetry/scrape-files.js';
import { emptyRevealed, targetTelemetryRows } from './telemetry-rows.js';

/** Writes one target's scrapes (texts taken 1 s apart) the way the scraper lays them out. */
async function writeTarget(
  folder: RunFolder,
  dir: string,
  index: Omit<
    ScrapeIndex,
    'scrapes' | 'interval_ms' | 'first_interval_ms' | 'skipped_ticks' | 'measured_window_us'
  >,
  texts: string[],
  gzip = true,
): Promise<void> {
  const scrapes: ScrapeIndex['scrapes'] = [];
  for (const [i, text] of texts.entries()) {
    const file = `${String(i).padStart(4, '0')}.prom${gzip ? '.gz' : ''}`;
    if (gzip) await folder.writeGzipText(`${dir}/${file}`, text);
    else await folder.writeText(`${dir}/${file}`, text);
    const done_at_us = 1_000_000 * (i + 1);
    scrapes.push({
      index: i,
      file,
      kind: i === 0 ? 'start' : i === texts.length - 1 ? 'end' : 'interval',
      sent_at_us: done_at_us - 1_000,
      done_at_us,
      done_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i + 1)).toISOString(),
      ok: true,
      body_bytes: text.length,
    });
  }
  await folder.writeJson(`${dir}/index.json`, {
    ...index,
    interval_ms: 1000,
    first_interval_ms: 250,
    skipped_ticks: 0,
    measured_window_us: null,
    scrapes,
  });
}

async function withFolder(fn: (dir: string, folder: RunFolder) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-telemetry-rows-'));
  try {
    await fn(dir, await RunFolder.create(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('counters by rate (a reset counts the new value), pods with their node, series without a pod on the cluster', async () => {
  await withFolder(async (dir, folder) => {
    const text = (restarts: number, throttled: number): string =>
      [
        '# TYPE kube_pod_info gauge',
        'kube_pod_info{namespace="ns",pod="p1",node="n1"} 1',
        '# TYPE kube_pod_container_status_restarts_total counter',
        `kube_pod_container_status_restarts_total{namespace="ns",pod="p1",container="c"} ${restarts}`,
        '# TYPE container_cpu_cfs_throttled_periods_total counter',
        `container_cpu_cfs_throttled_periods_total{id="/"} ${throttled}`,
      ].join('\n');
    await writeTarget(
      folder,
      'iterations/000/telemetry/cluster',
      { schema_version: 2, target: 'cluster', role: 'cluster', labels: {}, url: 'http://x/m' },
      [text(5, 10), text(7, 30), text(1, 60)],
    );
    const [target] = await readIterationTelemetry(join(dir, 'iterations/000'));
    const { rows, windows } = await targetTelemetryRows('r', 0, 'iterations/000', target!, emptyRevealed());
    assert.equal(windows, 2);
    const restarts = rows.filter((r) => r.family === 'container_restarts' && r.scope !== 'iteration');
    assert.deepEqual(
      restarts.map((r) => [r.scope, r.scope_id, r.pod, r.node_name, r.stat, r.value, r.unit]),
      [
        ['pod', 'p1', 'p1', 'n1', 'rate', 2, 'per_s'],
        ['pod', 'p1', 'p1', 'n1', 'rate', 1, 'per_s'],
      ],
    );
    assert.deepEqual(
      restarts.map((r) => [r.window_start_us, r.window_end_us, r.window_end, r.source_path]),
      [
        [1_000_000, 2_000_000, '2026-01-01T00:00:02.000Z', 'iterations/000/telemetry/cluster/0001.prom.gz'],
        [2_000_000, 3_000_000, '2026-01-01T00:00:03.000Z', 'iterations/000/telemetry/cluster/0002.prom.gz'],
      ],
    );
    const throttled = rows.filter((r) => r.family === 'cpu_throttled_periods' && r.scope !== 'iteration');
    assert.deepEqual(
      throttled.map((r) => [r.scope, r.scope_id, r.value]),
      [
        ['cluster', 'cluster', 20],
        ['cluster', 'cluster', 30],
      ],
    );
    // Iteration rows: every series, its family where known, the increase over resets, the last scrape.
    const iteration = rows.filter((r) => r.scope === 'iteration');
    const total = iteration.find((r) => r.metric.startsWith('kube_pod_container_status_restarts_total'));
    assert.deepEqual(
      [total?.family, total?.value, total?.unit, total?.target],
      ['container_restarts', 3, 'increase', 'cluster'],
    );
    assert.ok(iteration.every((r) => r.source_path === 'iterations/000/telemetry/cluster/0002.prom.gz'));
  });
});

test('histograms by Δsum/Δcount, none without an observation; percent gauges as fractions; the guard noted', async () => {
  await withFolder(async (dir, folder) => {
    const server = (sum: number, count: number): string =>
      [
        '# TYPE vllm:request_queue_time_seconds histogram',
        `vllm:request_queue_time_seconds_bucket{le="+Inf"} ${count}`,
        `vllm:request_queue_time_seconds_sum ${sum}`,
        `vllm:request_queue_time_seconds_count ${count}`,
      ].join('\n');
    await writeTarget(
      folder,
      'iterations/001/telemetry/server',
      { schema_version: 2, target: 'server', role: 'server', labels: { node_name: 'n9' }, url: 'http://x/m' },
      [server(0, 0), server(1, 4), server(1, 4), server(0.5, 1)],
    );
    const gpu = (util: number): string =>
      [
        '# TYPE DCGM_FI_DEV_GPU_UTIL gauge',
        `DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",Hostname="h1",modelName="M"} ${util}`,
        ...Array.from({ length: 2_100 }, (_, i) => `DCGM_FI_PROF_X{gpu="0",i="${i}"} 1`),
      ].join('\n');
    await writeTarget(
      folder,
      'iterations/001/telemetry/gpu',
      { schema_version: 2, target: 'gpu', role: 'gpu', labels: {}, url: 'http://x/g' },
      [gpu(50), gpu(100)],
    );
    const targets = await readIterationTelemetry(join(dir, 'iterations/001'));
    assert.deepEqual(
      targets.map((t) => t.target),
      ['gpu', 'server'],
    );
    const s = await targetTelemetryRows('r', 1, 'iterations/001', targets[1]!, emptyRevealed());
    assert.deepEqual(
      s.rows
        .filter((r) => r.scope !== 'iteration')
        .map((r) => [r.scope, r.scope_id, r.node_name, r.family, r.stat, r.value]),
      [
        ['server', 'server', 'n9', 'server_queue_time', 'hist_mean', 0.25],
        // No observation in the second window; the third is after a reset: 0.5 / 1.
        ['server', 'server', 'n9', 'server_queue_time', 'hist_mean', 0.5],
      ],
    );
    const revealed = emptyRevealed();
    const g = await targetTelemetryRows('r', 1, 'iterations/001', targets[0]!, revealed);
    assert.deepEqual(
      g.rows
        .filter((r) => r.scope === 'gpu')
        .map((r) => [r.scope_id, r.gpu_uuid, r.node_name, r.stat, r.value, r.unit]),
      [
        ['GPU-1', 'GPU-1', 'h1', 'mean', 0.75, 'fraction'],
        ['GPU-1', 'GPU-1', 'h1', 'max', 1, 'fraction'],
      ],
    );
    assert.deepEqual([...revealed.gpu_models], ['M']);
    // The iteration rows are scoped too: the GPU's series carries its UUID and host.
    const whole = g.rows.find((r) => r.scope === 'iteration' && r.family === 'gpu_utilization');
    assert.deepEqual(
      [whole?.gpu_uuid, whole?.node_name, whole?.metric],
      ['GPU-1', 'h1', 'DCGM_FI_DEV_GPU_UTIL:max{gpu="0",UUID="GPU-1",Hostname="h1",modelName="M"}'],
    );
    assert.match(g.notes.join('\n'), /telemetry\/gpu: the cardinality guard dropped 200 series/);
  });
});

test('a folder from before telemetry targets (metrics/, uncompressed) reads as the server target', async () => {
  await withFolder(async (dir, folder) => {
    const text = (running: number): string =>
      `# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running ${running}\n`;
    await writeTarget(
      folder,
      'iterations/000/metrics',
      { schema_version: 1, url: 'http://x/metrics' },
      [text(0), text(4), text(2)],
      false,
    );
    const targets = await readIterationTelemetry(join(dir, 'iterations/000'));
    assert.deepEqual(
      targets.map((t) => [t.target, t.role]),
      [['server', 'server']],
    );
    const { rows } = await targetTelemetryRows('r', 0, 'iterations/000', targets[0]!, emptyRevealed());
    assert.deepEqual(
      rows
        .filter((r) => r.family === 'requests_running' && r.stat === 'max')
        .map((r) => [r.value, r.source_path]),
      [
        [4, 'iterations/000/metrics/0001.prom'],
        [4, 'iterations/000/metrics/0002.prom'],
      ],
    );
  });
});

test('two spellings of one family in a scrape (vLLM old and new KV usage): only the first the registry lists', async () => {
  await withFolder(async (dir, folder) => {
    const scrape = (usage: number): string =>
      [
        '# TYPE vllm:kv_cache_usage_perc gauge',
        `vllm:kv_cache_usage_perc{model_name="m"} ${usage}`,
        '# TYPE vllm:gpu_cache_usage_perc gauge',
        `vllm:gpu_cache_usage_perc{model_name="m"} ${usage}`,
        '',
      ].join('\n');
    await writeTarget(
      folder,
      'iterations/000/telemetry/server',
      { schema_version: 2, target: 'server', role: 'server', labels: {}, url: 'http://x/m' },
      [scrape(0.5), scrape(0.7)],
    );
    const [target] = await readIterationTelemetry(join(dir, 'iterations/000'));
    const { rows } = await targetTelemetryRows('r', 0, 'iterations/000', target!, emptyRevealed());
    const kv = rows.filter((r) => r.family === 'kv_cache_usage' && r.stat === 'mean');
    assert.equal(kv.length, 1);
    assert.match(String(kv[0]?.series), /^vllm:kv_cache_usage_perc\{/);
    assert.ok(Math.abs(Number(kv[0]?.value) - 0.6) < 1e-12);
  });
});
