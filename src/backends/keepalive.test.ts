/**
 * Keep-alive races against a server that closes after each streamed response (the
 * simulator's closeAfterResponse mode, llama-server's behaviour). First the race
 * itself: a plain keep-alive undici Pool, the client as infermark had it, loses
 * requests that never reach the server. Then 500 requests at 8 streams through the
 * real run path (executeRun: job → plan → closed loop → backend → run folder) and the
 * warehouse: no errors, every request generated exactly once on the server, and the
 * records say how each got its connection (retries, first_error, connect_us).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { executeRun } from '../engine/run.js';
import type { RequestRecord } from '../metrics/record.js';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import type { SimulatorOptions } from '../sim/options.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { ingestRunFolder } from '../warehouse/ingest-run.js';
import { Warehouse } from '../warehouse/warehouse.js';

const REQUESTS = 500;
const STREAMS = 8;
/** Short streams (4–8 tokens, 1 ms apart) so 500 requests take about a second. */
const SIM: Partial<SimulatorOptions> = {
  closeAfterResponse: true,
  ttftMs: 2,
  ttftPerInputTokenMs: 0,
  ttftJitterMs: 0,
  itlMs: 1,
  itlJitterMs: 0,
  batchSlowdown: 0,
  seed: 3,
};
const BODY = JSON.stringify({
  model: 'sim',
  messages: [{ role: 'user', content: 'hello there' }],
  max_tokens: 6,
  stream: true,
});

async function withSim<T>(work: (sim: SpawnedSimulator) => Promise<T>): Promise<T> {
  const sim = await spawnSimulator(SIM);
  try {
    return await work(sim);
  } finally {
    await sim.close();
  }
}

test('the race is real: a plain keep-alive pool loses requests that never reach the server', async () => {
  // Not infermark's client: undici's Pool as infermark used it before (keep-alive, no retry).
  await withSim(async (sim) => {
    const pool = new Pool(sim.url, { connections: STREAMS, pipelining: 1 });
    const failures = new Map<string, number>();
    let ok = 0;
    let next = 0;
    const stream = async (): Promise<void> => {
      while (next < REQUESTS) {
        next++;
        try {
          const res = await pool.request({
            method: 'POST',
            path: '/v1/chat/completions',
            headers: { 'content-type': 'application/json' },
            body: BODY,
          });
          await res.body.text();
          ok++;
        } catch (error) {
          const code = String((error as { code?: unknown }).code);
          failures.set(code, (failures.get(code) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: STREAMS }, stream));
    await pool.close();
    const failed = [...failures.values()].reduce((a, b) => a + b, 0);
    console.log(`# plain keep-alive pool: ${failed}/${REQUESTS} failed ${JSON.stringify([...failures])}`);
    assert.equal(ok + failed, REQUESTS);
    assert.ok(failed > 0, 'some requests raced the close');
    assert.ok([...failures.keys()].every((code) => ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(code)));
    // The failed ones never reached generation: the server counted only the others.
    assert.equal((await sim.stats()).requests, ok);
  });
});

test(
  `${REQUESTS} requests at ${STREAMS} streams against a server closing after each response: no errors, retries recorded`,
  { timeout: 60_000 },
  async () => {
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-keepalive-'));
    try {
      await withSim(async (sim) => {
        const job = jobFromCli({
          url: sim.url,
          model: 'sim',
          scenarios: ['U(8,8)/(4,8)'],
          concurrency: [STREAMS],
          maxRequests: REQUESTS,
          maxTimeMinutes: 1,
          warmupRequests: 0,
          seed: 17,
        });
        const result = await executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job, {}), outRoot });
        const summary = result.summaries[0]!;
        assert.equal(summary.requests.completed, REQUESTS, JSON.stringify(summary.requests));
        assert.equal(summary.requests.errored, 0);
        // Every request reached generation exactly once.
        const stats = await sim.stats();
        assert.equal(stats.requests, REQUESTS);
        assert.equal(stats.completed, REQUESTS);

        const records = (await readFile(join(result.dir, 'iterations', '000', 'requests.jsonl'), 'utf8'))
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as RequestRecord);
        assert.equal(records.length, REQUESTS);
        assert.ok(records.every((r) => r.status === 'ok'));
        const retried = records.filter((r) => r.retries > 0);
        const opened = records.filter((r) => r.connect_us > 0);
        const reused = records.filter((r) => r.connect_us === 0);
        console.log(
          `# close-after-response, ${REQUESTS} at ${STREAMS}: 0 errors, ${retried.length} retried ` +
            `(${JSON.stringify([...new Set(retried.map((r) => r.first_error))])}), ` +
            `${opened.length} on a connection of their own, ${reused.length} on a reused one`,
        );
        // A retried request went out again on a connection of its own and says why.
        for (const r of retried) {
          assert.equal(r.retries, 1);
          assert.match(String(r.first_error), /UND_ERR_SOCKET|ECONNRESET|EPIPE/);
          assert.ok(r.connect_us > 0);
        }
        for (const r of records) {
          if (r.retries === 0) assert.equal(r.first_error, null);
          assert.ok(r.pool_wait_us >= r.connect_us, `${r.request_id}: pool wait includes connecting`);
        }
        // The origin was seen closing connections within the first rounds (by a retry or by a
        // close after a response): from then on no request reused a connection.
        const bySent = [...records].sort((a, b) => a.sent_at_us - b.sent_at_us);
        const lastReused = bySent.findLastIndex((r) => r.connect_us === 0);
        assert.ok(lastReused < 4 * STREAMS, `a connection was reused at request ${lastReused}`);

        // The warehouse's request rows carry the same facts.
        const path = join(outRoot, 'warehouse.duckdb');
        await Warehouse.using(path, {}, async (w) => {
          await ingestRunFolder(w, result.dir);
          const row = (
            await w.all(
              `SELECT count(*) n, count(pool_wait_ms) waits, count_if(connect_ms > 0) opened,
                 sum(retries) retries FROM request_fact WHERE run_id = $1`,
              [result.runId],
            )
          )[0] as Record<string, unknown>;
          assert.equal(Number(row.n), REQUESTS);
          assert.equal(Number(row.waits), REQUESTS);
          assert.equal(Number(row.opened), opened.length);
          assert.equal(Number(row.retries), retried.length);
        });
      });
    } finally {
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);
