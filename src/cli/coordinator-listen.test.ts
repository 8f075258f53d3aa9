// A split run whose workers someone else starts (docs/k8s.md, "Workers"): `run --workers 3
// --coordinator-listen HOST:PORT` starts no worker; three `infermark shard` processes the test
// starts itself, each with its own shard token (shardToken of the run's), reach the
// coordinator there, as shard pods would; the simulator runs in its own process, all on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { shardToken, COORDINATOR_TOKEN_ENV } from '../engine/shard-protocol.js';
import { verifyRunFolder } from '../evidence/verify.js';
import { assertNoStack, cli, runFolderUnder, simulatorFixture, writeJobYaml } from './testing/harness.js';
import { freePort, untilListening } from '../base/testing/free-port.js';
import { shardProcess } from './testing/shard-process.js';

const { sim, tmp } = simulatorFixture('infermark-listen-', {
  ttftMs: 10,
  ttftPerInputTokenMs: 0,
  itlMs: 2,
  itlJitterMs: 0,
  batchSlowdown: 0,
});

const RUN_TOKEN = 'run-token-for-the-listen-test-0123456789';

/** `infermark shard` as a pod runs it: its token in its environment, nothing else from the run. */
const startShard = (url: string, index: number, token: string) => shardProcess(url, index, token);

test('run --workers 3 --coordinator-listen: three shards started elsewhere make one merged, verifiable run', async () => {
  const port = await freePort();
  const file = await writeJobYaml(join(tmp(), 'listen.yaml'), {
    name: 'listen',
    url: sim().url,
    scenarios: ['D(32,8)'],
    concurrency: [3, 6],
    maxRequestsPerIteration: 24,
    spec: ['seed: 7'],
  });
  const out = join(tmp(), 'runs');
  const run = cli(
    [
      'run',
      file,
      '--workers',
      '3',
      '--coordinator-listen',
      `127.0.0.1:${port}`,
      '--out',
      out,
      '--quiet',
      '--no-warehouse',
    ],
    { env: { ...process.env, [COORDINATOR_TOKEN_ENV]: RUN_TOKEN }, timeoutMs: 90_000 },
  );
  await untilListening(port, 30_000);
  const url = `http://127.0.0.1:${port}`;
  // Shard 2 starts a second late, as a pod scheduled later would: the others wait for it.
  const shards = [startShard(url, 0, shardToken(RUN_TOKEN, 0)), startShard(url, 1, shardToken(RUN_TOKEN, 1))];
  await new Promise((r) => setTimeout(r, 1000));
  shards.push(startShard(url, 2, shardToken(RUN_TOKEN, 2)));
  const [result, ...ended] = await Promise.all([run, ...shards]);
  assert.equal(result.code, 0, result.stderr);
  for (const [index, shard] of ended.entries())
    assert.equal(shard.code, 0, `shard ${index}: ${shard.stderr}`);
  const dir = await runFolderUnder(out);
  const report = await verifyRunFolder(dir);
  assert.equal(report.sealed, true);
  assert.equal(report.status, 'complete');
  const runJson = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as {
    shards: Array<{ index: number; status: string }>;
  };
  assert.deepEqual(
    runJson.shards.map((s) => [s.index, s.status]),
    [
      [0, 'complete'],
      [1, 'complete'],
      [2, 'complete'],
    ],
  );
  for (const iteration of [0, 1]) {
    const summary = JSON.parse(
      await readFile(join(dir, 'iterations', String(iteration).padStart(3, '0'), 'summary.json'), 'utf8'),
    ) as { requests: { measured: number; completed: number } };
    assert.equal(summary.requests.measured, 24);
    assert.equal(summary.requests.completed, 24);
  }
  // The run's token never shows (the shards' are derived; none is printed).
  assert.ok(!result.stderr.includes(RUN_TOKEN) && !result.stdout.includes(RUN_TOKEN));
});

test('a shard with the wrong token is refused, and --coordinator-listen without a token or with a bad address exits 2', async () => {
  const file = await writeJobYaml(join(tmp(), 'refused.yaml'), {
    name: 'refused',
    url: sim().url,
    scenarios: ['D(32,8)'],
    concurrency: [1],
    maxRequestsPerIteration: 2,
  });
  const out = join(tmp(), 'refused-runs');
  const noToken = await cli(
    ['run', file, '--workers', '2', '--coordinator-listen', '127.0.0.1:1', '--out', out],
    {
      env: { ...process.env, [COORDINATOR_TOKEN_ENV]: '' },
    },
  );
  assert.equal(noToken.code, 2, noToken.stderr);
  assert.match(
    noToken.stderr,
    /--coordinator-listen needs the run's coordinator token .* INFERMARK_COORDINATOR_TOKEN/,
  );
  assertNoStack(noToken);
  const badAddress = await cli(
    ['run', file, '--workers', '2', '--coordinator-listen', 'nowhere', '--out', out],
    {
      env: { ...process.env, [COORDINATOR_TOKEN_ENV]: RUN_TOKEN },
    },
  );
  assert.equal(badAddress.code, 2, badAddress.stderr);
  assert.match(badAddress.stderr, /--coordinator-listen: "?nowhere"?: expected HOST:PORT/);
  const oneWorker = await cli(['run', file, '--coordinator-listen', '127.0.0.1:7700', '--out', out], {
    env: { ...process.env, [COORDINATOR_TOKEN_ENV]: RUN_TOKEN },
  });
  assert.equal(oneWorker.code, 2, oneWorker.stderr);
  assert.match(oneWorker.stderr, /needs a split run of a known size/);

  // A shard token of another run cannot speak for a shard of this one.
  const port = await freePort();
  let child: ReturnType<typeof spawn> | undefined;
  const run = cli(
    [
      'run',
      file,
      '--workers',
      '2',
      '--coordinator-listen',
      `127.0.0.1:${port}`,
      '--out',
      out,
      '--quiet',
      '--no-warehouse',
    ],
    {
      env: { ...process.env, [COORDINATOR_TOKEN_ENV]: RUN_TOKEN },
      timeoutMs: 60_000,
      onSpawn: (spawned) => (child = spawned),
    },
  );
  await untilListening(port, 30_000);
  const stranger = await startShard(
    `http://127.0.0.1:${port}`,
    0,
    shardToken('another-run-token-0123456789', 0),
  );
  assert.notEqual(stranger.code, 0);
  assert.match(stranger.stderr, /401|bearer token/i);
  // Nobody came; Ctrl-C ends the wait at once (no shard said hello: there is nothing to wait for).
  const t0 = Date.now();
  child?.kill('SIGINT');
  const ended = await run;
  assert.ok(Date.now() - t0 < 15_000, `the run took ${Date.now() - t0} ms to end`);
  assert.notEqual(ended.code, 0);
  assert.match(ended.stderr, /no worker of the run started/);
  assertNoStack(ended);
});
