/**
 * The outputs' registry: an unknown name is refused before anything is written, listing
 * the names known; an output registered by name gets every record of a real run against
 * the simulator, in the order they were written to requests.jsonl, between the run's
 * start and its stop, each iteration ended before the next one starts; an output that
 * fails stops the run, every output is told, and the run is not sealed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfermarkError } from '../../base/errors.js';
import { spawnSimulator } from '../../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../../spec/load-job.js';
import { executeRun } from '../run.js';
import type { RunOutput } from './output.js';
import { createOutputs, outputNames, registerOutput } from './registry.js';

test('an unknown output is refused, naming it and the outputs known (exit 2)', () => {
  assert.throws(
    () => createOutputs(['run-folder', 'kafka', 'statsd'], { events: {} }),
    (error: unknown) => {
      assert.ok(error instanceof InfermarkError);
      assert.equal(error.code, 'unknown-output');
      assert.equal(error.exitCode, 2);
      assert.equal(error.message, 'unknown outputs "kafka", "statsd": expected one of events, run-folder');
      return true;
    },
  );
  assert.deepEqual(outputNames(), ['events', 'run-folder']);
});

test('a name taken or not kebab-case is refused; a registered output can be removed again', () => {
  assert.throws(() => registerOutput('run-folder', () => ({ name: 'run-folder' })), /already registered/);
  assert.throws(() => registerOutput('My Output', () => ({ name: 'x' })), /kebab-case/);
  const remove = registerOutput('probe-output', () => ({ name: 'probe-output' }));
  assert.deepEqual(outputNames(), ['events', 'probe-output', 'run-folder']);
  remove();
  assert.deepEqual(outputNames(), ['events', 'run-folder']);
});

test('a run naming an unknown output is refused before its folder is made', async () => {
  const outRoot = await mkdtemp(join(tmpdir(), 'infermark-outputs-'));
  try {
    const job = jobFromCli({
      url: 'http://127.0.0.1:9',
      model: 'sim',
      scenarios: ['D(20,10)'],
      concurrency: [1],
    });
    await assert.rejects(
      executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job, {}), outRoot, outputs: ['nope'] }),
      /unknown output "nope": expected one of events, run-folder/,
    );
    assert.deepEqual(await readdir(outRoot), []);
  } finally {
    await rm(outRoot, { recursive: true, force: true });
  }
});

test(
  'a registered output gets every record of a run, in order, between start and stop',
  { timeout: 60_000 },
  async () => {
    const sim = await spawnSimulator({
      seed: 3,
      ttftMs: 5,
      ttftPerInputTokenMs: 0,
      itlMs: 1,
      itlJitterMs: 0,
    });
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-outputs-'));
    const calls: string[] = [];
    const records: string[][] = [[], []];
    const remove = registerOutput('call-log', () => {
      const output: RunOutput = {
        name: 'call-log',
        open: async () => void calls.push('open'),
        start: async () => void calls.push('start'),
        startIteration: async ({ plan }) => void calls.push(`start ${plan.index}`),
        addRecord: (plan, record) => {
          calls.push(`record ${plan.index}`);
          records[plan.index]?.push(record.request_id);
        },
        endIteration: async ({ plan, completed }) =>
          void calls.push(`end ${plan.index} ${completed !== null}`),
        stop: async () => void calls.push('stop'),
        fail: async () => void calls.push('fail'),
      };
      return output;
    });
    try {
      const job = jobFromCli({
        url: sim.url,
        model: 'sim',
        scenarios: ['D(20,10)'],
        concurrency: [2, 4],
        maxRequests: 12,
        maxTimeMinutes: 1,
        seed: 9,
      });
      const result = await executeRun({
        job,
        jobFile: null,
        endpoint: resolveEndpoint(job, {}),
        outRoot,
        outputs: ['call-log'],
      });
      assert.equal(result.status, 'complete');
      const stats = await sim.stats();
      assert.equal(stats.requests, 24, 'the server saw both iterations');
      const record = (index: number): string[] => Array.from({ length: 12 }, () => `record ${index}`);
      assert.deepEqual(calls, [
        'open',
        'start',
        'start 0',
        ...record(0),
        'end 0 true',
        'start 1',
        ...record(1),
        'end 1 true',
        'stop',
      ]);
      // The same records, in the order the run folder wrote them.
      for (const index of [0, 1]) {
        const file = join(result.dir, 'iterations', `00${index}`, 'requests.jsonl');
        const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
        const written = lines.map((line) => (JSON.parse(line) as { request_id: string }).request_id);
        assert.deepEqual(records[index], written);
      }
    } finally {
      remove();
      await sim.close();
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);

test(
  'an output that fails between iterations stops the run: every output is told, nothing is sealed',
  { timeout: 60_000 },
  async () => {
    const sim = await spawnSimulator({
      seed: 5,
      ttftMs: 5,
      ttftPerInputTokenMs: 0,
      itlMs: 1,
      itlJitterMs: 0,
    });
    const outRoot = await mkdtemp(join(tmpdir(), 'infermark-outputs-'));
    const calls: string[] = [];
    const remove = registerOutput('breaks-at-end', () => ({
      name: 'breaks-at-end',
      endIteration: async ({ plan }) => {
        calls.push(`end ${plan.index}`);
        throw new Error('the output could not keep the iteration');
      },
      stop: async () => void calls.push('stop'),
      fail: async (error) => void calls.push(`fail: ${(error as Error).message}`),
    }));
    try {
      const job = jobFromCli({
        url: sim.url,
        model: 'sim',
        scenarios: ['D(20,10)'],
        concurrency: [2, 4],
        maxRequests: 6,
        seed: 2,
      });
      await assert.rejects(
        executeRun({
          job,
          jobFile: null,
          endpoint: resolveEndpoint(job, {}),
          outRoot,
          outputs: ['breaks-at-end'],
        }),
        /the output could not keep the iteration/,
      );
      assert.deepEqual(calls, ['end 0', 'fail: the output could not keep the iteration']);
      const [runId] = await readdir(outRoot);
      const files = await readdir(join(outRoot, runId as string));
      // The run folder, ended first, kept and sealed iteration 0; the run itself is not sealed.
      assert.ok(files.includes('run.json'));
      assert.ok(!files.includes('manifest.json'), files.join(', '));
      assert.ok(
        (await readdir(join(outRoot, runId as string, 'iterations', '000'))).includes('manifest.json'),
      );
      assert.equal((await sim.stats()).requests, 6, 'the second iteration never started');
    } finally {
      remove();
      await sim.close();
      await rm(outRoot, { recursive: true, force: true });
    }
  },
);
