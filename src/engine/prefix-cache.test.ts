/**
 * Prefix caching end to end (issue 19): shared-prefix and Mooncake-trace jobs through the real
 * run path against a simulator (its own process) with a prefix cache. Every request is checked
 * against the simulator's write log: the cached tokens the records carry are the ones it served,
 * and the client's TTFT of hits and misses is what the simulator actually took for each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestRecord } from '../metrics/record.js';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import { ingestRunFolder } from '../warehouse/ingest-run.js';
import { Warehouse } from '../warehouse/warehouse.js';
import { buildReportData } from '../report/report-data.js';
import { renderHtml } from '../report/report-html.js';
import { renderMarkdown } from '../report/report-md.js';
import { writesById } from '../sim/write-log.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import type { CliJobOptions } from '../spec/cli-job.js';
import { executeRun } from './run.js';
import { pairWithWrites, percentileOf } from './testing/server-truth.js';

const PREFILL_MS_PER_TOKEN = 0.4;

async function simulator(): Promise<SpawnedSimulator> {
  return spawnSimulator({
    ttftMs: 20,
    ttftPerInputTokenMs: PREFILL_MS_PER_TOKEN,
    ttftJitterMs: 0,
    itlMs: 5,
    itlJitterMs: 0,
    batchSlowdown: 0,
    capacity: 16,
    seed: 3,
    prefixCacheBlocks: 8192,
    writeLogRequests: 256,
  });
}

async function run(sim: SpawnedSimulator, options: Omit<CliJobOptions, 'url' | 'model'>) {
  const outRoot = await mkdtemp(join(tmpdir(), 'infermark-prefix-'));
  const job = jobFromCli({ url: sim.url, model: 'sim', maxTimeMinutes: 1, ...options });
  const result = await executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job, {}), outRoot });
  const records = (await readFile(join(result.dir, 'iterations', '000', 'requests.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as RequestRecord);
  return { result, records, outRoot, cleanup: () => rm(outRoot, { recursive: true, force: true }) };
}

/** The run in a warehouse on disk: its requests' cache columns and its point's hit rate. */
async function warehoused(outRoot: string, dir: string) {
  const warehouse = await Warehouse.open(join(outRoot, 'w.duckdb'));
  try {
    const { run_id } = await ingestRunFolder(warehouse, dir);
    const requests = await warehouse.all(
      'SELECT request_id, prefix_group, cached_tokens FROM request_fact WHERE run_id = $1 ORDER BY request_id',
      [run_id],
    );
    const [outcome] = await warehouse.all(
      'SELECT prefix_cache_hit_rate FROM serving_outcome_fact WHERE run_id = $1',
      [run_id],
    );
    const data = await buildReportData(warehouse, run_id);
    return {
      requests,
      hitRate: outcome?.prefix_cache_hit_rate as number | null,
      point: data.subject.points[0]!,
      markdown: renderMarkdown(data, 'engineering'),
      html: renderHtml(data, 'engineering'),
    };
  } finally {
    await warehouse.close();
  }
}

test(
  'a shared-prefix job: cached tokens as served, TTFT of hits and misses as the simulator took them',
  { timeout: 60_000 },
  async () => {
    const sim = await simulator();
    let cleanup = async () => {};
    try {
      const out = await run(sim, {
        scenarios: ['D(200,4)'],
        concurrency: [2],
        maxRequests: 24,
        // The first round opens the connections (the client stamps sent_at before the pool
        // connects); warmup takes it, and four groups leave two cold misses to measure.
        warmupRequests: 2,
        seed: 5,
        prefixTokens: 768,
        prefixGroups: 4,
        metricsUrl: `${sim.url}/metrics`,
        metricsIntervalSeconds: 0.5,
      });
      cleanup = out.cleanup;
      const { result, records } = out;
      const summary = result.summaries[0]!;
      assert.equal(summary.requests.completed, 24, JSON.stringify(summary.requests));
      const log = await sim.writeLog();
      const byId = writesById(log);
      // Each record's group and cached tokens: what the workload chose and what the server served.
      for (const r of records) {
        assert.equal(r.prefix_group, r.index % 4, r.request_id);
        assert.equal(r.input_tokens, 968, 'the prefix is added to the scenario input');
        const writes = byId.get(r.request_id);
        assert.ok(writes, r.request_id);
        assert.equal(r.cached_tokens, writes.cached_tokens, `${r.request_id}: cached tokens as served`);
      }
      // The first request of each group found nothing; the others found the whole prefix (48 blocks).
      assert.deepEqual(
        records
          .filter((r) => r.cached_tokens === 0)
          .map((r) => r.index)
          .sort(),
        [0, 1, 2, 3],
      );
      assert.ok(records.every((r) => r.cached_tokens === 0 || r.cached_tokens === 768));

      // TTFT by cache state, client against server, request by request and state by state.
      const pairs = pairWithWrites(
        records.filter((r) => r.phase === 'measured'),
        log,
      );
      assert.equal(pairs.length, 24);
      const state = new Map(records.map((r) => [r.request_id, (r.cached_tokens ?? 0) > 0 ? 'hit' : 'miss']));
      const lag_ms = summary.flags.event_loop_flag ? (summary.flags.event_loop?.p99_ms ?? 0) : 0;
      // The simulator stamps a write after handing it to the socket: on a loaded host the client
      // may read it a few ms before the simulator's stamp (timing-truth.test.ts holds the tight bound).
      for (const p of pairs) assert.ok(p.ttft_excess_ms >= -5, `${p.request_id}: ${JSON.stringify(p)}`);
      const serverMean = (s: string) => {
        const of = pairs.filter((p) => state.get(p.request_id) === s).map((p) => p.server_ttft_ms);
        return of.reduce((a, b) => a + b, 0) / of.length;
      };
      const pc = summary.prefix_cache;
      assert.ok(pc);
      const client = Object.fromEntries(pc.by_state.map((b) => [b.state, b]));
      assert.deepEqual([client.hit!.requests, client.miss!.requests, client.unknown!.requests], [22, 2, 0]);
      const excess = pairs.map((p) => p.ttft_excess_ms);
      const figures =
        `client TTFT hit mean ${client.hit!.ttft_ms.mean?.toFixed(2)} miss mean ${client.miss!.ttft_ms.mean?.toFixed(2)} ms; ` +
        `server hit ${serverMean('hit').toFixed(2)} miss ${serverMean('miss').toFixed(2)} ms; ` +
        `client − server p50 ${percentileOf(excess, 50).toFixed(3)} max ${Math.max(...excess).toFixed(3)} ms; ` +
        `token hit rate ${pc.token_hit_rate?.toFixed(4)}`;
      console.log(`# prefix cache: ${figures}`);
      for (const s of ['hit', 'miss'] as const) {
        const diff = (client[s]!.ttft_ms.mean as number) - serverMean(s);
        assert.ok(
          diff >= -5 && diff <= 25 + lag_ms,
          `${s}: client mean off the server's by ${diff} ms: ${figures}`,
        );
      }
      // The simulator dictates how much faster a hit is (its prefill of 768 fewer tokens), and the client sees it.
      assert.ok(serverMean('miss') - serverMean('hit') > 768 * PREFILL_MS_PER_TOKEN * 0.5, figures);
      assert.equal(pc.cached_tokens_total, 22 * 768);
      assert.equal(pc.token_hit_rate, (22 * 768) / (24 * 968));
      // The server's own counter agrees with what it logged.
      const metrics = await (await fetch(`${sim.url}/metrics`)).text();
      const hits = /^vllm:prefix_cache_hits_total\{[^}]*\} (\S+)$/m.exec(metrics)?.[1];
      assert.equal(Number(hits), 22 * 768);
      // The warehouse: each request's columns, and the point's hit rate from the server's counters
      // (scraped before the first request and after the drain: every prompt token of the 26).
      const stored = await warehoused(out.outRoot, result.dir);
      assert.equal(stored.requests.length, 26);
      for (const row of stored.requests) {
        const r = records.find((x) => x.request_id === row.request_id)!;
        assert.deepEqual([row.prefix_group, row.cached_tokens], [r.prefix_group, r.cached_tokens]);
      }
      assert.ok(Math.abs((stored.hitRate ?? NaN) - (22 * 768) / (26 * 968)) < 1e-9, String(stored.hitRate));
      // The report: TTFT by cache state and the hit rate, in HTML and Markdown.
      const shown = stored.point.prefix_cache;
      assert.ok(shown);
      assert.equal(shown.hit_rate, stored.hitRate);
      assert.deepEqual(
        shown.states.map((x) => [x.state, x.requests]),
        [
          ['hit', 22],
          ['miss', 2],
          ['unknown', 0],
        ],
      );
      assert.ok(Math.abs(shown.states[0]!.ttft_ms_p50! - (client.hit!.ttft_ms.p50 as number)) < 0.01);
      assert.match(stored.markdown, /Prefix cache: TTFT by the server's prefix-cache state/);
      assert.match(stored.markdown, /\| D\(200,4\) @ concurrency 2 \| 0\.67\d* \| 22 \|/);
      assert.match(stored.html, /<h2 id="prefix-cache">Prefix cache<\/h2>/);
    } finally {
      await sim.close();
      await cleanup();
    }
  },
);

test(
  'a Mooncake trace with repeated hash_ids sends identical blocks: the simulator finds them cached',
  { timeout: 60_000 },
  async () => {
    const sim = await simulator();
    const dir = await mkdtemp(join(tmpdir(), 'infermark-mooncake-'));
    let cleanup = async () => {};
    try {
      const trace = join(dir, 'mooncake_trace.jsonl');
      const lines = [
        { timestamp: 0, input_length: 1100, output_length: 3, hash_ids: [7, 8, 9] },
        { timestamp: 150, input_length: 1024, output_length: 3, hash_ids: [7, 8] },
        { timestamp: 300, input_length: 1300, output_length: 3, hash_ids: [7, 3] },
        { timestamp: 450, input_length: 700, output_length: 3, hash_ids: [9] },
        { timestamp: 600, input_length: 600, output_length: 3, hash_ids: [8] },
      ];
      await writeFile(trace, lines.map((l) => JSON.stringify(l)).join('\n'));
      const out = await run(sim, { trace, maxRequests: 10, seed: 5 });
      cleanup = out.cleanup;
      const byId = writesById(await sim.writeLog());
      const records = [...out.records].sort((a, b) => a.index - b.index);
      assert.equal(records.length, 5);
      for (const r of records)
        assert.equal(r.cached_tokens, byId.get(r.request_id)?.cached_tokens, r.request_id);
      // [7, 8] after [7, 8, 9]: both blocks, all but the last token's block (1023 tokens → 63 blocks).
      // [7, 3]: block 7 only. Block 9 alone, and block 8 alone, follow nothing they followed before.
      assert.deepEqual(
        records.map((r) => [r.prefix_group, r.cached_tokens]),
        [
          [7, 0],
          [7, 1008],
          [7, 512],
          [9, 0],
          [8, 0],
        ],
      );
      // No server metrics scraped: the point's hit rate is the records' (Σ cached / Σ input).
      const stored = await warehoused(out.outRoot, out.result.dir);
      assert.ok(Math.abs((stored.hitRate ?? NaN) - (1008 + 512) / (1100 + 1024 + 1300 + 700 + 600)) < 1e-12);
    } finally {
      await sim.close();
      await cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
