/**
 * Faults: with the simulator injecting HTTP 500s, mid-stream disconnects and
 * stalls longer than the request timeout, a run still completes, every request
 * is accounted for exactly once (in memory, in the summary and in the run
 * folder), and the error classes the client recorded match what the server
 * says it injected, one for one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestRecord } from '../metrics/record.js';
import { spawnSimulator } from '../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { executeRun } from './run.js';

const REQUESTS = 200;

test(
  'injected 500s, disconnects and stalls are each counted once, in their class',
  { timeout: 60_000 },
  async () => {
    const sim = await spawnSimulator({
      seed: 99,
      ttftMs: 20,
      ttftPerInputTokenMs: 0,
      itlMs: 5,
      itlJitterMs: 0,
      batchSlowdown: 0,
      errorRate: 0.1,
      disconnectRate: 0.05,
      stallRate: 0.05,
      // Far beyond the 1 s request timeout: a stalled request can only end as a timeout.
      stallMs: 3000,
    });
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-faults-'));
    try {
      const job = jobFromCli({
        url: sim.url,
        model: 'sim',
        scenarios: ['D(20,30)'],
        concurrency: [16],
        maxRequests: REQUESTS,
        maxTimeMinutes: 1,
        timeoutSeconds: 1,
        seed: 5,
      });
      const result = await executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job, {}), outRoot });
      const stats = await sim.stats();
      assert.equal(result.interrupted, false);
      const summary = result.summaries[0]!;
      assert.equal(summary.ended_by, 'max_requests');

      // The run folder holds each request exactly once.
      const lines = (await readFile(join(result.dir, 'iterations', '000', 'requests.jsonl'), 'utf8'))
        .split('\n')
        .filter((line) => line !== '');
      const records = lines.map((line) => JSON.parse(line) as RequestRecord);
      const ids = new Set(records.map((r) => r.request_id));
      assert.equal(records.length, REQUESTS);
      assert.equal(ids.size, REQUESTS, 'request ids are unique');
      assert.deepEqual(
        records.map((r) => r.index).sort((a, b) => a - b),
        Array.from({ length: REQUESTS }, (_, i) => i),
      );
      // Each reached the server once: no retries, nothing lost before sending.
      assert.equal(stats.requests, REQUESTS);

      const { requests } = summary;
      assert.equal(requests.total, REQUESTS);
      assert.equal(requests.measured, REQUESTS);
      assert.equal(requests.completed + requests.errored + requests.cancelled, REQUESTS);
      assert.equal(requests.cancelled, 0, 'ended by max_requests: drained, nothing cancelled');

      const byClass = (cls: string): number => records.filter((r) => r.error_class === cls).length;
      const counts = {
        ok: records.filter((r) => r.status === 'ok').length,
        http_5xx: byClass('http_5xx'),
        connection: byClass('connection'),
        timeout: byClass('timeout'),
        other: records.filter(
          (r) => r.status === 'error' && !['http_5xx', 'connection', 'timeout'].includes(r.error_class ?? ''),
        ).length,
      };
      console.log(
        `# faults: client ${JSON.stringify(counts)}; server injected ${JSON.stringify(stats.injected)}, completed ${stats.completed}`,
      );
      assert.equal(counts.http_5xx, stats.injected.error, 'HTTP 500s');
      assert.equal(counts.connection, stats.injected.disconnect, 'disconnects');
      assert.equal(counts.timeout, stats.injected.stall, 'stalls → timeouts');
      assert.equal(counts.other, 0, 'no other error classes');
      assert.equal(
        counts.ok,
        stats.completed,
        'requests the server finished are the ones the client completed',
      );
      // The seed injected some of each, so the comparison means something.
      for (const kind of ['error', 'disconnect', 'stall'] as const) assert.ok(stats.injected[kind] > 0, kind);
      assert.equal(requests.completed, counts.ok);
      assert.equal(requests.errored, counts.http_5xx + counts.connection + counts.timeout);
      assert.equal(requests.errors_by_class.http_5xx, counts.http_5xx);
      assert.equal(requests.errors_by_class.connection, counts.connection);
      assert.equal(requests.errors_by_class.timeout, counts.timeout);
      // A 500 carries its status; a timeout gave up after the 1 s limit, well before the 3 s stall ended.
      for (const r of records.filter((r) => r.error_class === 'http_5xx')) assert.equal(r.http_status, 500);
      for (const r of records.filter((r) => r.error_class === 'timeout')) {
        const heldMs = ((r.done_at_us ?? r.last_token_at_us ?? r.sent_at_us) - r.sent_at_us) / 1000;
        assert.ok(heldMs < 2000, `timed-out request held ${heldMs} ms`);
      }
    } finally {
      await sim.close();
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);
