/**
 * The route table: one POST route per response format, the same GET and HEAD routes
 * (the telemetry ones per node), and 404 for the rest, checked on a real node:http
 * server on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RESPONSE_FORMATS } from './formats/registry.js';
import { DEFAULT_SIMULATOR_OPTIONS } from './options.js';
import { routeRequests, simulatorRoutes } from './routes.js';
import { Simulator } from './simulator.js';
import { WRITE_LOG_PATH } from './write-log.js';

test('one POST route per format; GET and HEAD share the rest', () => {
  const sim = new Simulator({ ...DEFAULT_SIMULATOR_OPTIONS });
  const routes = simulatorRoutes(sim);
  assert.deepEqual([...routes.keys()], ['POST', 'GET', 'HEAD']);
  assert.deepEqual(
    [...(routes.get('POST')?.keys() ?? [])],
    Object.values(RESPONSE_FORMATS).map((f) => f.path),
  );
  assert.deepEqual(
    [...(routes.get('GET')?.keys() ?? [])],
    [
      '/health',
      '/version',
      '/v1/models',
      WRITE_LOG_PATH,
      '/metrics',
      '/sim/stats',
      '/sim/dcgm',
      '/sim/cluster',
      '/sim/nodes/sim-node-0/metrics',
      '/sim/nodes/sim-node-0/dcgm',
      '/sim/nodes/sim-node-0/node-exporter',
    ],
  );
  assert.equal(routes.get('HEAD'), routes.get('GET'));
  sim.close();
});

test('unknown method or path: 404 naming both; the query string is not part of the path', async () => {
  const sim = new Simulator({ ...DEFAULT_SIMULATOR_OPTIONS });
  const server = createServer(routeRequests(sim, simulatorRoutes(sim)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal((await fetch(`${url}/health?probe=1`)).status, 200);
    for (const [method, path] of [
      ['GET', '/nope'],
      ['PUT', '/health'],
      ['GET', '/v1/chat/completions'],
      ['POST', '/v1/nope'],
    ] as const) {
      const res = await fetch(`${url}${path}`, { method, ...(method === 'GET' ? {} : { body: '{}' }) });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.deepEqual(await res.json(), {
        error: { message: `Not found: ${method} ${path}`, type: 'not_found_error', param: null, code: null },
      });
    }
    const log = await fetch(`${url}${WRITE_LOG_PATH}`);
    assert.equal(log.status, 404);
    assert.match(((await log.json()) as { error: { message: string } }).error.message, /write log is off/);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    assert.equal(models.data[0]?.id, DEFAULT_SIMULATOR_OPTIONS.model);
  } finally {
    sim.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
