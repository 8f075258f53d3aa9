/**
 * The coordinator's side of a split run when its workers fail to start: real worker
 * processes (`node -e`, standing in for `infermark shard`, which the CLI tests run for
 * real) that exit at once. The run says which worker failed and why, and sends nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJobText } from '../spec/load-job.js';
import { executeCoordinatedRun } from './coordinated-run.js';
import type { WorkerExit, WorkerLauncher } from './worker-launcher.js';

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
      executeCoordinatedRun(
        {
          job,
          jobFile: null,
          endpoint: {
            baseUrl: 'http://127.0.0.1:9',
            path: '/v1/chat/completions',
            model: 'm',
            apiFormat: 'openai',
          },
          outRoot: out,
        },
        { count: 2, launcher: dying },
      ),
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
