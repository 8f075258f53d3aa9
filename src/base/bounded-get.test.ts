/**
 * The bounded GET against a real loopback server that misbehaves in each way it is bounded
 * against: an error status whose page never ends (dropped unread, and the process lives), a
 * body past the cap, a body that trickles past the deadline, and a refused connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { boundedGet } from './bounded-get.js';

const CHUNK = Buffer.alloc(64 * 1024, 'x');

/** Writes `chunk` every `everyMs` until the client leaves or `maxChunks` went out. */
function pour(res: ServerResponse, maxChunks: number, everyMs: number, chunk: Buffer = CHUNK): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed || sent++ >= maxChunks) {
      clearInterval(timer);
      res.end();
      return;
    }
    res.write(chunk);
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}

test('each bound ends the exchange with its reason, and nothing escapes as an error', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/ok') return void res.end('hello');
    if (req.url === '/error-page') {
      res.writeHead(503, { 'content-type': 'text/html' });
      return pour(res, 1000, 1);
    }
    res.writeHead(200);
    if (req.url === '/huge') return pour(res, 1000, 0);
    if (req.url === '/trickle') return pour(res, 1000, 50, Buffer.from('x'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const limits = { timeoutMs: 400, maxBytes: 256 * 1024 };
    const ok = await boundedGet(`${base}/ok`, {}, limits);
    assert.deepEqual(ok, { ok: true, text: 'hello', bytes: 5 });

    const page = await boundedGet(`${base}/error-page`, {}, limits);
    assert.deepEqual([page.ok, !page.ok && page.why, !page.ok && page.status], [false, 'status', 503]);
    // Dropping an unread body may emit 'error' on it after the return: the process must go on.
    await new Promise((resolve) => setTimeout(resolve, 50));

    const huge = await boundedGet(`${base}/huge`, {}, limits);
    assert.ok(!huge.ok && huge.why === 'size', JSON.stringify(huge));
    assert.ok(huge.bytes > limits.maxBytes && huge.bytes <= limits.maxBytes + CHUNK.length);

    const started = performance.now();
    const slow = await boundedGet(`${base}/trickle`, {}, limits);
    const elapsed_ms = performance.now() - started;
    assert.ok(!slow.ok && slow.why === 'time', JSON.stringify(slow));
    assert.match(slow.ok ? '' : slow.reason, /no complete answer within 400 ms/);
    assert.ok(elapsed_ms < 3_000, `${elapsed_ms} ms`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  const refused = await boundedGet(base, {}, { timeoutMs: 1_000, maxBytes: 1024 });
  assert.ok(!refused.ok && refused.why === 'network', JSON.stringify(refused));
  // ECONNREFUSED, or the close of a pooled socket to the origin that just went away.
  assert.match(refused.ok ? '' : refused.reason, /ECONNREFUSED|UND_ERR_SOCKET/);
});
