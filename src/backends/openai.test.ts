/**
 * Tests of the OpenAI adapters against real HTTP servers on loopback: the
 * project's simulator for ordinary streams and injected faults, and a tiny
 * node:http server that writes chosen bytes for the edge cases.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../sim/server.js';
import { writesById } from '../sim/write-log.js';
import type { RequestRecord } from '../metrics/record.js';
import type { WorkItem } from '../workload/work-item.js';
import { traceIdFor } from '../base/trace-id.js';
import type { Backend, BackendKind, BackendOptions } from './backend.js';
import { buildRequestBody, createBackend } from './openai.js';

const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const c of open.reverse()) await c.close();
});

async function sim(options: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle> {
  const s = await startSimulator({ ttftMs: 5, itlMs: 1, itlJitterMs: 0, ttftPerInputTokenMs: 0, ...options });
  open.push(s);
  return s;
}

function backend(kind: BackendKind, baseUrl: string, options: Partial<BackendOptions> = {}): Backend {
  const b = createBackend(kind, {
    baseUrl,
    model: 'test-model',
    stream: true,
    requestTimeoutMs: 10_000,
    additionalParams: {},
    forceOutputLength: true,
    connections: 4,
    countTokens: (text) => text.split(/\s+/).filter(Boolean).length,
    ...options,
  });
  open.push(b);
  return b;
}

const item = (over: Partial<WorkItem> = {}): WorkItem => ({
  index: 0,
  prompt: 'hello there world',
  input_tokens: 3,
  max_tokens: 12,
  ...over,
});

let seq = 0;
function send(b: Backend, it: WorkItem = item(), signal: AbortSignal = new AbortController().signal) {
  const i = seq++;
  return b.send(it, {
    request_id: `0-${i}`,
    iteration: 0,
    index: i,
    phase: 'measured',
    scheduled_at_us: 0,
    signal,
  });
}

/** The stamps of a completed stream are ordered as METRICS.md says. */
function assertOrdered(r: RequestRecord): void {
  const { sent_at_us, headers_at_us, first_token_at_us, first_output_at_us, last_token_at_us, done_at_us } =
    r;
  assert.ok(
    headers_at_us !== null && first_token_at_us !== null && last_token_at_us !== null && done_at_us !== null,
  );
  assert.ok(
    sent_at_us <= headers_at_us && headers_at_us <= first_token_at_us,
    'sent <= headers <= first token',
  );
  assert.ok(first_output_at_us === null || first_token_at_us <= first_output_at_us);
  assert.ok(first_token_at_us <= last_token_at_us && last_token_at_us <= done_at_us);
  for (let i = 1; i < r.chunk_times_us.length; i++) {
    assert.ok((r.chunk_times_us[i - 1] as number) <= (r.chunk_times_us[i] as number));
  }
  assert.equal(r.chunk_times_us[0], first_token_at_us);
  assert.equal(r.chunk_times_us.at(-1), last_token_at_us);
}

// ------------------------------------------------------------- a byte-exact server

interface Seen {
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  url: string;
}

/** A loopback server whose handler writes exactly what a test wants. */
async function bytes(
  handler: (res: ServerResponse, seen: Seen) => void | Promise<void>,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      const s = {
        headers: req.headers,
        body: JSON.parse(text || '{}') as Record<string, unknown>,
        url: req.url ?? '',
      };
      seen.push(s);
      void handler(res, s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const sse = (res: ServerResponse, text: string): void => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(text);
};
const ev = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;
const delta = (d: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ev({
    id: 'c',
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta: d, finish_reason: null }],
    ...extra,
  });

// ------------------------------------------------------------- simulator: ordinary traffic

test('chat stream: server usage, one token per event, stamps in order', async () => {
  const s = await sim();
  const r = await send(backend('openai-chat', s.url));
  assert.equal(r.status, 'ok', r.error_message ?? '');
  assert.equal(r.http_status, 200);
  assert.equal(r.output_tokens, 12);
  assert.equal(r.output_tokens_source, 'server');
  assert.equal(r.input_tokens_source, 'server');
  assert.equal(r.chunk_times_us.length, 12);
  assert.deepEqual(r.chunk_tokens, new Array(12).fill(1));
  assert.ok(r.output_chars > 0);
  assert.equal(r.first_token_at_us, r.first_output_at_us);
  assertOrdered(r);
  assert.equal(s.stats().completed, 1);
});

test('chat stream with reasoning: first token before first output', async () => {
  const s = await sim({ reasoningTokens: 4 });
  const r = await send(backend('openai-chat', s.url));
  assert.equal(r.status, 'ok', r.error_message ?? '');
  assert.equal(r.chunk_times_us.length, 12);
  assert.equal(r.first_token_at_us, r.chunk_times_us[0]);
  assert.equal(r.first_output_at_us, r.chunk_times_us[4]);
  assertOrdered(r);
});

test('multi-token chunks: chunk_tokens from the tokenizer when usage disagrees with the event count', async () => {
  const s = await sim({ tokensPerChunk: 3 });
  const r = await send(
    backend('openai-chat', s.url, { countTokens: (t) => (t === '' ? 0 : 3) }),
    item({ max_tokens: 12 }),
  );
  assert.equal(r.status, 'ok', r.error_message ?? '');
  assert.equal(r.output_tokens, 12);
  assert.equal(r.chunk_times_us.length, 4);
  assert.deepEqual(r.chunk_tokens, [3, 3, 3, 3]);
});

test('completions stream and non-streamed chat/completions', async () => {
  const s = await sim();
  const c = await send(backend('openai-completions', s.url));
  assert.equal(c.status, 'ok', c.error_message ?? '');
  assert.equal(c.chunk_times_us.length, 12);
  assertOrdered(c);
  for (const kind of ['openai-chat', 'openai-completions'] as const) {
    const r = await send(backend(kind, s.url, { stream: false }));
    assert.equal(r.status, 'ok', r.error_message ?? '');
    assert.equal(r.output_tokens, 12);
    assert.equal(r.output_tokens_source, 'server');
    assert.deepEqual(r.chunk_tokens, [12]);
    assert.equal(r.chunk_times_us.length, 1);
    assert.ok(r.first_token_at_us === r.last_token_at_us && r.last_token_at_us === r.done_at_us);
    assert.ok(r.output_chars > 0);
  }
});

test('embeddings: documents and rerank query + documents', async () => {
  const s = await sim();
  const b = backend('openai-embeddings', s.url, { stream: false });
  const e = await send(b, item({ documents: ['one doc', 'two docs here'], max_tokens: 0 }));
  assert.equal(e.status, 'ok', e.error_message ?? '');
  assert.equal(e.input_tokens_source, 'server');
  assert.ok(e.input_tokens > 0);
  assert.equal(e.output_tokens, 0);
  assert.notEqual(e.done_at_us, null);
  const r = await send(b, item({ query: 'q', documents: ['a', 'b'], max_tokens: 0 }));
  assert.equal(r.status, 'ok', r.error_message ?? '');
});

test('many concurrent streams through a small pool all complete', async () => {
  const s = await sim({ itlMs: 0, ttftMs: 0 });
  const b = backend('openai-chat', s.url, { connections: 8 });
  const records = await Promise.all(Array.from({ length: 64 }, () => send(b, item({ max_tokens: 50 }))));
  for (const r of records) {
    assert.equal(r.status, 'ok', r.error_message ?? '');
    assert.equal(r.chunk_times_us.length, 50);
  }
});

// ------------------------------------------------------------- simulator: faults

test('HTTP 5xx and 429 from the simulator', async () => {
  const e500 = await send(backend('openai-chat', (await sim({ errorRate: 1 })).url));
  assert.deepEqual([e500.status, e500.error_class, e500.http_status], ['error', 'http_5xx', 500]);
  assert.match(e500.error_message ?? '', /^HTTP 500/);
  const e429 = await send(backend('openai-chat', (await sim({ rate429: 1 })).url));
  assert.deepEqual([e429.status, e429.error_class, e429.http_status], ['error', 'http_429', 429]);
});

test('HTTP 4xx: unknown path', async () => {
  const s = await sim();
  const r = await send(backend('openai-chat', s.url, { path: '/v1/nowhere' }));
  assert.deepEqual([r.status, r.error_class, r.http_status], ['error', 'http_4xx', 404]);
  assert.match(r.error_message ?? '', /Not found/);
});

test('socket destroyed mid-stream: connection, stamps kept', async () => {
  const s = await sim({ disconnectRate: 1 });
  const r = await send(backend('openai-chat', s.url), item({ max_tokens: 40 }));
  assert.equal(r.status, 'error');
  assert.equal(r.error_class, 'connection');
  assert.notEqual(r.headers_at_us, null);
  assert.ok(r.chunk_times_us.length < 40);
});

test('malformed event mid-stream: protocol', async () => {
  const s = await sim({ malformedRate: 1 });
  const r = await send(backend('openai-chat', s.url), item({ max_tokens: 40 }));
  assert.equal(r.error_class, 'protocol');
  assert.match(r.error_message ?? '', /unparseable/);
});

/**
 * A request cut short keeps the stamps of what it read: against the server's write log
 * (this process's simulator, so one clock), never more events than the server wrote, and
 * at least one when the server wrote one 50 ms or more before the request ended.
 */
function assertStampsKept(s: SimulatorHandle, r: RequestRecord): void {
  const writes = writesById(s.writeLog() ?? assert.fail('the write log is on')).get(r.request_id);
  assert.ok(writes, `${r.request_id} is in the write log`);
  assert.ok(r.done_at_us !== null);
  const ended_ms = performance.timeOrigin + r.done_at_us / 1000;
  assert.ok(r.chunk_times_us.length <= writes.token_ms.length, JSON.stringify({ r, writes }));
  r.chunk_times_us.forEach((at_us, i) => {
    assert.ok(performance.timeOrigin + at_us / 1000 >= (writes.token_ms[i] as number) - 0.5, `chunk ${i}`);
  });
  const writtenWellBefore = writes.token_ms.filter((at_ms) => at_ms <= ended_ms - 50).length;
  assert.ok(r.chunk_times_us.length >= Math.min(1, writtenWellBefore), JSON.stringify({ r, writes }));
  assert.notEqual(writes.outcome, 'completed');
}

test('whole-request timeout during a stall: timeout, stamps kept', async () => {
  const s = await sim({ stallRate: 1, stallMs: 5000, writeLogRequests: 4 });
  const t0 = Date.now();
  const r = await send(backend('openai-chat', s.url, { requestTimeoutMs: 300 }), item({ max_tokens: 20 }));
  assert.equal(r.status, 'error');
  assert.equal(r.error_class, 'timeout');
  assert.ok(Date.now() - t0 < 3000);
  assertStampsKept(s, r);
});

test('cancel via signal mid-stream: cancelled, no error class, stamps kept', async () => {
  const s = await sim({ itlMs: 20, writeLogRequests: 4 });
  const ac = new AbortController();
  const pending = send(backend('openai-chat', s.url), item({ max_tokens: 100 }), ac.signal);
  setTimeout(() => ac.abort(), 150);
  const r = await pending;
  assert.equal(r.status, 'cancelled');
  assert.equal(r.error_class, null);
  assert.ok(r.chunk_times_us.length < 100);
  assertStampsKept(s, r);
});

test('cancel before sending and while queued for a connection', async () => {
  const s = await sim({ itlMs: 20 });
  const b = backend('openai-chat', s.url, { connections: 1 });
  const pre = new AbortController();
  pre.abort();
  assert.equal((await send(b, item(), pre.signal)).status, 'cancelled');
  const ac = new AbortController();
  const first = send(b, item({ max_tokens: 50 }), ac.signal);
  const queued = send(b, item({ max_tokens: 50 }), ac.signal);
  setTimeout(() => ac.abort(), 100);
  const [a, q] = await Promise.all([first, queued]);
  assert.equal(a.status, 'cancelled');
  assert.equal(q.status, 'cancelled');
  assert.equal(q.headers_at_us, null);
  // The backend still works after cancellations killed its socket.
  assert.equal((await send(b, item({ max_tokens: 3 }))).status, 'ok');
});

test('connection refused: connection', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const r = await send(backend('openai-chat', `http://127.0.0.1:${port}`));
  assert.equal(r.status, 'error');
  assert.equal(r.error_class, 'connection');
  assert.match(r.error_message ?? '', /ECONNREFUSED/);
});

// ------------------------------------------------------------- byte-exact edge cases

test('request body, headers and path: chat with images, force output length, params, auth', async () => {
  const srv = await bytes((res) => sse(res, delta({ content: 'x' }) + 'data: [DONE]\n\n'));
  const b = backend('openai-chat', `${srv.url}/prefix/`, {
    apiKey: 'sk-secret-key',
    headers: { 'x-extra': 'yes' },
    additionalParams: { temperature: 0, top_p: 0.5 },
  });
  await send(b, item({ images: ['data:image/png;base64,AAAA'] }));
  const seen = srv.seen[0] as Seen;
  assert.equal(seen.url, '/prefix/v1/chat/completions');
  assert.equal(seen.headers.authorization, 'Bearer sk-secret-key');
  assert.equal(seen.headers['x-extra'], 'yes');
  assert.match(String(seen.headers['x-request-id']), /^0-\d+$/);
  assert.equal(seen.headers['content-type'], 'application/json');
  assert.equal(seen.headers.traceparent, undefined, 'no trace id, no traceparent');
  assert.deepEqual(seen.body, {
    model: 'test-model',
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'hello there world' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ],
      },
    ],
    max_tokens: 12,
    stream: true,
    stream_options: { include_usage: true },
    ignore_eos: true,
    min_tokens: 12,
    temperature: 0,
    top_p: 0.5,
  });
});

test('request bodies of completions and embeddings, without forced length or streaming', () => {
  const opts = { model: 'm', stream: false, forceOutputLength: false, additionalParams: { seed: 1 } };
  assert.deepEqual(buildRequestBody('openai-completions', opts, item()), {
    model: 'm',
    prompt: 'hello there world',
    max_tokens: 12,
    stream: false,
    seed: 1,
  });
  assert.deepEqual(buildRequestBody('openai-embeddings', opts, item()), {
    model: 'm',
    input: 'hello there world',
    seed: 1,
  });
  assert.deepEqual(buildRequestBody('openai-embeddings', opts, item({ documents: ['a', 'b'] })).input, [
    'a',
    'b',
  ]);
  assert.deepEqual(
    buildRequestBody('openai-embeddings', opts, item({ query: 'q', documents: ['a'] })).input,
    ['q', 'a'],
  );
});

test('no usage: output tokens from the tokenizer; role-only, empty and null deltas are not tokens', async () => {
  const srv = await bytes((res) =>
    sse(
      res,
      ': comment\n\n' +
        delta({ role: 'assistant', content: '' }) +
        delta({ content: null }) +
        delta({}) +
        delta({ content: 'two words' }) +
        delta({ content: ' and three more' }) +
        delta({}, { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
        'data: [DONE]\n\n',
    ),
  );
  const r = await send(backend('openai-chat', srv.url));
  assert.equal(r.status, 'ok', r.error_message ?? '');
  assert.equal(r.chunk_times_us.length, 2);
  assert.equal(r.output_tokens_source, 'tokenizer');
  assert.equal(r.output_tokens, 5);
  assert.deepEqual(r.chunk_tokens, [2, 3]);
  assert.equal(r.input_tokens_source, 'workload');
  assert.equal(r.input_tokens, 3);
  assert.equal(r.output_chars, 'two words and three more'.length);
});

test('usage on the last choice chunk, reasoning field, reasoning_tokens; CRLF line ends', async () => {
  const srv = await bytes((res) =>
    sse(
      res,
      (
        delta({ reasoning: 'hmm' }) +
        delta({ content: 'a' }) +
        delta(
          { content: 'b' },
          {
            usage: {
              prompt_tokens: 9,
              completion_tokens: 3,
              completion_tokens_details: { reasoning_tokens: 1 },
            },
          },
        ) +
        'data: [DONE]\n\n'
      ).replace(/\n/g, '\r\n'),
    ),
  );
  const r = await send(backend('openai-chat', srv.url));
  assert.equal(r.status, 'ok', r.error_message ?? '');
  assert.deepEqual(
    [r.output_tokens, r.output_tokens_source, r.input_tokens, r.reasoning_tokens],
    [3, 'server', 9, 1],
  );
  assert.deepEqual(r.chunk_tokens, [1, 1, 1]);
  assert.ok((r.first_token_at_us as number) <= (r.first_output_at_us as number));
  assert.equal(r.first_output_at_us, r.chunk_times_us[1]);
});

test('events split across writes at awkward bytes', async () => {
  const text = delta({ content: '日本' }) + delta({ content: '🌍' }) + 'data: [DONE]\n\n';
  const all = Buffer.from(text);
  const srv = await bytes(async (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < all.length; i += 7) {
      res.write(all.subarray(i, i + 7));
      await new Promise((r) => setImmediate(r));
    }
    res.end();
  });
  const r = await send(backend('openai-chat', srv.url));
  assert.equal(r.status, 'ok', r.error_message ?? '');
  assert.equal(r.chunk_times_us.length, 2);
  assert.equal(r.output_chars, '日本🌍'.length);
});

test('stream that ends cleanly without [DONE]: protocol; error event in the stream: protocol', async () => {
  const noDone = await bytes((res) => sse(res, delta({ content: 'a' })));
  const r1 = await send(backend('openai-chat', noDone.url));
  assert.deepEqual([r1.status, r1.error_class], ['error', 'protocol']);
  assert.match(r1.error_message ?? '', /without \[DONE\]/);
  assert.equal(r1.chunk_times_us.length, 1);
  const errEvent = await bytes((res) =>
    sse(
      res,
      delta({ content: 'a' }) + ev({ error: { message: 'out of memory', code: 500 } }) + 'data: [DONE]\n\n',
    ),
  );
  const r2 = await send(backend('openai-chat', errEvent.url));
  assert.deepEqual([r2.status, r2.error_class], ['error', 'protocol']);
  assert.match(r2.error_message ?? '', /out of memory/);
  assert.equal(r2.chunk_times_us.length, 1);
});

test('JSON body when a stream was asked for is read as a non-streamed response', async () => {
  const srv = await bytes((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi there' } }],
        usage: { prompt_tokens: 2, completion_tokens: 2 },
      }),
    );
  });
  const r = await send(backend('openai-chat', srv.url));
  assert.equal(r.status, 'ok', r.error_message ?? '');
  assert.deepEqual([r.output_tokens, r.chunk_times_us.length], [2, 1]);
});

test('error bodies: message kept, API key never echoed', async () => {
  const srv = await bytes((res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ error: { message: 'Incorrect API key provided: sk-secret-key', type: 'auth' } }),
    );
  });
  const r = await send(backend('openai-chat', srv.url, { apiKey: 'sk-secret-key' }));
  assert.deepEqual([r.error_class, r.http_status], ['http_4xx', 401]);
  assert.ok(!(r.error_message ?? '').includes('sk-secret-key'), r.error_message ?? '');
  assert.match(r.error_message ?? '', /Incorrect API key/);
  const plain = await bytes((res) => {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('upstream busy');
  });
  const p = await send(backend('openai-chat', plain.url));
  assert.deepEqual([p.error_class, p.error_message], ['http_5xx', 'HTTP 503: upstream busy']);
});

test('a key that straddles the length limit of a message is still removed, in bodies and in stream errors', async () => {
  const key = 'sk-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const pieces = (text: string): string[] =>
    Array.from({ length: key.length - 7 }, (_, i) => key.slice(i, i + 8)).filter((p) => text.includes(p));
  for (const padding of [150, 170, 190, 250, 280, 295]) {
    const body = `${'x'.repeat(padding)} bad key ${key} and more text after it`;
    const plain = await bytes((res) => {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end(body);
    });
    const r = await send(backend('openai-chat', plain.url, { apiKey: key }));
    assert.equal(r.error_class, 'http_4xx');
    assert.deepEqual(pieces(r.error_message ?? ''), [], `padding ${padding}: ${r.error_message}`);
    const streamed = await bytes((res) =>
      sse(res, delta({ content: 'a' }) + ev({ error: { message: body } })),
    );
    const s = await send(backend('openai-chat', streamed.url, { apiKey: key }));
    assert.equal(s.error_class, 'protocol');
    assert.deepEqual(pieces(s.error_message ?? ''), [], `stream, padding ${padding}: ${s.error_message}`);
  }
});

test('timeout before headers and while queued behind a slow request', async () => {
  const srv = await bytes(() => {
    // never answer
  });
  const b = backend('openai-chat', srv.url, { requestTimeoutMs: 200, connections: 1 });
  const [a, q] = await Promise.all([send(b), send(b)]);
  assert.deepEqual([a.status, a.error_class, a.headers_at_us], ['error', 'timeout', null]);
  assert.deepEqual([q.status, q.error_class], ['error', 'timeout']);
});

test('server closes the socket mid-stream without a terminating chunk: connection', async () => {
  const srv = await bytes((res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(delta({ content: 'a' }));
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const r = await send(backend('openai-chat', srv.url));
  assert.deepEqual([r.status, r.error_class, r.chunk_times_us.length], ['error', 'connection', 1]);
});

test('a request sends its request_id as x-request-id and its trace id in a W3C traceparent, and records both', async () => {
  const srv = await bytes((res) => sse(res, delta({ content: 'x' }) + 'data: [DONE]\n\n'));
  const b = backend('openai-chat', srv.url);
  const traceId = traceIdFor('0190a5f2-7c3e-7a11-9d4b-2f6e8c1a3b5d', 2, 17);
  const record = await b.send(item(), {
    request_id: '2-17',
    trace_id: traceId,
    iteration: 2,
    index: 17,
    phase: 'measured',
    scheduled_at_us: 0,
    signal: new AbortController().signal,
  });
  assert.equal(traceId, '9d4b2f6e8c1a3b5d0002000000000011');
  const seen = srv.seen[0] as Seen;
  assert.equal(seen.headers['x-request-id'], '2-17');
  assert.equal(seen.headers.traceparent, `00-${traceId}-0000000000000012-01`);
  assert.equal(record.trace_id, traceId);
  assert.equal(record.request_id, '2-17');
});

test('cached_tokens: from the streamed usage chunk and a whole body; null when absent; more than the prompt is a protocol error', async () => {
  const usage = (cached: unknown) => ({
    prompt_tokens: 300,
    completion_tokens: 1,
    total_tokens: 301,
    ...(cached === undefined
      ? {}
      : { prompt_tokens_details: cached === null ? null : { cached_tokens: cached } }),
  });
  const streamed = async (cached: unknown) => {
    const srv = await bytes((res) =>
      sse(
        res,
        delta({ content: 'a' }) + ev({ id: 'c', choices: [], usage: usage(cached) }) + 'data: [DONE]\n\n',
      ),
    );
    return send(backend('openai-chat', srv.url));
  };
  const hit = await streamed(256);
  assert.deepEqual([hit.status, hit.cached_tokens, hit.input_tokens], ['ok', 256, 300]);
  assert.equal((await streamed(undefined)).cached_tokens, null);
  assert.equal((await streamed(null)).cached_tokens, null);
  const over = await streamed(301);
  assert.deepEqual([over.status, over.error_class], ['error', 'protocol']);
  assert.match(over.error_message ?? '', /cached_tokens is 301, more than prompt_tokens 300/);
  const negative = await streamed(-5);
  assert.deepEqual([negative.status, negative.error_class], ['error', 'protocol']);
  const whole = await bytes((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'c',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'a' }, finish_reason: 'stop' }],
        usage: usage(128),
      }),
    );
  });
  const body = await send(backend('openai-chat', whole.url, { stream: false }));
  assert.deepEqual([body.status, body.cached_tokens], ['ok', 128]);
});
