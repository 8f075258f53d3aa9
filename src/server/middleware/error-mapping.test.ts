/**
 * Error mapping on a tiny hono app (hono's in-process request): each kind of
 * error a route can throw, on an API path and on a page, becomes the status and
 * body the dashboard has always answered; only a real internal error is logged,
 * scrubbed, and its response says nothing of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { InfermarkError } from '../../base/errors.js';
import { registerSecret } from '../../base/redact.js';
import { ApiError } from '../api.js';
import type { DashboardEnv } from '../context.js';
import { mapErrors, methodNotAllowed, notFound } from './error-mapping.js';

const SECRET = 'sk-error-mapping-test-0123456789';

function app(logged: string[]): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>();
  const errors: Record<string, () => Error> = {
    bad: () => new ApiError(400, 'E_BAD_PARAM', 'limit "x": expected a whole number'),
    busy: () => new InfermarkError('E_WAREHOUSE_BUSY', 'the warehouse is being written'),
    missing: () => new InfermarkError('E_NO_RUN', 'no run "zzzz" in the warehouse'),
    corrupt: () => new InfermarkError('E_WAREHOUSE_CORRUPT', 'the warehouse file is damaged: restore it'),
    unmapped: () => new InfermarkError('E_SOMETHING_ELSE', `detail with ${SECRET}`),
    internal: () => new TypeError(`cannot read properties of undefined (${SECRET})`),
  };
  for (const prefix of ['/api', '']) {
    app.get(`${prefix}/:kind`, (c) => {
      throw (errors[c.req.param('kind')] ?? (() => new Error('no such kind')))();
    });
    app.all(`${prefix}/:kind`, methodNotAllowed);
  }
  app.notFound(notFound);
  app.onError(mapErrors((line) => logged.push(line)));
  return app;
}

async function apiError(response: Response): Promise<{ code: string; message: string }> {
  assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error']);
  return body.error;
}

test('API errors: ApiError as itself, warehouse codes by their status, busy with Retry-After', async () => {
  const logged: string[] = [];
  const a = app(logged);
  const expected: [string, number, string, string][] = [
    ['bad', 400, 'E_BAD_PARAM', 'limit "x": expected a whole number'],
    ['busy', 503, 'E_WAREHOUSE_BUSY', 'the warehouse is being written'],
    ['missing', 404, 'E_NO_RUN', 'no run "zzzz" in the warehouse'],
    ['corrupt', 500, 'E_WAREHOUSE_CORRUPT', 'the warehouse file is damaged: restore it'],
  ];
  for (const [kind, status, code, message] of expected) {
    const response = await a.request(`/api/${kind}`);
    assert.equal(response.status, status, kind);
    assert.deepEqual(await apiError(response), { code, message }, kind);
    assert.equal(response.headers.get('retry-after'), status === 503 ? '1' : null, kind);
    assert.match(String(response.headers.get('content-security-policy')), /script-src 'nonce-';/, kind);
  }
  assert.deepEqual(logged, [], 'errors a client or the warehouse caused are not logged');
});

test('an internal error is a 500 without detail; the log has its stack, scrubbed of secrets', async () => {
  registerSecret(SECRET);
  const logged: string[] = [];
  const a = app(logged);
  for (const kind of ['internal', 'unmapped']) {
    const response = await a.request(`/api/${kind}`);
    assert.equal(response.status, 500);
    const error = await apiError(response);
    assert.deepEqual(error, { code: 'E_INTERNAL', message: 'internal error (see the server log)' });
  }
  assert.equal(logged.length, 2);
  assert.match(logged[0] as string, /^infermark serve: internal error: TypeError: cannot read properties/);
  assert.match(logged[0] as string, /\n\s+at /, 'the stack, for the operator');
  for (const line of logged) assert.ok(!line.includes(SECRET), 'no secret in the log');
});

test('page errors are HTML error pages with the same status and code', async () => {
  const a = app([]);
  for (const [kind, status, code] of [
    ['bad', 400, 'E_BAD_PARAM'],
    ['busy', 503, 'E_WAREHOUSE_BUSY'],
    ['missing', 404, 'E_NO_RUN'],
    ['internal', 500, 'E_INTERNAL'],
  ] as const) {
    const response = await a.request(`/${kind}`);
    assert.equal(response.status, status, kind);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    const page = await response.text();
    assert.match(
      page,
      new RegExp(`<h1>Error ${status}</h1><p class="err" data-testid="error" data-code="${code}">`),
    );
    assert.equal(response.headers.get('content-length'), String(Buffer.byteLength(page)));
    assert.doesNotMatch(page, /\n\s+at |TypeError/, kind);
  }
  const bad = await (await a.request('/bad')).text();
  assert.ok(bad.includes('limit &quot;x&quot;: expected a whole number'), 'the message, escaped');
});

test('unknown paths are a 404 (endpoint or page); other methods on a known path a 405 with Allow', async () => {
  const a = app([]);
  const api = await a.request('/api/a/b');
  assert.equal(api.status, 404);
  assert.deepEqual(await apiError(api), { code: 'E_NOT_FOUND', message: 'no such endpoint' });
  const page = await a.request('/a/b');
  assert.equal(page.status, 404);
  assert.match(await page.text(), /data-code="E_NOT_FOUND">no such page</);
  const post = await a.request('/api/bad', { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  assert.deepEqual(await apiError(post), {
    code: 'E_METHOD',
    message: 'POST is not allowed here: GET or HEAD',
  });
});
