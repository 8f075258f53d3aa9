/**
 * The security headers on a tiny hono app (hono's in-process request): every
 * response has them, the nonce is fresh per response and is the one the
 * handler saw, and a response with its own policy keeps it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import type { DashboardEnv } from '../context.js';
import { noncePolicy, securityHeaders } from './security-headers.js';

function app(): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>();
  app.use(securityHeaders());
  app.get('/nonce', (c) => c.text(c.get('nonce')));
  app.get('/own', (c) => c.text('report', 200, { 'Content-Security-Policy': "default-src 'none'" }));
  app.get('/fails', () => {
    throw new Error('boom');
  });
  app.onError((_error, c) => c.text('mapped', 500));
  return app;
}

const FIXED = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

test('every response gets the fixed headers and a nonce policy with the nonce its handler saw', async () => {
  const a = app();
  const seen = new Set<string>();
  for (let i = 0; i < 3; i += 1) {
    const response = await a.request('/nonce');
    const nonce = await response.text();
    assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/, '16 random bytes, base64');
    for (const [name, value] of Object.entries(FIXED)) assert.equal(response.headers.get(name), value, name);
    assert.equal(response.headers.get('content-security-policy'), noncePolicy(nonce));
    seen.add(nonce);
  }
  assert.equal(seen.size, 3, 'a fresh nonce per response');
});

test('a response that brings its own policy keeps it; errors and unknown paths get the headers too', async () => {
  const a = app();
  const own = await a.request('/own');
  assert.equal(own.headers.get('content-security-policy'), "default-src 'none'");
  assert.equal(own.headers.get('x-frame-options'), 'DENY');
  for (const path of ['/fails', '/nowhere']) {
    const response = await a.request(path);
    assert.notEqual(response.status, 200);
    for (const [name, value] of Object.entries(FIXED)) assert.equal(response.headers.get(name), value, name);
    assert.match(String(response.headers.get('content-security-policy')), /script-src 'nonce-[^']+'/);
  }
});

test('the nonce policy allows scripts only by that nonce and loads nothing from elsewhere', () => {
  const policy = noncePolicy('abc');
  assert.match(policy, /^default-src 'none'; script-src 'nonce-abc'; /);
  assert.match(policy, /frame-ancestors 'none'; base-uri 'none'$/);
  assert.doesNotMatch(policy, /https?:|\*|unsafe-eval/);
});
