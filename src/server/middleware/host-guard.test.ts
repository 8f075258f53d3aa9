/**
 * The host guard on a tiny hono app (hono's in-process request): loopback names
 * and the bound address pass, any other Host is a 403 E_BAD_HOST before the
 * route runs, and a request without Host passes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { ApiError } from '../api.js';
import type { DashboardEnv } from '../context.js';
import { hostAllowed, hostGuard, isLoopback } from './host-guard.js';

function app(bound: string, reached: string[]): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>();
  app.use(hostGuard(bound));
  app.get('/x', (c) => {
    reached.push(c.req.header('host') ?? '(none)');
    return c.text('ok');
  });
  // Shows what the guard threw, without error-mapping.ts.
  app.onError((error, c) =>
    error instanceof ApiError ? c.json({ code: error.code }, 403) : c.text(String(error), 500),
  );
  return app;
}

test('isLoopback: localhost, ::1 and 127.0.0.0/8, nothing else', () => {
  for (const host of ['localhost', '::1', '127.0.0.1', '127.1.2.3']) assert.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'localhost.evil.example', '127.0.0.1.evil.example', '']) {
    assert.ok(!isLoopback(host), host);
  }
});

test('hostAllowed strips a port and IPv6 brackets; the bound address passes', () => {
  assert.ok(hostAllowed(undefined, '127.0.0.1'));
  assert.ok(hostAllowed('127.0.0.1:8080', '127.0.0.1'));
  assert.ok(hostAllowed('[::1]:8080', '127.0.0.1'));
  assert.ok(hostAllowed('localhost', '127.0.0.1'));
  assert.ok(hostAllowed('192.168.1.5:80', '192.168.1.5'));
  assert.ok(!hostAllowed('evil.example:80', '127.0.0.1'));
  assert.ok(!hostAllowed('', '127.0.0.1'));
  assert.ok(!hostAllowed('[::1', '127.0.0.1'));
});

test('a rebound Host name gets a 403 and never reaches the route; loopback names do', async () => {
  const reached: string[] = [];
  const a = app('127.0.0.1', reached);
  for (const host of ['evil.example:80', 'evil.example', '127.0.0.1.evil.example', 'a b']) {
    const response = await a.request('/x', { headers: { host } });
    assert.equal(response.status, 403, host);
    assert.deepEqual(await response.json(), { code: 'E_BAD_HOST' });
  }
  assert.deepEqual(reached, []);
  for (const host of ['127.0.0.1:9', 'localhost:9', '[::1]:9', '127.0.0.2']) {
    assert.equal((await a.request('/x', { headers: { host } })).status, 200, host);
  }
  assert.equal((await a.request('/x')).status, 200, 'no Host header (HTTP/1.0)');
  assert.deepEqual(reached, ['127.0.0.1:9', 'localhost:9', '[::1]:9', '127.0.0.2', '(none)']);
});
