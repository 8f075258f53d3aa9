/**
 * The node:http side, on a real server on 127.0.0.1 with raw requests (node:net,
 * so odd targets and headers go out exactly as written): a target is resolved
 * as a URL against a fixed origin before hono routes it, one that does not parse
 * is a 400 E_BAD_URL, and the Host header reaches the app as node:http parsed it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { requestHeader, requestUrl, type DashboardEnv } from './context.js';
import { nodeListener, rejectMalformedUrl } from './node-listener.js';

async function listen(): Promise<Server> {
  const app = new Hono<DashboardEnv>({ getPath: (request) => new URL(request.url).pathname });
  app.use(rejectMalformedUrl());
  app.get('*', (c) => {
    const url = requestUrl(c);
    return c.json({ path: url.pathname, search: url.search, host: requestHeader(c, 'host') ?? null });
  });
  const server = createServer(nodeListener(app));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** One raw HTTP/1.1 request; resolves with the status and the body. */
function raw(server: Server, head: string): Promise<{ status: number; headers: string; body: string }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [headers = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(headers)?.[1]), headers, body });
    });
    socket.end(`${head}\r\nConnection: close\r\n\r\n`);
  });
}

test('the target is resolved as a URL: dot segments, backslashes, //host and absolute forms', async () => {
  const server = await listen();
  try {
    const cases: [string, string, string][] = [
      ['/a/../b?x=1', '/b', '?x=1'],
      ['/a\\b', '/a/b', ''],
      ['//elsewhere.example/c?d', '/c', '?d'],
      ['http://evil.example/e', '/e', ''],
      ['/%zz/%E0%A4%A', '/%zz/%E0%A4%A', ''],
      ['*', '/*', ''],
    ];
    for (const [target, path, search] of cases) {
      const reply = await raw(server, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1`);
      assert.equal(reply.status, 200, target);
      assert.deepEqual(JSON.parse(reply.body), { path, search, host: '127.0.0.1' }, target);
    }
  } finally {
    server.close();
  }
});

test('a target that is no URL is a 400 E_BAD_URL in JSON', async () => {
  const server = await listen();
  try {
    for (const target of ['//', '//[', 'http://']) {
      const reply = await raw(server, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1`);
      assert.equal(reply.status, 400, target);
      assert.deepEqual(JSON.parse(reply.body), {
        error: { code: 'E_BAD_URL', message: 'malformed request URL' },
      });
      assert.match(reply.headers, /content-type: application\/json; charset=utf-8/i);
      assert.match(reply.headers, /content-security-policy: default-src 'none'; script-src 'nonce-';/i);
    }
  } finally {
    server.close();
  }
});

test('Host reaches the app as node:http parsed it: odd, repeated (the first wins) or absent', async () => {
  const server = await listen();
  try {
    const host = async (headers: string): Promise<unknown> =>
      JSON.parse((await raw(server, `GET /x HTTP/1.1${headers}`)).body).host;
    assert.equal(await host('\r\nHost: a b'), 'a b');
    assert.equal(await host('\r\nHost: evil/x'), 'evil/x');
    assert.equal(await host('\r\nHost: 127.0.0.1\r\nHost: evil.example'), '127.0.0.1');
    assert.equal(JSON.parse((await raw(server, 'GET /x HTTP/1.0')).body).host, null, 'HTTP/1.0 without Host');
  } finally {
    server.close();
  }
});
