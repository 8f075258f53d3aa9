/**
 * The API formats against the real simulator on 127.0.0.1: Cohere v2 (chat streamed and
 * whole, embed, rerank), OpenAI-compatible rerank (`/v1/rerank`), and OCI Generative AI's
 * Cohere chat and embed with signed requests. Per format, the client's TTFT is checked
 * against the simulator's write log for that very request, and the token counts against
 * what the simulator counted; OCI requests verify against the simulator's public key, and a
 * request signed with another key is refused (401, http_4xx).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { RequestRecord } from '../metrics/record.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../sim/server.js';
import { writesById } from '../sim/write-log.js';
import type { WorkItem } from '../workload/work-item.js';
import type { Backend, BackendKind, BackendOptions } from './backend.js';
import { createBackend } from './registry.js';
import { resolveApiKey } from './api-key.js';
import { makeOciConfig, type OciTestConfig } from './testing/oci-config.js';

/** Room a loaded 2-core host needs between the server's write and the client's read. */
const DELIVERY_SLACK_MS = 1000;

const open: { close(): Promise<void> }[] = [];
let oci: OciTestConfig;
let otherKey: OciTestConfig;
before(async () => {
  oci = await makeOciConfig();
  otherKey = await makeOciConfig();
});
after(async () => {
  for (const c of open.reverse()) await c.close();
  await oci.remove();
  await otherKey.remove();
});

async function sim(options: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle> {
  const s = await startSimulator({
    ttftMs: 30,
    itlMs: 2,
    itlJitterMs: 0,
    ttftPerInputTokenMs: 0,
    writeLogRequests: 64,
    ...options,
  });
  open.push(s);
  return s;
}

async function backend(
  kind: BackendKind,
  baseUrl: string,
  options: Partial<BackendOptions> = {},
): Promise<Backend> {
  const b = createBackend(kind, {
    baseUrl,
    model: 'test-model',
    stream: true,
    requestTimeoutMs: 10_000,
    additionalParams: {},
    forceOutputLength: true,
    connections: 2,
    countTokens: (text) => text.split(/\s+/).filter(Boolean).length,
    ...options,
  });
  open.push(b);
  await b.prepare?.();
  return b;
}

const chatItem = (over: Partial<WorkItem> = {}): WorkItem => ({
  index: 0,
  prompt: 'hello there world',
  input_tokens: 3,
  max_tokens: 12,
  ...over,
});
const embedItem: WorkItem = {
  index: 0,
  prompt: 'alpha beta',
  documents: ['alpha beta', 'gamma delta epsilon'],
  input_tokens: 5,
  max_tokens: 0,
};
const rerankItem: WorkItem = {
  index: 0,
  prompt: 'which one',
  query: 'which one',
  documents: ['the first document', 'the second one', 'a third'],
  input_tokens: 11,
  max_tokens: 0,
};

let seq = 0;
function send(b: Backend, item: WorkItem): Promise<RequestRecord> {
  const i = seq++;
  return b.send(item, {
    request_id: `fmt-${i}`,
    iteration: 0,
    index: i,
    phase: 'measured',
    scheduled_at_us: 0,
    signal: new AbortController().signal,
  });
}

const wall = (us: number): number => performance.timeOrigin + us / 1000;

/** The request as the simulator wrote it. */
function writesOf(s: SimulatorHandle, r: RequestRecord) {
  const writes = writesById(s.writeLog() ?? assert.fail('the write log is on')).get(r.request_id);
  assert.ok(writes, `${r.request_id} is in the write log`);
  return writes;
}

/**
 * A streamed answer: one chunk per event the server wrote, the first token read after the
 * server wrote it (and not long after), TTFT no shorter than the server's own TTFT.
 */
function assertStreamTiming(s: SimulatorHandle, r: RequestRecord): void {
  assert.equal(r.status, 'ok', r.error_message ?? '');
  const writes = writesOf(s, r);
  assert.equal(writes.outcome, 'completed');
  assert.equal(r.chunk_times_us.length, writes.token_ms.length);
  const firstWrite_ms = writes.token_ms[0] as number;
  const first_ms = wall(r.first_token_at_us as number);
  assert.ok(
    first_ms >= firstWrite_ms - 0.5,
    `first token read ${firstWrite_ms - first_ms} ms before it was written`,
  );
  assert.ok(
    first_ms - firstWrite_ms < DELIVERY_SLACK_MS,
    `first token read ${first_ms - firstWrite_ms} ms late`,
  );
  const ttft_ms = (r.first_token_at_us as number) / 1000 - r.sent_at_us / 1000;
  assert.ok(ttft_ms >= firstWrite_ms - writes.arrived_ms - 0.5, `client TTFT ${ttft_ms} ms < server's`);
  assert.ok(wall(r.last_token_at_us as number) >= (writes.token_ms.at(-1) as number) - 0.5);
}

/** A whole answer: its one time is the body's end, read after the server wrote it. */
function assertWholeTiming(s: SimulatorHandle, r: RequestRecord): void {
  assert.equal(r.status, 'ok', r.error_message ?? '');
  const writes = writesOf(s, r);
  const done_ms = writes.done_ms as number;
  const first_ms = wall(r.first_token_at_us as number);
  assert.ok(first_ms >= done_ms - 0.5 && first_ms - done_ms < DELIVERY_SLACK_MS, `${first_ms} vs ${done_ms}`);
}

test('cohere chat, streamed: TTFT against the write log, tokens from message-end', async () => {
  const s = await sim();
  const b = await backend('cohere-chat', s.url);
  const r = await send(b, chatItem());
  assertStreamTiming(s, r);
  assert.equal(r.output_tokens, 12);
  assert.equal(r.output_tokens_source, 'server');
  assert.equal(r.input_tokens, s.stats().promptTokens);
  assert.equal(r.input_tokens_source, 'server');
  assert.deepEqual(r.chunk_tokens, new Array<number>(12).fill(1));
});

test('cohere chat, whole: one chunk at the body end, tokens from usage', async () => {
  const s = await sim();
  const r = await send(await backend('cohere-chat', s.url, { stream: false }), chatItem({ max_tokens: 7 }));
  assertWholeTiming(s, r);
  assert.deepEqual([r.output_tokens, r.output_tokens_source, r.chunk_times_us.length], [7, 'server', 1]);
  assert.equal(r.input_tokens, s.stats().promptTokens);
});

test('cohere chat carries the history as messages', async () => {
  const s = await sim();
  const b = await backend('cohere-chat', s.url);
  const history = [
    { role: 'user' as const, content: 'first question here' },
    { role: 'assistant' as const, content: 'first answer' },
  ];
  const r = await send(b, chatItem({ history }));
  assertStreamTiming(s, r);
  const alone = await send(b, chatItem());
  assert.ok(r.input_tokens > alone.input_tokens, `${r.input_tokens} > ${alone.input_tokens}`);
});

test('cohere embed: the input tokens from meta.billed_units', async () => {
  const s = await sim();
  const r = await send(await backend('cohere-embed', s.url), embedItem);
  assertWholeTiming(s, r);
  assert.deepEqual([r.input_tokens, r.input_tokens_source], [s.stats().promptTokens, 'server']);
});

test('rerank: /v1/rerank with the server usage, /v2/rerank with the workload count', async () => {
  const s = await sim();
  const v1 = await send(await backend('openai-embeddings', s.url), rerankItem);
  assertWholeTiming(s, v1);
  assert.deepEqual([v1.input_tokens, v1.input_tokens_source], [s.stats().promptTokens, 'server']);
  const v2 = await send(await backend('cohere-embed', s.url), rerankItem);
  assertWholeTiming(s, v2);
  // Cohere's rerank reports search units, not tokens.
  assert.deepEqual([v2.input_tokens, v2.input_tokens_source], [rerankItem.input_tokens, 'workload']);
  // E items on the same backend still embed.
  const e = await send(await backend('openai-embeddings', s.url), embedItem);
  assert.equal(e.status, 'ok');
});

test('oci-cohere chat and embed: signed requests verify, TTFT and tokens as served', async () => {
  const s = await sim({ ociPublicKey: oci.publicKeyFile });
  const signing = {
    auth: 'config-file' as const,
    configFile: oci.configFile,
    compartmentId: 'ocid1.compartment.oc1..t',
  };
  const streamed = await send(await backend('oci-cohere-chat', s.url, { oci: signing }), chatItem());
  assertStreamTiming(s, streamed);
  assert.deepEqual([streamed.output_tokens, streamed.output_tokens_source], [12, 'server']);
  assert.equal(streamed.input_tokens_source, 'server');
  // The last event repeats the whole text: it is not counted again.
  assert.equal(streamed.chunk_times_us.length, 12);
  const whole = await send(
    await backend('oci-cohere-chat', s.url, { oci: signing, stream: false }),
    chatItem(),
  );
  assertWholeTiming(s, whole);
  assert.equal(whole.output_tokens, 12);
  const embed = await send(await backend('oci-cohere-embed', s.url, { oci: signing }), embedItem);
  assertWholeTiming(s, embed);
  assert.equal(embed.input_tokens_source, 'server');
  assert.equal(s.stats().promptTokens, streamed.input_tokens + whole.input_tokens + embed.input_tokens);
});

test('oci-cohere never sends a bearer key: the signature stands even when a key was given, and none is taken from the shell', async () => {
  const s = await sim({ ociPublicKey: oci.publicKeyFile });
  const signing = { auth: 'config-file' as const, configFile: oci.configFile, compartmentId: 'c' };
  // A key given anyway (an OpenAI key from the shell, once): the signature must still be what is sent.
  const r = await send(
    await backend('oci-cohere-chat', s.url, { oci: signing, apiKey: 'sk-must-not-travel' }),
    chatItem(),
  );
  assert.equal(r.status, 'ok', r.error_message ?? '');
  const env = { OPENAI_API_KEY: 'sk-openai', INFERMARK_API_KEY: 'im-key' };
  assert.equal(await resolveApiKey(undefined, env, 'oci-cohere'), undefined);
  // Cohere gets infermark's own key, never the OpenAI one.
  assert.equal(await resolveApiKey(undefined, { OPENAI_API_KEY: 'sk-openai' }, 'cohere'), undefined);
  assert.equal(await resolveApiKey(undefined, env, 'cohere'), 'im-key');
  assert.equal(await resolveApiKey(undefined, { OPENAI_API_KEY: 'sk-openai' }, 'openai'), 'sk-openai');
});

test('oci-cohere: a request signed with another key, or not signed, gets 401 (http_4xx)', async () => {
  const s = await sim({ ociPublicKey: oci.publicKeyFile });
  const wrong = { auth: 'config-file' as const, configFile: otherKey.configFile, compartmentId: 'c' };
  const r = await send(await backend('oci-cohere-chat', s.url, { oci: wrong }), chatItem());
  assert.deepEqual([r.status, r.error_class, r.http_status], ['error', 'http_4xx', 401]);
  assert.match(r.error_message ?? '', /signature does not verify/);
  assert.doesNotMatch(r.error_message ?? '', /Signature|keyId/);
  const unsigned = await fetch(`${s.url}/20231130/actions/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      servingMode: { modelId: 'm' },
      chatRequest: { apiFormat: 'COHERE', message: 'hi' },
    }),
  });
  assert.equal(unsigned.status, 401);
  assert.match(await unsigned.text(), /not signed/);
});

test('oci-cohere: a missing config file or profile is a setup error naming it', async () => {
  const s = await sim();
  const missing = createBackend('oci-cohere-chat', {
    baseUrl: s.url,
    model: 'm',
    stream: true,
    requestTimeoutMs: 1000,
    additionalParams: {},
    forceOutputLength: false,
    connections: 1,
    countTokens: () => 0,
    oci: { auth: 'config-file', configFile: `${oci.dir}/nowhere`, compartmentId: 'c' },
  });
  open.push(missing);
  await assert.rejects(
    missing.prepare?.() ?? Promise.resolve(),
    /spec\.oci\.configFile: .*nowhere.*no OCI config file/,
  );
  const noProfile = createBackend('oci-cohere-chat', {
    baseUrl: s.url,
    model: 'm',
    stream: true,
    requestTimeoutMs: 1000,
    additionalParams: {},
    forceOutputLength: false,
    connections: 1,
    countTokens: () => 0,
    oci: { auth: 'config-file', configFile: oci.configFile, profile: 'NOPE', compartmentId: 'c' },
  });
  open.push(noProfile);
  await assert.rejects(noProfile.prepare?.() ?? Promise.resolve(), /profile \[NOPE\]/);
});
