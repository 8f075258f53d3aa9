/**
 * The API key goes only where the requests go: a Prometheus endpoint on another
 * origin is scraped without credentials, and the key appears nowhere in the run folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../sim/server.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { executeRun, sameOrigin } from './run.js';

const KEY = 'sk-credentials-test-0123456789';

test('sameOrigin compares scheme, host and port', () => {
  assert.equal(sameOrigin('http://127.0.0.1:8000/metrics', 'http://127.0.0.1:8000'), true);
  assert.equal(sameOrigin('http://127.0.0.1:9000/metrics', 'http://127.0.0.1:8000'), false);
  assert.equal(sameOrigin('https://127.0.0.1:8000/metrics', 'http://127.0.0.1:8000'), false);
  assert.equal(sameOrigin('not a url', 'http://127.0.0.1:8000'), false);
});

test('a metrics endpoint on another origin gets no key; the run folder holds no key', async () => {
  const sim = await startSimulator({ ttftMs: 1, itlMs: 1, itlJitterMs: 0 });
  const seenAuthorization: Array<string | undefined> = [];
  const spy = createServer((req, res) => {
    seenAuthorization.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('# spy\n');
  });
  await new Promise<void>((resolve) => spy.listen(0, '127.0.0.1', resolve));
  const spyUrl = `http://127.0.0.1:${(spy.address() as AddressInfo).port}/metrics`;
  const outRoot = await mkdtemp(join(tmpdir(), 'infermark-credentials-'));
  try {
    const job = jobFromCli({
      url: sim.url,
      model: 'sim',
      scenarios: ['D(10,5)'],
      concurrency: [1],
      maxRequests: 2,
      metricsUrl: spyUrl,
    });
    const result = await executeRun({
      job,
      jobFile: null,
      endpoint: resolveEndpoint(job),
      apiKey: KEY,
      outRoot,
    });
    assert.equal(result.summaries[0]?.requests.completed, 2);
    assert.ok(seenAuthorization.length >= 3, `scraped ${seenAuthorization.length} times`);
    assert.deepEqual(
      seenAuthorization.filter((value) => value !== undefined),
      [],
    );
    for (const file of await readdir(result.dir, { recursive: true, withFileTypes: true })) {
      if (!file.isFile()) continue;
      const text = await readFile(join(file.parentPath, file.name), 'utf8');
      assert.ok(!text.includes(KEY), `${file.name} holds the key`);
    }
  } finally {
    await sim.close();
    await new Promise<void>((resolve) => spy.close(() => resolve()));
    await rm(outRoot, { recursive: true, force: true });
  }
});
