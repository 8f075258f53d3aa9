/**
 * A run killed before its first iteration, while it waits on the server's
 * `/version` (a server that never answers it), keeps a run.json: run.json is
 * written before the server is probed, so `infermark verify` says PARTIAL (the
 * run did not finish), not CORRUPT (a file is missing). Ctrl-C at that moment ends
 * the run at once, not after the probes' deadlines. The server is a raw node:http
 * one on loopback that hangs `/version` and `/metrics`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertNoStack, cli, runArgs } from '../cli/testing/harness.js';
import { VERIFY_PARTIAL_EXIT } from '../cli/verify.js';

/** A server that lists model m and never answers /version or /metrics; `probed` resolves when one is asked. */
async function hangingServer(): Promise<{ url: string; probed: Promise<void>; close(): Promise<void> }> {
  let sawProbe: () => void = () => undefined;
  const probed = new Promise<void>((resolve) => (sawProbe = resolve));
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.url === '/v1/models') {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }));
      return;
    }
    // /version and /metrics hang: the response is never written (the socket is destroyed at the end).
    if (request.url === '/version' || request.url === '/metrics') {
      sawProbe();
      return;
    }
    response.statusCode = 404;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    probed,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a run SIGKILLed while /version hangs leaves a run.json and verifies PARTIAL, not CORRUPT', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-killed-'));
  const { url, probed, close } = await hangingServer();
  try {
    const out = join(dir, 'runs');
    let killedAt = 0;
    const result = await cli(
      runArgs({
        url,
        out,
        scenario: 'D(16,6)',
        concurrency: '1',
        maxRequests: 3,
        quiet: true,
        warehouse: false,
      }),
      {
        timeoutMs: 20_000,
        onSpawn: (child) => {
          void probed.then(() => {
            killedAt = Date.now();
            child.kill('SIGKILL');
          });
        },
      },
    );
    assert.equal(result.signal, 'SIGKILL', `the run ended by itself: ${result.stderr}`);
    assert.ok(killedAt > 0);

    const [runId, ...others] = await readdir(out);
    assert.ok(runId !== undefined && others.length === 0, `run folders: ${[runId, ...others].join(', ')}`);
    const folder = join(out, runId);
    const runJson = JSON.parse(await readFile(join(folder, 'run.json'), 'utf8')) as {
      run_id: string;
      plan: unknown[];
      server: unknown;
    };
    assert.equal(runJson.run_id, runId);
    assert.equal(runJson.plan.length, 1);
    assert.equal(runJson.server, null, 'the probes had not answered: their part is not filled in');

    const verify = await cli(['verify', folder]);
    assert.equal(verify.code, VERIFY_PARTIAL_EXIT, verify.stdout + verify.stderr);
    assert.match(verify.stdout, new RegExp(`^run ${runId}: PARTIAL, not sealed$`, 'm'));
    assert.doesNotMatch(verify.stdout, /CORRUPT|problems:/);
    assertNoStack(verify);
  } finally {
    await close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C while /version and /metrics hang ends the run within 1 s (exit 130), not after the probes’ deadlines', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-interrupted-'));
  const { url, probed, close } = await hangingServer();
  try {
    let signalledAt = 0;
    const result = await cli(
      runArgs({
        url,
        out: join(dir, 'runs'),
        scenario: 'D(16,6)',
        concurrency: '1',
        maxRequests: 3,
        warehouse: false,
      }),
      {
        timeoutMs: 20_000,
        onSpawn: (child) => {
          void probed.then(() => {
            signalledAt = performance.now();
            child.kill('SIGINT');
          });
        },
      },
    );
    const took_ms = performance.now() - signalledAt;
    assert.ok(signalledAt > 0);
    assert.equal(result.code, 130, result.stdout + result.stderr);
    // The /version probe alone may wait 3 s, /metrics 10 s: Ctrl-C does not wait for them.
    assert.ok(took_ms < 1_000, `exited ${Math.round(took_ms)} ms after SIGINT`);
    assertNoStack(result);
  } finally {
    await close();
    await rm(dir, { recursive: true, force: true });
  }
});
