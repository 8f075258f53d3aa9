/**
 * The token check on a tiny hono app (hono's in-process request): no token or a
 * wrong one is a 401 with WWW-Authenticate before the route runs; the Bearer
 * header and the cookie pass; `?token=` sets the cookie, and on a page
 * redirects to the same address without it. The token is never echoed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { ApiError } from '../api.js';
import type { DashboardEnv } from '../context.js';
import { TOKEN_COOKIE, tokenAuth } from './token-auth.js';

const TOKEN = 'tok-3f9c2a7b5e1d4c6a8b0e+/=';

function app(): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>();
  app.use(tokenAuth(TOKEN));
  app.get('*', (c) => c.text(`reached ${new URL(c.req.url).pathname}`));
  // Shows what the middleware threw, without error-mapping.ts.
  app.onError((error, c) =>
    error instanceof ApiError ? c.json({ code: error.code }, 401) : c.text(String(error), 500),
  );
  return app;
}

const cookie = `${TOKEN_COOKIE}=${encodeURIComponent(TOKEN)}`;

test('without the token, or with a wrong one, every path is a 401 asking for a Bearer token', async () => {
  const a = app();
  const attempts: [string, Record<string, string>][] = [
    ['/api/runs', {}],
    ['/', {}],
    ['/nope', {}],
    ['/api/runs', { authorization: 'Bearer wrong-token-of-some-length' }],
    ['/api/runs', { authorization: `Bearer ${TOKEN}x` }],
    ['/api/runs', { authorization: `bearer ${TOKEN}` }],
    ['/api/runs', { authorization: `Basic ${TOKEN}` }],
    ['/api/runs?token=wrong', {}],
    ['/api/runs', { cookie: `${TOKEN_COOKIE}=nope` }],
    ['/api/runs', { cookie: `${TOKEN_COOKIE}=%zz; ${cookie}` }],
  ];
  for (const [path, headers] of attempts) {
    const response = await a.request(path, { headers });
    const label = `${path} ${JSON.stringify(headers)}`;
    assert.equal(response.status, 401, label);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="infermark"', label);
    assert.deepEqual(await response.json(), { code: 'E_UNAUTHORIZED' }, label);
    assert.equal(response.headers.get('set-cookie'), null, label);
  }
});

test('the Bearer header (trimmed) and the cookie reach the route; the header wins over the query', async () => {
  const a = app();
  const presented: Record<string, string>[] = [
    { authorization: `Bearer ${TOKEN}` },
    { authorization: `Bearer   ${TOKEN}  ` },
    { cookie: `a=b; ${cookie}; c=d` },
  ];
  for (const headers of presented) {
    const response = await a.request('/runs/x', { headers });
    assert.equal(response.status, 200, JSON.stringify(headers));
    assert.equal(await response.text(), 'reached /runs/x');
    assert.equal(response.headers.get('set-cookie'), null);
  }
  const headerFirst = await a.request(`/api/runs?token=${encodeURIComponent(TOKEN)}`, {
    headers: { authorization: 'Bearer nope' },
  });
  assert.equal(headerFirst.status, 401);
});

test('?token= on the API answers at once and sets the cookie; on a page it redirects without the token', async () => {
  const a = app();
  const query = `token=${encodeURIComponent(TOKEN)}`;
  const api = await a.request(`/api/runs?${query}&limit=1`);
  assert.equal(api.status, 200);
  assert.equal(api.headers.get('set-cookie'), `${cookie}; HttpOnly; SameSite=Strict; Path=/`);

  const page = await a.request(`/runs/x?engine=vLLM&${query}&q=a%20b`);
  assert.equal(page.status, 303);
  assert.equal(page.headers.get('location'), '/runs/x?engine=vLLM&q=a+b');
  assert.equal(page.headers.get('set-cookie'), `${cookie}; HttpOnly; SameSite=Strict; Path=/`);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(await page.text(), '');
  assert.equal((await a.request(`/?${query}`)).headers.get('location'), '/');

  const again = await a.request('/runs/x?engine=vLLM', { headers: { cookie } });
  assert.equal(again.status, 200);
  for (const response of [api, page]) {
    assert.ok(!String(response.headers.get('location')).includes(TOKEN));
  }
});
