/**
 * Hostile servers for the Cohere and OCI formats: a raw node:http server on 127.0.0.1,
 * started here, answers each request with one misbehaviour (chosen by its `x-request-id`):
 * content events without end, text past max_tokens, a 16 MB SSE line, a stream that never
 * sends its end event, impossible usage numbers, an error finish, events that are not
 * JSON, a whole body without end, error statuses. Each request must end in bounded time,
 * recorded in its class, exactly as the OpenAI adapter records the same misbehaviour.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestRecord } from '../metrics/record.js';
import type { WorkItem } from '../workload/work-item.js';
import type { Backend, BackendKind, BackendOptions } from './backend.js';
import { createBackend } from './registry.js';
import { makeOciConfig, type OciTestConfig } from './testing/oci-config.js';

/** Output tokens asked: the bounds are 4 × 50 + 64 = 264 events and 32 × 50 + 4096 = 5696 characters. */
const MAX_TOKENS = 50;
/** No server loop runs longer than this, whatever the client does. */
const SERVER_LOOP_MAX_MS = 15_000;
/** Every request ends well within this. */
const REQUEST_MAX_MS = 10_000;

type Writer = (res: ServerResponse) => void;

const sse = (data: string, type?: string): string => `${type ? `event: ${type}\n` : ''}data: ${data}\n\n`;
const cohereDelta = (text: string): string =>
  sse(
    JSON.stringify({ type: 'content-delta', index: 0, delta: { message: { content: { text } } } }),
    'content-delta',
  );
const cohereEnd = (usage: unknown, finish = 'COMPLETE'): string =>
  sse(JSON.stringify({ type: 'message-end', delta: { finish_reason: finish, usage } }), 'message-end');
const ociText = (text: string): string => sse(JSON.stringify({ apiFormat: 'COHERE', text }));

/** Writes `next()` until it returns null, the client goes away, or the loop's time is up. */
function pump(res: ServerResponse, next: () => string | null): void {
  const deadline = Date.now() + SERVER_LOOP_MAX_MS;
  let closed = false;
  res.on('close', () => (closed = true));
  const step = (): void => {
    while (!closed && Date.now() < deadline) {
      const chunk = next();
      if (chunk === null) {
        res.end();
        return;
      }
      if (!res.write(chunk)) {
        res.once('drain', step);
        return;
      }
    }
    if (!closed) res.destroy();
  };
  step();
}

function stream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
}

function events(list: string[]): Writer {
  return (res) => {
    stream(res);
    res.end(list.join(''));
  };
}

const forever =
  (event: string): Writer =>
  (res) => {
    stream(res);
    pump(res, () => event);
  };

/** Mode → what the server does, and what the record must say: [status, error class, message]. */
const MODES: Record<string, [Writer, string, string | null, RegExp | null]> = {
  'cohere-normal': [
    events([
      cohereDelta(' hello'),
      cohereDelta(' world'),
      cohereEnd({ tokens: { input_tokens: 4, output_tokens: 2 } }),
    ]),
    'ok',
    null,
    null,
  ],
  'cohere-events-forever': [forever(cohereDelta(' a')), 'error', 'oversize', /more than 264 stream events/],
  'cohere-text-past-max-tokens': [
    forever(cohereDelta(' word'.repeat(300))),
    'error',
    'oversize',
    /more than 5696 characters/,
  ],
  'cohere-line-16mb': [
    (res) => {
      stream(res);
      let sent = 0;
      pump(res, () =>
        sent++ === 0 ? 'data: {"type":"content-delta","x":"' : sent < 256 ? 'x'.repeat(65536) : null,
      );
    },
    'error',
    'oversize',
    /SSE line longer than 1048576 bytes/,
  ],
  'cohere-no-end': [
    events([cohereDelta(' a'), cohereDelta(' b')]),
    'error',
    'protocol',
    /stream ended without message-end/,
  ],
  'cohere-usage-infinity': [
    events([
      cohereDelta(' a'),
      sse('{"type":"message-end","delta":{"usage":{"tokens":{"input_tokens":3,"output_tokens":1e400}}}}'),
    ]),
    'error',
    'protocol',
    /usage\.tokens\.output_tokens is Infinity/,
  ],
  'cohere-usage-too-many': [
    events([cohereDelta(' a'), cohereEnd({ tokens: { input_tokens: 3, output_tokens: 1_000_000 } })]),
    'error',
    'protocol',
    /usage\.completion_tokens is 1000000, more than 264/,
  ],
  'cohere-finish-error': [
    events([cohereDelta(' a'), cohereEnd({}, 'ERROR')]),
    'error',
    'protocol',
    /error event/,
  ],
  'cohere-not-json': [events([sse('nope')]), 'error', 'protocol', /unparseable stream event: nope/],
  'cohere-json-forever': [
    (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      let sent = 0;
      pump(res, () => (sent++ === 0 ? '{"message":{"content":[{"type":"text","text":"' : 'x'.repeat(65536)));
    },
    'error',
    'oversize',
    /response body longer than \d+ bytes/,
  ],
  'cohere-500': [
    (res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"boom"}'),
    'error',
    'http_5xx',
    /^HTTP 500: boom$/,
  ],
  'rerank-no-results': [
    (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"usage":{"total_tokens":5}}'),
    'error',
    'protocol',
    /rerank response without a results list/,
  ],
  'rerank-usage-1e23': [
    (res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"results":[],"usage":{"total_tokens":1e23}}'),
    'error',
    'protocol',
    /usage\.total_tokens is 1e\+23/,
  ],
  'embed-no-embeddings': [
    (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"meta":{}}'),
    'error',
    'protocol',
    /embed response without embeddings/,
  ],
  'oci-normal': [
    events([
      ociText(' one'),
      ociText(' two'),
      sse('{"apiFormat":"COHERE","text":" one two","finishReason":"COMPLETE"}'),
    ]),
    'ok',
    null,
    null,
  ],
  'oci-events-forever': [forever(ociText(' a')), 'error', 'oversize', /more than 264 stream events/],
  'oci-text-past-max-tokens': [
    forever(ociText(' word'.repeat(300))),
    'error',
    'oversize',
    /more than 5696 characters/,
  ],
  'oci-final-2mb': [
    events([
      ociText(' a'),
      sse(`{"apiFormat":"COHERE","text":"${'x'.repeat(2 * 1024 * 1024)}","finishReason":"COMPLETE"}`),
    ]),
    'error',
    'oversize',
    /SSE line longer than 1048576 bytes/,
  ],
  'oci-no-finish': [events([ociText(' a')]), 'error', 'protocol', /stream ended without finishReason/],
  'oci-usage-negative': [
    events([
      ociText(' a'),
      sse('{"apiFormat":"COHERE","finishReason":"COMPLETE","usage":{"completionTokens":-3}}'),
    ]),
    'error',
    'protocol',
    /usage\.completionTokens is -3/,
  ],
  'oci-401': [
    (res) =>
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"code":"NotAuthenticated","message":"bad signature"}'),
    'error',
    'http_4xx',
    /^HTTP 401: bad signature$/,
  ],
};

let server: Server;
let baseUrl = '';
let oci: OciTestConfig;
const open: Backend[] = [];

before(async () => {
  oci = await makeOciConfig();
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const mode = String(req.headers['x-request-id'] ?? '');
      const entry = MODES[mode];
      if (entry === undefined) res.writeHead(404).end();
      else entry[0](res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const b of open) await b.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await oci.remove();
});

async function backend(kind: BackendKind, options: Partial<BackendOptions> = {}): Promise<Backend> {
  const b = createBackend(kind, {
    baseUrl,
    model: 'm',
    stream: true,
    requestTimeoutMs: REQUEST_MAX_MS * 2,
    additionalParams: {},
    forceOutputLength: false,
    connections: 4,
    countTokens: (text) => text.split(/\s+/).filter(Boolean).length,
    oci: { auth: 'config-file', configFile: oci.configFile, compartmentId: 'c' },
    ...options,
  });
  open.push(b);
  await b.prepare?.();
  return b;
}

const item: WorkItem = { index: 0, prompt: 'hi', input_tokens: 1, max_tokens: MAX_TOKENS };

function send(b: Backend, mode: string): Promise<RequestRecord> {
  return b.send(item, {
    request_id: mode,
    iteration: 0,
    index: 0,
    phase: 'measured',
    scheduled_at_us: 0,
    signal: new AbortController().signal,
  });
}

for (const [kind, prefix] of [
  ['cohere-chat', 'cohere-'],
  ['oci-cohere-chat', 'oci-'],
] as const) {
  test(`${kind}: every misbehaviour is bounded and classified`, { timeout: 60_000 }, async () => {
    const streamed = await backend(kind);
    const whole = await backend(kind, { stream: false });
    const modes = Object.keys(MODES).filter((m) => m.startsWith(prefix));
    const results = await Promise.all(
      modes.map(async (mode) => {
        const t0 = Date.now();
        const r = await send(mode.endsWith('json-forever') ? whole : streamed, mode);
        return { mode, r, ms: Date.now() - t0 };
      }),
    );
    for (const { mode, r, ms } of results) {
      const [, status, errorClass, message] = MODES[mode] as [Writer, string, string | null, RegExp | null];
      assert.equal(r.status, status, `${mode}: ${r.error_message}`);
      assert.equal(r.error_class, errorClass, `${mode}: ${r.error_message}`);
      if (message !== null) assert.match(r.error_message ?? '', message, mode);
      assert.ok(ms < REQUEST_MAX_MS, `${mode} took ${ms} ms`);
      assert.ok((r.error_message ?? '').length <= 300, mode);
    }
    const normal = results.find((x) => x.mode.endsWith('normal'))?.r as RequestRecord;
    assert.equal(normal.chunk_times_us.length, 2, 'the final event repeats text but is not counted');
  });
}

test('rerank and embed answers that are not what they claim are protocol errors', async () => {
  const rerankItem: WorkItem = { ...item, query: 'q', documents: ['a', 'b'], max_tokens: 0 };
  const openai = await backend('openai-embeddings');
  const cohere = await backend('cohere-embed');
  for (const mode of ['rerank-no-results', 'rerank-usage-1e23']) {
    for (const b of [openai, cohere]) {
      const r = await b.send(rerankItem, {
        request_id: mode,
        iteration: 0,
        index: 0,
        phase: 'measured',
        scheduled_at_us: 0,
        signal: new AbortController().signal,
      });
      const [, status, errorClass, message] = MODES[mode] as [Writer, string, string | null, RegExp];
      assert.deepEqual(
        [r.status, r.error_class],
        [status, errorClass],
        `${b.kind} ${mode}: ${r.error_message}`,
      );
      assert.match(r.error_message ?? '', message);
    }
  }
  const embed = await send(cohere, 'embed-no-embeddings');
  assert.deepEqual(
    [embed.error_class, embed.error_message],
    ['protocol', 'embed response without embeddings'],
  );
});
