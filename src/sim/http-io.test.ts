/**
 * HTTP plumbing on a real node:http server on 127.0.0.1: a body read whole (and refused
 * over its bound), the error body's shape, and closing a connection after its response.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_BODY_BYTES, readBody, sendError, sendJson, SocketCloser } from './http-io.js';

async function withServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('a body arrives whole, in any number of chunks; one over the bound is answered 413', async () => {
  await withServer(
    (req, res) =>
      readBody(req, res, (body) => sendJson(res, 200, { length: body.length, head: body.slice(0, 3) })),
    async (url) => {
      const chunked = await new Promise<string>((resolve, reject) => {
        const req = request(`${url}/`, { method: 'POST' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.write('abc');
        setTimeout(() => req.end('é'.repeat(10)), 20);
      });
      assert.deepEqual(JSON.parse(chunked), { length: 13, head: 'abc' });
      const big = await fetch(`${url}/`, { method: 'POST', body: Buffer.alloc(MAX_BODY_BYTES + 1, 32) });
      assert.equal(big.status, 413);
      assert.deepEqual(await big.json(), {
        error: { message: 'Request body too large', type: 'invalid_request_error', param: null, code: null },
      });
    },
  );
});

test('an error body carries message, type and code, with its length', async () => {
  await withServer(
    (_req, res) => sendError(res, 429, 'slow down', 'rate_limit_error', 'rate_limit_exceeded'),
    async (url) => {
      const res = await fetch(url);
      const text = await res.text();
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)));
      assert.deepEqual(JSON.parse(text), {
        error: { message: 'slow down', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
      });
    },
  );
});

test('endAndClose: the response arrives whole, then the connection is closed and marked', async () => {
  const closer = new SocketCloser(0);
  let marked = false;
  await withServer(
    (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      closer.endAndClose(res, 'all of it');
      marked = closer.has(req.socket);
    },
    async (url) => {
      // A keep-alive client: any close comes from the server.
      const agent = new Agent({ keepAlive: true });
      const { body, closed } = await new Promise<{ body: string; closed: boolean }>((resolve, reject) => {
        const req = request(url, { agent }, (res) => {
          const socket = res.socket;
          const closing = new Promise<boolean>((done) => {
            socket.once('close', () => done(true));
            setTimeout(() => done(false), 2000).unref();
          });
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => void closing.then((closed) => resolve({ body: text, closed })));
        });
        req.on('error', reject);
        req.end();
      });
      agent.destroy();
      assert.equal(body, 'all of it');
      assert.equal(closed, true);
      assert.equal(marked, true);
    },
  );
});
