/**
 * Tests of how requests get their connections: connect and pool-wait times against
 * what a node:http server on loopback saw (connections accepted, requests per
 * connection), the single retry of a request whose reused connection the server
 * closed before answering, the cases that must not be retried, and the switch to a
 * connection per request once an origin is seen closing connections after responses.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { nowUs } from '../base/clock.js';
import type { RequestRecord } from '../metrics/record.js';
import type { Backend, BackendOptions } from './backend.js';
import { createBackend } from './openai.js';

const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const c of open.reverse()) await c.close();
});

const STREAM =
  'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n' +
  'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n' +
  'data: [DONE]\n\n';

/** What the server saw: connections accepted, and each request's connection header and ordinal on its connection. */
interface Seen {
  connections: number;
  requests: { connection: string; nth: number }[];
}

/**
 * A server whose answer to the nth request (1-based) on a connection is `respond`'s;
 * the default answers a short stream at once.
 */
async function server(
  respond: (res: ServerResponse, nth: number, socket: Socket) => void = (res) => answer(res),
): Promise<{ url: string; seen: Seen }> {
  const seen: Seen = { connections: 0, requests: [] };
  const counts = new WeakMap<Socket, number>();
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    const nth = (counts.get(req.socket) ?? 0) + 1;
    counts.set(req.socket, nth);
    seen.requests.push({ connection: String(req.headers.connection), nth });
    req.resume();
    req.on('end', () => respond(res, nth, req.socket));
  });
  srv.keepAliveTimeout = 60_000;
  srv.on('connection', () => seen.connections++);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  open.push({
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  });
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen };
}

function answer(res: ServerResponse, delay_ms = 0): void {
  const send = (): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(STREAM);
  };
  if (delay_ms > 0) setTimeout(send, delay_ms);
  else send();
}

function backend(baseUrl: string, options: Partial<BackendOptions> = {}): Backend {
  const b = createBackend('openai-chat', {
    baseUrl,
    model: 'm',
    stream: true,
    requestTimeoutMs: 10_000,
    additionalParams: {},
    forceOutputLength: false,
    connections: 1,
    countTokens: (text) => text.split(/\s+/).filter(Boolean).length,
    ...options,
  });
  open.push(b);
  return b;
}

let seq = 0;
function send(b: Backend): Promise<RequestRecord> {
  const i = seq++;
  return b.send(
    { index: i, prompt: 'hello there world', input_tokens: 3, max_tokens: 4 },
    {
      request_id: `0-${i}`,
      iteration: 0,
      index: i,
      phase: 'measured',
      scheduled_at_us: nowUs(),
      signal: new AbortController().signal,
    },
  );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('a request that opened a connection records its connect time; one that reused it records 0', async () => {
  const { url, seen } = await server();
  const b = backend(url);
  const first = await send(b);
  const second = await send(b);
  assert.equal(first.status, 'ok');
  assert.equal(second.status, 'ok');
  // The server accepted one connection and served both requests on it.
  assert.equal(seen.connections, 1);
  assert.deepEqual(
    seen.requests.map((r) => r.nth),
    [1, 2],
  );
  assert.ok(first.connect_us > 0, `connect_us ${first.connect_us}`);
  assert.ok(first.pool_wait_us >= first.connect_us, 'the wait for a connection includes connecting');
  assert.equal(second.connect_us, 0);
  assert.ok(second.pool_wait_us >= 0);
  for (const r of [first, second]) {
    assert.equal(r.retries, 0);
    assert.equal(r.first_error, null);
  }
});

test('more requests than connections: each waits for the one before it (pool_wait_us), then is sent', async () => {
  const { url, seen } = await server((res) => answer(res, 30));
  const b = backend(url, { connections: 1 });
  const records = await Promise.all([send(b), send(b), send(b)]);
  assert.ok(records.every((r) => r.status === 'ok'));
  assert.equal(seen.connections, 1);
  const [r1, r2, r3] = records as [RequestRecord, RequestRecord, RequestRecord];
  // All three were handed to the pool in one tick, before the first connected; each
  // later one got the connection only once the one before had finished with it.
  const dispatched2 = r2.sent_at_us - r2.pool_wait_us;
  const dispatched3 = r3.sent_at_us - r3.pool_wait_us;
  assert.ok(dispatched2 <= r1.sent_at_us && dispatched3 <= r1.sent_at_us);
  assert.ok(r2.sent_at_us >= (r1.done_at_us as number), 'r2 sent after r1 ended');
  assert.ok(r3.sent_at_us >= (r2.done_at_us as number), 'r3 sent after r2 ended');
  assert.ok(r2.pool_wait_us >= (r1.done_at_us as number) - r1.sent_at_us, `r2 waited ${r2.pool_wait_us} µs`);
  assert.ok(r3.pool_wait_us >= (r2.done_at_us as number) - r1.sent_at_us, `r3 waited ${r3.pool_wait_us} µs`);
  assert.equal(r2.connect_us, 0);
  assert.equal(r3.connect_us, 0);
});

test('a reused connection closed before any response byte: retried once on a new connection, and recorded', async () => {
  // Like a server closing after each response, made certain: the second request on a
  // connection is read and dropped, the connection closed without a response byte.
  let dropped_at_us = 0;
  const { url, seen } = await server((res, nth, socket) => {
    if (nth === 1) return answer(res);
    dropped_at_us = nowUs();
    socket.destroy();
  });
  const b = backend(url);
  const first = await send(b);
  const second = await send(b);
  assert.equal(first.status, 'ok');
  assert.equal(second.status, 'ok', String(second.error_message));
  assert.equal(second.retries, 1);
  assert.match(String(second.first_error), /UND_ERR_SOCKET|ECONNRESET|EPIPE/);
  assert.ok(second.connect_us > 0, 'the retry opened a connection of its own');
  // The stamps are the retry's: it was sent after the first try was dropped; scheduled_at stays.
  assert.ok(second.sent_at_us > dropped_at_us && dropped_at_us > second.scheduled_at_us);
  assert.equal(second.output_tokens, 1);
  // The server: request 2 arrived on connection 1 and was dropped, its retry came on connection 2.
  assert.equal(seen.connections, 2);
  assert.deepEqual(
    seen.requests.map((r) => r.nth),
    [1, 2, 1],
  );
  assert.equal(seen.requests[2]?.connection, 'close', 'the retry asked for its connection to be closed');
  // The origin closes connections: later requests get one each, never retried.
  const third = await send(b);
  assert.equal(third.status, 'ok');
  assert.equal(third.retries, 0);
  assert.ok(third.connect_us > 0);
  assert.equal(seen.connections, 3);
  assert.equal(seen.requests[3]?.connection, 'close');
});

test('not retried: a failure on a new connection, and a failure after response bytes', async () => {
  // Every request on a new connection is dropped: nothing reused, nothing to retry.
  const dropAll = await server((_res, _nth, socket) => socket.destroy());
  const r = await send(backend(dropAll.url));
  assert.equal(r.status, 'error');
  assert.equal(r.error_class, 'connection');
  assert.equal(r.retries, 0);
  assert.equal(r.first_error, null);
  assert.ok(r.connect_us > 0);
  assert.equal(dropAll.seen.requests.length, 1);

  // The second request on a connection gets headers and one event, then the connection is cut.
  const cut = await server((res, nth, socket) => {
    if (nth === 1) return answer(res);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n', () => socket.destroy());
  });
  const b = backend(cut.url);
  assert.equal((await send(b)).status, 'ok');
  const cutShort = await send(b);
  assert.equal(cutShort.status, 'error');
  assert.equal(cutShort.error_class, 'connection');
  assert.equal(cutShort.retries, 0);
  assert.notEqual(cutShort.headers_at_us, null);
  assert.equal(cut.seen.requests.length, 2, 'the server saw the request once');
  // A response cut short is no sign of an origin closing after responses: the next request
  // opens a connection (the last one is gone) and asks to keep it.
  const next = await send(b);
  assert.equal(next.status, 'ok');
  assert.equal(cut.seen.requests[2]?.connection, 'keep-alive');
});

test('an origin that closes after each response gets a connection per request, without a failed try', async () => {
  // llama-server's behaviour: keep-alive in the headers, the socket closed once the response is out.
  const { url, seen } = await server((res, _nth, socket) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(STREAM, () => socket.destroy());
  });
  const b = backend(url, { connections: 2 });
  const first = await send(b);
  // Time for the close to arrive; the next requests are sent after the client has seen it.
  await sleep(50);
  const rest = [await send(b), await send(b), await send(b)];
  assert.ok([first, ...rest].every((r) => r.status === 'ok' && r.retries === 0 && r.connect_us > 0));
  assert.equal(seen.connections, 4);
  assert.deepEqual(
    seen.requests.map((r) => r.connection),
    ['keep-alive', 'close', 'close', 'close'],
  );
});

test('an origin that closes idle connections (an idle timeout shorter than undici’s) keeps getting reused ones', async () => {
  // The server ends a connection 300 ms after its response, while it sits idle: an idle
  // timeout, not a close after each response (which comes at once), so no switch follows.
  const { url, seen } = await server((res, _nth, socket) => {
    answer(res);
    setTimeout(() => socket.destroy(), 300).unref();
  });
  const b = backend(url);
  assert.equal((await send(b)).status, 'ok');
  await sleep(700);
  const [second, third] = [await send(b), await send(b)];
  assert.ok(second.connect_us > 0, 'the idle connection was closed: a new one');
  assert.equal(third.connect_us, 0, 'and that one is reused');
  assert.deepEqual(
    seen.requests.map((r) => r.connection),
    ['keep-alive', 'keep-alive', 'keep-alive'],
  );
});
