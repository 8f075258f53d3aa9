// Multi-turn conversations through the real engine and the real OpenAI backend, against a raw
// node:http server on 127.0.0.1 that records every body it received and when (on the client's
// own clock: same process) and answers each request with a text of its own. So the test checks
// the exact history on the wire against what the server actually sent back.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nowUs } from '../base/clock.js';
import { createBackend } from '../backends/openai.js';
import { summarizeIteration } from '../metrics/aggregate.js';
import type { RequestRecord } from '../metrics/record.js';
import type { IterationPlan } from '../plan/plan.js';
import { createConversationSource, type ConversationSource } from '../workload/conversations.js';
import { createItemSource } from '../workload/sampler.js';
import { loadTokenizer, type Tokenizer } from '../workload/tokenizer.js';
import type { ChatMessage } from '../workload/work-item.js';
import { closedLoop } from './executors/closed-loop.js';
import { openLoopRate } from './executors/open-loop-rate.js';
import { runIteration } from './iteration.js';

interface Received {
  requestId: string;
  atUs: number;
  messages: ChatMessage[];
}

const MAX_BODY_BYTES = 1 << 20;
let server: Server;
let url: string;
let tmp: string;
let tokenizer: Tokenizer;
const received = new Map<string, Received>();
/** The text the server answered each request with, by request id. */
const answered = new Map<string, string>();
/** Request ids answered with HTTP 500. */
const failing = new Set<string>();

before(async () => {
  tokenizer = await loadTokenizer('o200k_base');
  tmp = await mkdtemp(join(tmpdir(), 'infermark-multiturn-'));
  server = createServer((req, res) => {
    const atUs = nowUs();
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const requestId = String(req.headers['x-request-id']);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        messages: ChatMessage[];
        stream: boolean;
      };
      received.set(requestId, { requestId, atUs, messages: body.messages });
      if (failing.has(requestId)) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"boom"}}');
        return;
      }
      // A text of its own per request, in three pieces, so the backend must join them.
      const pieces = [`answer ${requestId}`, ' second piece', ` and a third for ${requestId}.`];
      answered.set(requestId, pieces.join(''));
      if (!body.stream) {
        const message = { role: 'assistant', content: pieces.join('') };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ index: 0, message, finish_reason: 'stop' }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const content of pieces) {
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`);
      }
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(tmp, { recursive: true, force: true });
});

function backend(stream = true) {
  return createBackend('openai-chat', {
    baseUrl: url,
    model: 'm',
    stream,
    requestTimeoutMs: 10_000,
    additionalParams: {},
    forceOutputLength: false,
    connections: 8,
    countTokens: (text) => tokenizer.count(text),
  });
}

function plan(overrides: Partial<IterationPlan>): IterationPlan {
  return {
    index: 0,
    scenario: 'D(24,4)',
    mode: 'concurrency',
    concurrency: 2,
    max_requests: 3,
    max_time_s: 20,
    warmup: { requests: 0, seconds: 0 },
    max_in_flight: 1024,
    ...overrides,
  };
}

async function synthetic(turns: number, thinkTimeSeconds: number, seed = 1): Promise<ConversationSource> {
  const items = await createItemSource({
    scenario: { kind: 'D', input: 24, output: 4 },
    tokenizer,
    seed,
    iterationKey: '0:D(24,4)',
    task: 'text-to-text',
  });
  return createConversationSource(items, { turns, thinkTimeSeconds, assistantTurns: 'server' }, tokenizer);
}

async function play(
  p: IterationPlan,
  source: ConversationSource,
  executor = closedLoop(p.concurrency ?? 1),
  stream = true,
) {
  const b = backend(stream);
  try {
    return await runIteration(p, { backend: b, items: source, executor, onRecord: () => {} });
  } finally {
    await b.close();
  }
}

/** The history a turn must carry: every earlier user turn and the server's answer to it. */
function expectedMessages(source: ConversationSource, c: number, t: number, ids: (turn: number) => string) {
  const { turns } = source.conversationAt(c);
  const messages: ChatMessage[] = [];
  for (let k = 0; k < t; k++) {
    messages.push({ role: 'user', content: turns[k]!.prompt });
    messages.push({
      role: 'assistant',
      content: answered.get(ids(k)) ?? assert.fail(`no answer for turn ${k}`),
    });
  }
  messages.push({ role: 'user', content: turns[t]!.prompt });
  return messages;
}

test('every turn carries the exact history, the server’s answers as assistant turns, after the answer plus the think time', async () => {
  const thinkUs = 40_000;
  const source = await synthetic(3, thinkUs / 1e6);
  const outcome = await play(plan({ concurrency: 2, max_requests: 3 }), source);
  const records = outcome.records;
  assert.equal(records.length, 9, 'three conversations of three turns');
  assert.deepEqual(
    records.map((r) => r.index).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
    'request indexes: conversation c turn t is c·3 + t',
  );
  const byId = new Map(records.map((r) => [r.request_id, r]));
  for (let c = 0; c < 3; c++) {
    const id = (t: number): string => `0-${c * 3 + t}`;
    for (let t = 0; t < 3; t++) {
      const record = byId.get(id(t)) ?? assert.fail(`no record ${id(t)}`);
      assert.equal(record.status, 'ok');
      assert.equal(record.conversation_id, `0-${c}`);
      assert.equal(record.turn_index, t);
      const got = received.get(id(t)) ?? assert.fail(`server never saw ${id(t)}`);
      assert.deepEqual(got.messages, expectedMessages(source, c, t, id), `conversation ${c} turn ${t}`);
      // input_tokens counts the whole history by the workload's tokenizer.
      const tokens = got.messages.reduce((n, m) => n + tokenizer.count(m.content), 0);
      assert.equal(record.input_tokens, tokens, `input tokens of ${id(t)}`);
      if (t > 0) {
        const before = byId.get(id(t - 1)) as RequestRecord;
        const gapUs = got.atUs - (before.done_at_us as number);
        assert.ok(
          gapUs >= thinkUs,
          `turn ${t} of ${c} reached the server ${gapUs} µs after the answer before it`,
        );
        assert.equal(record.scheduled_at_us, (before.done_at_us as number) + thinkUs);
      }
    }
  }
  assert.deepEqual(outcome.conversations, { started: 3, completed: 3, cut: 0 });
  const summary = summarizeIteration(
    records,
    {
      iteration: 0,
      scenario: 'D(24,4)',
      mode: 'concurrency',
      concurrency: 2,
      wall_s: outcome.wall_s,
      warmup_requests: 0,
      ended_by: outcome.ended_by,
      ...(outcome.conversations ? { conversations: outcome.conversations } : {}),
    },
    [],
  );
  assert.deepEqual(summary.conversations, { started: 3, completed: 3, cut: 0 });
  assert.deepEqual(
    summary.per_turn?.map((t) => [t.turn_index, t.completed, t.errored, t.ttft_ms.count]),
    [
      [0, 3, 0, 3],
      [1, 3, 0, 3],
      [2, 3, 0, 3],
    ],
  );
  // Later turns carry longer prompts.
  const inputs = summary.per_turn?.map((t) => t.input_tokens.mean ?? 0) ?? [];
  assert.ok(inputs[0]! < inputs[1]! && inputs[1]! < inputs[2]!, `input tokens by turn: ${inputs.join(', ')}`);
});

test('a failed turn cuts its conversation; the time limit cuts conversations that are thinking', async () => {
  // Iteration 1 so its request ids differ from the first test's.
  failing.add('1-4'); // conversation 1's turn 1
  const source = await synthetic(3, 0);
  const outcome = await play(plan({ index: 1, concurrency: 1, max_requests: 3 }), source);
  const ids = outcome.records.map((r) => r.request_id).sort();
  assert.deepEqual(
    ids,
    ['1-0', '1-1', '1-2', '1-3', '1-4', '1-6', '1-7', '1-8'],
    'turn 2 of conversation 1 not sent',
  );
  assert.equal(received.has('1-5'), false);
  assert.deepEqual(outcome.conversations, { started: 3, completed: 2, cut: 1 });

  // A think time past the time limit: no later turn can be sent in time, so each
  // conversation is cut after its first turn and its slot takes the next conversation.
  const thinking = await synthetic(3, 30);
  const started = nowUs();
  const cut = await play(plan({ index: 2, concurrency: 2, max_requests: 5, max_time_s: 0.5 }), thinking);
  assert.ok(nowUs() - started < 5e6, 'the iteration did not wait for the think time');
  assert.deepEqual(
    cut.records.map((r) => r.turn_index),
    [0, 0, 0, 0, 0],
  );
  assert.deepEqual(cut.conversations, { started: 5, completed: 0, cut: 5 });

  // An iteration ending while conversations think (here an interruption) cuts them at once.
  const interrupt = new AbortController();
  setTimeout(() => interrupt.abort(), 150);
  const b = backend();
  const before = nowUs();
  const interrupted = await runIteration(plan({ index: 3, concurrency: 2, max_requests: 2 }), {
    backend: b,
    items: await synthetic(3, 2),
    executor: closedLoop(2),
    onRecord: () => {},
    signal: interrupt.signal,
  }).finally(() => b.close());
  assert.equal(interrupted.ended_by, 'interrupted');
  assert.ok(nowUs() - before < 1.5e6, 'cut while thinking, not after the think time');
  assert.equal(interrupted.records.length, 2);
  assert.deepEqual(interrupted.conversations, { started: 2, completed: 0, cut: 2 });
});

test('open loop: the rate counts new conversations, each arrival a first turn on the schedule', async () => {
  const source = await synthetic(2, 0);
  const rate = 20;
  const p = plan({
    index: 3,
    mode: 'rate',
    rate_rps: rate,
    arrival: { distribution: 'constant', burstiness: 1 },
    max_requests: 4,
  });
  delete p.concurrency;
  const outcome = await play(
    p,
    source,
    openLoopRate(rate, { distribution: 'constant', burstiness: 1 }, Math.random),
  );
  assert.equal(outcome.records.length, 8);
  const firsts = outcome.records.filter((r) => r.turn_index === 0).sort((a, b) => a.index - b.index);
  const origin = firsts[0]!.scheduled_at_us;
  assert.deepEqual(
    firsts.map((r) => r.scheduled_at_us - origin),
    [0, 50_000, 100_000, 150_000],
    'conversation c arrives at c / rate',
  );
  assert.deepEqual(outcome.conversations, { started: 4, completed: 4, cut: 0 });
});

test('a ShareGPT dataset replays every turn, with the dataset’s replies as assistant turns when asked', async () => {
  const path = join(tmp, 'chats.jsonl');
  const chat = (n: number) => ({
    conversations: [
      { from: 'human', value: `first question ${n}` },
      { from: 'gpt', value: `first reply ${n}` },
      { from: 'human', value: `second question ${n}` },
      { from: 'gpt', value: `second reply ${n}` },
      { from: 'human', value: `third question ${n}` },
      { from: 'gpt', value: `third reply ${n}` },
    ],
  });
  await writeFile(path, [chat(0), chat(1)].map((c) => JSON.stringify(c)).join('\n'));
  const items = await createItemSource({
    scenario: { kind: 'dataset' },
    tokenizer,
    seed: 1,
    iterationKey: '6:dataset',
    task: 'text-to-text',
    datasetPath: path,
  });
  const source = createConversationSource(
    items,
    { thinkTimeSeconds: 0, assistantTurns: 'dataset' },
    tokenizer,
  );
  const outcome = await play(plan({ index: 6, concurrency: 2, max_requests: 2 }), source);
  assert.equal(outcome.records.length, 6, 'two conversations, three turns each');
  for (const record of outcome.records.filter((r) => r.turn_index === 2)) {
    const got = received.get(record.request_id) ?? assert.fail('not received');
    const n = /third question (\d)/.exec(got.messages[4]!.content)?.[1] ?? assert.fail('no third question');
    assert.deepEqual(got.messages, [
      { role: 'user', content: `first question ${n}` },
      { role: 'assistant', content: `first reply ${n}` },
      { role: 'user', content: `second question ${n}` },
      { role: 'assistant', content: `second reply ${n}` },
      { role: 'user', content: `third question ${n}` },
    ]);
  }
});

test('a non-streamed answer is the assistant turn too', async () => {
  const source = await synthetic(2, 0);
  const outcome = await play(
    plan({ index: 7, concurrency: 1, max_requests: 1 }),
    source,
    closedLoop(1),
    false,
  );
  assert.deepEqual(
    outcome.records.map((r) => [r.request_id, r.status]),
    [
      ['7-0', 'ok'],
      ['7-1', 'ok'],
    ],
  );
  const turns = source.conversationAt(0).turns;
  assert.deepEqual(received.get('7-1')?.messages, [
    { role: 'user', content: turns[0]!.prompt },
    { role: 'assistant', content: answered.get('7-0') },
    { role: 'user', content: turns[1]!.prompt },
  ]);
});
