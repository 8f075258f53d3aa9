/**
 * The app's assembly with a routes table of its own (no warehouse), through
 * hono's in-process request: a route's parameter arrives percent-decoded (a
 * malformed one is a 400), HEAD is GET without the body, the order is host
 * guard or token → path (404) → method (405), and every response carries the
 * security headers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardApp } from './app.js';
import { html, json } from './reply.js';
import type { Route } from './routes.js';

const routes: Route[] = [
  { method: 'GET', path: '/api/things/:id', handler: async ({ param }) => json({ id: param('id') }) },
  {
    method: 'GET',
    path: '/things/:id/page',
    handler: async ({ param, nonce, url }) =>
      html(`<p>${param('id')}</p><script nonce="${nonce}"></script>${url.search}`),
  },
];

const open = dashboardApp({ routes, host: '127.0.0.1', log: () => undefined });

test('a path parameter is percent-decoded once; malformed encoding is a 400 E_BAD_RUN_ID', async () => {
  const reply = await open.request('/api/things/a%2Fb%20c%25');
  assert.equal(reply.status, 200);
  assert.deepEqual(await reply.json(), { id: 'a/b c%' });
  const bad = await open.request('/api/things/%E0%A4%A');
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), {
    error: { code: 'E_BAD_RUN_ID', message: 'run id: malformed percent-encoding' },
  });
  assert.equal((await open.request('/things/%E0%A4%A/page')).status, 400);
});

test('a page gets its nonce in the policy; HEAD has the headers and length of GET, no body', async () => {
  const get = await open.request('/things/x/page?q=1');
  const body = await get.text();
  const nonce = /script-src 'nonce-([^']+)'/.exec(String(get.headers.get('content-security-policy')))?.[1];
  assert.ok(nonce && body === `<p>x</p><script nonce="${nonce}"></script>?q=1`);
  assert.equal(get.headers.get('cache-control'), 'no-store');
  const head = await open.request('/things/x/page?q=1', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(body)));
  assert.equal(head.headers.get('content-type'), 'text/html; charset=utf-8');
});

test('unknown paths are a 404 before the method is looked at; known paths refuse other methods', async () => {
  assert.equal((await open.request('/api/nothing', { method: 'POST' })).status, 404);
  assert.equal((await open.request('/api/things', { method: 'GET' })).status, 404);
  assert.equal((await open.request('/api/things/x/', { method: 'GET' })).status, 404);
  const post = await open.request('/api/things/x', { method: 'DELETE' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  assert.equal(post.headers.get('x-frame-options'), 'DENY');
});

test('without a token the host guard runs first; with one, the token check, before any 404', async () => {
  const rebound = await open.request('/nowhere', { headers: { host: 'evil.example' } });
  assert.equal(rebound.status, 403);
  assert.match(await rebound.text(), /data-code="E_BAD_HOST"/);
  const token = 'tok-3f9c2a7b5e1d4c6a8b0e';
  const guarded = dashboardApp({ routes, host: '0.0.0.0', token, log: () => undefined });
  assert.equal((await guarded.request('/nowhere')).status, 401);
  assert.equal((await guarded.request('/api/things/x', { method: 'POST' })).status, 401);
  const authorized = { headers: { authorization: `Bearer ${token}`, host: 'evil.example' } };
  assert.equal((await guarded.request('/api/things/x', authorized)).status, 200);
  assert.equal((await guarded.request('/nowhere', authorized)).status, 404);
});
