/**
 * Outputs never hold the request loop: an output that takes 50 ms per record hands each
 * record to its own queue and returns, so a real run against the simulator sends and
 * finishes its requests at the server's pace, not the output's; the engine awaits the
 * output only between iterations, so its work (and the run folder's seal) is done
 * before the next iteration starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSimulator } from '../../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../../spec/load-job.js';
import { executeRun } from '../run.js';
import type { RunOutput } from './output.js';
import { registerOutput } from './registry.js';

const PER_RECORD_MS = 50;
const REQUESTS = 24;

test(
  'a slow output does not slow the request loop, and is done before the next iteration',
  { timeout: 60_000 },
  async () => {
    const sim = await spawnSimulator({
      seed: 4,
      ttftMs: 5,
      ttftPerInputTokenMs: 0,
      itlMs: 1,
      itlJitterMs: 0,
    });
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-slow-output-'));
    let queue: Promise<void> = Promise.resolve();
    let handed = 0;
    let processed = 0;
    const atEnd: { pending: number; wall_s: number }[] = [];
    const atStart: { processed: number; handed: number; previousSealed: boolean }[] = [];
    let dir = '';
    const remove = registerOutput('slow-output', () => {
      const output: RunOutput = {
        name: 'slow-output',
        open: async (run) => {
          dir = run.dir;
        },
        startIteration: async ({ plan }) => {
          const previous = join(dir, 'iterations', String(plan.index - 1).padStart(3, '0'), 'manifest.json');
          const previousSealed =
            plan.index === 0 ||
            (await access(previous).then(
              () => true,
              () => false,
            ));
          atStart.push({ processed, handed, previousSealed });
        },
        addRecord: () => {
          handed++;
          queue = queue.then(async () => {
            await sleep(PER_RECORD_MS);
            processed++;
          });
        },
        endIteration: async ({ completed }) => {
          atEnd.push({ pending: handed - processed, wall_s: completed?.summary.wall_s ?? NaN });
          await queue;
        },
      };
      return output;
    });
    try {
      const job = jobFromCli({
        url: sim.url,
        model: 'sim',
        scenarios: ['D(20,10)'],
        concurrency: [4, 8],
        maxRequests: REQUESTS,
        maxTimeMinutes: 1,
        seed: 11,
      });
      const result = await executeRun({
        job,
        jobFile: null,
        endpoint: resolveEndpoint(job, {}),
        outRoot,
        outputs: ['slow-output'],
      });
      const stats = await sim.stats();
      assert.equal(stats.requests, 2 * REQUESTS);
      assert.equal(result.summaries.length, 2);
      const queued_s = (REQUESTS * PER_RECORD_MS) / 1000;
      for (const [index, end] of atEnd.entries()) {
        console.log(
          `# iteration ${index}: load ${end.wall_s.toFixed(3)} s; ${end.pending} of ${REQUESTS} records still queued in the output at its end`,
        );
        // Had the loop waited on the output, the load would have lasted the queue's 1.2 s and nothing would be left.
        assert.ok(end.pending > 0, 'the load ended before the output had worked through its records');
        assert.ok(end.wall_s < queued_s, `load ${end.wall_s} s, the output's queue ${queued_s} s`);
      }
      // Between iterations the engine awaited the output and the run folder's seal.
      assert.deepEqual(atStart, [
        { processed: 0, handed: 0, previousSealed: true },
        { processed: REQUESTS, handed: REQUESTS, previousSealed: true },
      ]);
      assert.equal(processed, 2 * REQUESTS);
    } finally {
      remove();
      await sim.close();
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);
