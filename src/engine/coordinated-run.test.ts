/**
 * The coordinator's side of a split run when its workers fail to start: real worker
 * processes (`node -e`, standing in for `infermark shard`, which the CLI tests run for
 * real) that exit at once. The run says which worker failed and why, and sends nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { localWorkers } from '../cli/local-workers.js';
import { startSimulator } from '../sim/server.js';
import { parseJobText } from '../spec/load-job.js';
import { executeCoordinatedRun } from './coordinated-run.js';
import type { WorkerExit, WorkerHandle, WorkerLauncher } from './worker-launcher.js';

/** Workers that die before saying hello, each with its own last words. */
const dying: WorkerLauncher = {
  launch(spec) {
    const child = spawn(
      process.execPath,
      [
        '-e',
        `process.stderr.write('cannot read the job: shard ${spec.index} is from another version\\n'); process.exit(2)`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let words = '';
    child.stderr.on('data', (chunk: Buffer) => (words += chunk.toString('utf8')));
    const exited = new Promise<WorkerExit>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal, lastWords: words })),
    );
    return { label: `pid ${child.pid}`, exited, kill: (signal) => void child.kill(signal) };
  },
};

const inputs = (job: ReturnType<typeof parseJobText>, outRoot: string) => ({
  job,
  jobFile: null,
  endpoint: {
    baseUrl: 'http://127.0.0.1:9',
    path: '/v1/chat/completions' as const,
    model: 'm',
    apiFormat: 'openai' as const,
  },
  outRoot,
});

test('workers that all die before their hello: the run fails saying which and why, and nothing is merged', async () => {
  const out = await mkdtemp(join(tmpdir(), 'infermark-coordinated-'));
  try {
    const job = parseJobText(
      [
        'apiVersion: ome.io/v1beta1',
        'kind: BenchmarkJob',
        'metadata: { name: dying }',
        'spec:',
        "  endpoint: { endpoint: { url: 'http://127.0.0.1:9/v1/chat/completions', apiFormat: openai, modelName: m } }",
        '  task: text-to-text',
        "  trafficScenarios: ['D(8,4)']",
        '  numConcurrency: [2]',
        '  maxTimePerIteration: 1',
        '  maxRequestsPerIteration: 4',
      ].join('\n'),
      'dying.yaml',
    );
    await assert.rejects(
      executeCoordinatedRun(inputs(job, out), { count: 2, launcher: dying }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'E_NO_WORKER');
        assert.match(
          error.message,
          /shard 0 of 2: its worker exited with code 2 \(cannot read the job: shard 0 is from another version\)/,
        );
        assert.match(error.message, /shard 1 of 2: its worker exited with code 2/);
        return true;
      },
    );
    const [runDir] = await readdir(out);
    assert.deepEqual(await readdir(join(out, runDir!)), ['shards'], 'no merged file was written');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('a launcher that throws for the second worker: the first is ended, the coordinator closed, and the run fails naming the shard', async () => {
  const out = await mkdtemp(join(tmpdir(), 'infermark-launch-'));
  const started: { handle: WorkerHandle; coordinatorUrl: string }[] = [];
  // The first worker is a real process that would wait for its coordinator for a minute.
  const halfway: WorkerLauncher = {
    launch(spec) {
      if (spec.index === 1) throw new Error('spawn infermark ENOENT');
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
      const exited = new Promise<WorkerExit>((resolve) =>
        child.once('close', (code, signal) => resolve({ code, signal, lastWords: '' })),
      );
      const handle: WorkerHandle = {
        label: `pid ${child.pid}`,
        exited,
        kill: (signal) => void child.kill(signal),
      };
      started.push({ handle, coordinatorUrl: spec.coordinatorUrl });
      return handle;
    },
  };
  try {
    const job = parseJobText(
      [
        'apiVersion: ome.io/v1beta1',
        'kind: BenchmarkJob',
        'metadata: { name: halfway }',
        'spec:',
        "  endpoint: { endpoint: { url: 'http://127.0.0.1:9/v1/chat/completions', apiFormat: openai, modelName: m } }",
        '  task: text-to-text',
        "  trafficScenarios: ['D(8,4)']",
        '  numConcurrency: [2]',
        '  maxTimePerIteration: 1',
        '  maxRequestsPerIteration: 4',
      ].join('\n'),
      'halfway.yaml',
    );
    const startedMs = Date.now();
    await assert.rejects(
      executeCoordinatedRun(inputs(job, out), { count: 3, launcher: halfway }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'E_WORKER_LAUNCH');
        assert.match(
          error.message,
          /the worker of shard 1 of 3 could not be started \(.+\): spawn infermark ENOENT; the 1 started before it were stopped/,
        );
        return true;
      },
    );
    assert.ok(Date.now() - startedMs < 20_000);
    assert.equal(started.length, 1, 'no worker was launched after the failure');
    // The first worker was ended, not left waiting for its minute.
    const exit = await Promise.race([
      started[0]!.handle.exited,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 5_000).unref()),
    ]);
    assert.equal(exit?.signal, 'SIGKILL');
    // The coordinator no longer listens.
    const { hostname, port } = new URL(started[0]!.coordinatorUrl);
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), hostname);
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED');
  } finally {
    for (const { handle } of started) handle.kill('SIGKILL');
    await rm(out, { recursive: true, force: true });
  }
});

test('every ready held only a moment and asked again: real workers still start each iteration at one instant, and the run completes', async () => {
  const out = await mkdtemp(join(tmpdir(), 'infermark-again-'));
  const sim = await startSimulator({ seed: 3 });
  try {
    const job = parseJobText(
      [
        'apiVersion: ome.io/v1beta1',
        'kind: BenchmarkJob',
        'metadata: { name: again }',
        'spec:',
        `  endpoint: { endpoint: { url: '${sim.url}/v1/chat/completions', apiFormat: openai, modelName: m } }`,
        '  task: text-to-text',
        "  trafficScenarios: ['D(16,4)']",
        '  numConcurrency: [2, 4]',
        '  maxTimePerIteration: 10',
        '  maxRequestsPerIteration: 6',
      ].join('\n'),
      'again.yaml',
    );
    // Held 1 ms: every ready that waits for the other shard (the first waits for its start-up)
    // is answered `again`, and its worker asks again, as it would every 25 s in a long run.
    const result = await executeCoordinatedRun(
      { ...inputs(job, out), endpoint: { ...inputs(job, out).endpoint, baseUrl: sim.url } },
      { count: 2, launcher: localWorkers, coordinatorLimits: { readyHoldMs: 1 } },
    );
    assert.equal(result.status, 'complete', JSON.stringify(result.failure));
    assert.equal(result.summaries.length, 2);
    for (const summary of result.summaries) assert.equal(summary.requests.total, 6);
    assert.equal(sim.stats().requests, 12, 'the simulator answered every request of both iterations');
    const read = async (...path: string[]) =>
      JSON.parse(await readFile(join(result.dir, ...path), 'utf8')) as unknown;
    const clocks = await Promise.all(
      ['000', '001'].map(async (shard) => {
        const run = (await read('shards', shard, 'run.json')) as {
          shard: { clock_offset_us: number; clock_error_bound_us: number };
        };
        return run.shard;
      }),
    );
    for (const iteration of ['000', '001']) {
      // The instant each shard was given, moved onto the coordinator's clock with its measured offset.
      const instants = await Promise.all(
        ['000', '001'].map(async (shard, i) => {
          const summary = (await read('shards', shard, 'iterations', iteration, 'summary.json')) as {
            shard: { started_at_us: number };
          };
          return summary.shard.started_at_us - clocks[i]!.clock_offset_us;
        }),
      );
      const boundUs = clocks[0]!.clock_error_bound_us + clocks[1]!.clock_error_bound_us;
      assert.ok(Math.abs(instants[0]! - instants[1]!) <= boundUs + 1, `iteration ${iteration}: ${instants}`);
      // And each shard really sent its first request then (the merged records are on the coordinator's clock).
      const text = await readFile(join(result.dir, 'iterations', iteration, 'requests.jsonl'), 'utf8');
      const records = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { shard_index: number; sent_at_us: number });
      for (const shard of [0, 1]) {
        const firstUs = Math.min(...records.filter((r) => r.shard_index === shard).map((r) => r.sent_at_us));
        const lateMs = (firstUs - instants[0]!) / 1000;
        // Generous for a loaded 2-core host; a worker that had missed its start would be a re-ask late.
        assert.ok(
          lateMs > -boundUs / 1000 - 1 && lateMs < boundUs / 1000 + 150,
          `shard ${shard}: first sent ${lateMs} ms after the instant`,
        );
      }
    }
  } finally {
    await sim.close();
    await rm(out, { recursive: true, force: true });
  }
});
