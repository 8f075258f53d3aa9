/**
 * The coordinator's side of a split run when its workers fail to start: real worker
 * processes (`node -e`, standing in for `infermark shard`, which the CLI tests run for
 * real) that exit at once. The run says which worker failed and why, and sends nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
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
