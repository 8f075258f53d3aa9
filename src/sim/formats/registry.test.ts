/**
 * The response format registry: kebab-case names, one route each, and what each format
 * reads from a body and writes, checked as JSON (the server tests check them on the wire).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SIMULATOR_OPTIONS } from '../options.js';
import { BODY_ERRORS } from '../request-schemas.js';
import type { GeneratedOutput, ParsedRequest, ResponseFormat } from './format.js';
import { RESPONSE_FORMATS } from './registry.js';

const options = { ...DEFAULT_SIMULATOR_OPTIONS, embeddingDim: 8 };

function format(name: string): ResponseFormat {
  const f = RESPONSE_FORMATS[name];
  assert.ok(f, name);
  return f;
}

test('formats are registered by kebab-case name, each on its own POST path', () => {
  assert.deepEqual(Object.keys(RESPONSE_FORMATS), [
    'chat-completions',
    'completions',
    'embeddings',
    'rerank',
    'cohere-chat',
    'cohere-embed',
    'cohere-rerank',
    'oci-chat',
    'oci-embed',
  ]);
  for (const name of Object.keys(RESPONSE_FORMATS)) assert.match(name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  const paths = Object.values(RESPONSE_FORMATS).map((f) => f.path);
  assert.deepEqual(paths, [
    '/v1/chat/completions',
    '/v1/completions',
    '/v1/embeddings',
    '/v1/rerank',
    '/v2/chat',
    '/v2/embed',
    '/v2/rerank',
    '/20231130/actions/chat',
    '/20231130/actions/embedText',
  ]);
  assert.equal(new Set(Object.values(RESPONSE_FORMATS).map((f) => f.idPrefix)).size, 9);
  for (const name of ['embeddings', 'rerank', 'cohere-embed', 'cohere-rerank', 'oci-embed']) {
    assert.equal(format(name).events, null, `${name} never streams`);
  }
  assert.deepEqual(
    Object.entries(RESPONSE_FORMATS)
      .filter(([, f]) => f.signed === true)
      .map(([name]) => name),
    ['oci-chat', 'oci-embed'],
  );
});

test('each format counts its prompt and refuses a bad body with its message', () => {
  const chat = format('chat-completions').parse(
    JSON.stringify({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'a b c' }, { type: 'image_url' }] }],
    }),
    options,
  );
  assert.ok(typeof chat === 'object', String(chat));
  assert.equal(chat.promptKey, 'a b c');
  assert.equal(chat.promptTokens, 3 + options.imageTokens);

  const completion = format('completions').parse(JSON.stringify({ prompt: ['a b', 9, [1, 2, 3]] }), options);
  assert.ok(typeof completion === 'object', String(completion));
  assert.equal(completion.promptTokens, 2 + 1 + 3);

  const ids = format('embeddings').parse(JSON.stringify({ input: [5, 6, 7] }), options);
  assert.ok(typeof ids === 'object', String(ids));
  assert.equal(ids.promptTokens, 3);
  assert.deepEqual(ids.detail, { inputs: ['[5,6,7]'], base64: false });

  assert.equal(format('chat-completions').parse('{"messages":[]}', options), BODY_ERRORS.messages);
  assert.equal(format('completions').parse('{}', options), BODY_ERRORS.promptShape);
  assert.equal(format('embeddings').parse('{"input":["a",1]}', options), BODY_ERRORS.inputItems);
});

function request(f: ResponseFormat, detail: unknown = null): ParsedRequest {
  return {
    format: f,
    model: 'm"odel',
    stream: true,
    includeUsage: true,
    promptTokens: 2,
    promptText: 'a b',
    outputTokens: 3,
    finishReason: 'stop',
    textSeed: 1,
    requestSeed: 0,
    detail,
  };
}

const output: GeneratedOutput = {
  id: 'x-1',
  created_s: 7,
  content: ' a b',
  reasoning: ' r',
  usage: '{"prompt_tokens":2,"total_tokens":5,"completion_tokens":3}',
};

/** The JSON payload of one `data: ...\n\n` event. */
function payload(event: string): unknown {
  assert.match(event, /^data: .*\n\n$/s);
  return JSON.parse(event.slice(6, -2));
}

test('chat events and body: role first, reasoning beside content, finish, usage', () => {
  const f = format('chat-completions');
  const events = f.events;
  assert.ok(events);
  const prefix = events.prefix('x-1', 7, 'm"odel');
  assert.deepEqual(payload(events.first(prefix)), {
    id: 'x-1',
    object: 'chat.completion.chunk',
    created: 7,
    model: 'm"odel',
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
  });
  const both = payload(events.content(prefix, ' r', ' a')) as { choices: { delta: unknown }[] };
  assert.deepEqual(both.choices[0]?.delta, { reasoning_content: ' r', content: ' a' });
  const text = payload(events.content(prefix, '', ' a')) as { choices: { delta: unknown }[] };
  assert.deepEqual(text.choices[0]?.delta, { content: ' a' });
  const finish = payload(events.finish(prefix, 'length')) as { choices: { finish_reason: string }[] };
  assert.equal(finish.choices[0]?.finish_reason, 'length');
  const usage = payload(events.usage(prefix, output.usage)) as { choices: unknown[]; usage: unknown };
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, { prompt_tokens: 2, total_tokens: 5, completion_tokens: 3 });

  const body = JSON.parse(f.body(request(f), output, options)) as {
    object: string;
    choices: { message: { content: string; reasoning_content: string | null }; finish_reason: string }[];
    usage: { completion_tokens: number };
  };
  assert.equal(body.object, 'chat.completion');
  assert.deepEqual(
    [
      body.choices[0]?.message.content,
      body.choices[0]?.message.reasoning_content,
      body.choices[0]?.finish_reason,
    ],
    [' a b', ' r', 'stop'],
  );
  assert.equal(body.usage.completion_tokens, 3);
});

test('completion events and body: no role event, text chunks, stop_reason', () => {
  const f = format('completions');
  const events = f.events;
  assert.ok(events);
  const prefix = events.prefix('x-1', 7, 'm');
  assert.equal(events.first(prefix), '', 'the headers go alone');
  const chunk = payload(events.content(prefix, '', ' a')) as { object: string; choices: unknown[] };
  assert.equal(chunk.object, 'text_completion');
  assert.deepEqual(chunk.choices, [
    { index: 0, text: ' a', logprobs: null, finish_reason: null, stop_reason: null },
  ]);
  const finish = payload(events.finish(prefix, 'stop')) as {
    choices: { text: string; finish_reason: string }[];
  };
  assert.deepEqual([finish.choices[0]?.text, finish.choices[0]?.finish_reason], ['', 'stop']);
  const body = JSON.parse(f.body(request(f), output, options)) as { choices: { text: string }[] };
  assert.equal(body.choices[0]?.text, ' a b');
});

test('embeddings: one unit vector per input, the same for the same input, base64 on request', () => {
  const f = format('embeddings');
  const floats = JSON.parse(
    f.body(request(f, { inputs: ['a', 'b', 'a'], base64: false }), output, options),
  ) as {
    data: { index: number; embedding: number[] }[];
    usage: { prompt_tokens: number; completion_tokens: number };
  };
  assert.deepEqual(
    floats.data.map((d) => d.index),
    [0, 1, 2],
  );
  for (const d of floats.data) {
    assert.equal(d.embedding.length, 8);
    assert.ok(Math.abs(Math.hypot(...d.embedding) - 1) < 1e-4);
  }
  assert.deepEqual(floats.data[2]?.embedding, floats.data[0]?.embedding);
  assert.notDeepEqual(floats.data[1]?.embedding, floats.data[0]?.embedding);
  assert.deepEqual(floats.usage, { prompt_tokens: 2, total_tokens: 2, completion_tokens: 0 });
  const b64 = JSON.parse(f.body(request(f, { inputs: ['a'], base64: true }), output, options)) as {
    data: { embedding: string }[];
  };
  const vector = new Float32Array(
    Uint8Array.from(Buffer.from(b64.data[0]?.embedding ?? '', 'base64')).buffer,
  );
  assert.equal(vector.length, 8);
  assert.ok(Math.abs((vector[0] as number) - (floats.data[0]?.embedding[0] as number)) < 1e-6);
});

/** The event name and JSON payload of one `event: ...\ndata: ...\n\n` event. */
function typedEvent(event: string): [string, Record<string, unknown>] {
  const m = /^event: ([a-z-]+)\ndata: (.*)\n\n$/s.exec(event);
  assert.ok(m, event);
  return [m[1] as string, JSON.parse(m[2] as string) as Record<string, unknown>];
}

test('cohere chat: typed events from message-start to message-end with finish reason and usage', () => {
  const f = format('cohere-chat');
  const events = f.events;
  assert.ok(events?.end);
  const prefix = events.prefix('cohere-1', 7, 'm');
  const first = events.first(prefix).split(/(?<=\n\n)/);
  assert.deepEqual(
    first.map((e) => typedEvent(e)[0]),
    ['message-start', 'content-start'],
  );
  const [type, delta] = typedEvent(events.content(prefix, '', ' a'));
  assert.equal(type, 'content-delta');
  assert.deepEqual(delta.delta, { message: { content: { text: ' a' } } });
  const end = events.end(prefix, { finishReason: 'length', promptTokens: 2, outputTokens: 3, text: '' });
  const [contentEnd, messageEnd] = end.split(/(?<=\n\n)/).map(typedEvent);
  assert.equal(contentEnd?.[0], 'content-end');
  assert.equal(messageEnd?.[0], 'message-end');
  const counts = { input_tokens: 2, output_tokens: 3 };
  assert.deepEqual(messageEnd?.[1].delta, {
    finish_reason: 'MAX_TOKENS',
    usage: { billed_units: counts, tokens: counts },
  });
  const body = JSON.parse(f.body(request(f), output, options)) as {
    finish_reason: string;
    message: { content: { type: string; text: string }[] };
    usage: { tokens: unknown };
  };
  assert.deepEqual(
    [body.finish_reason, body.message.content, body.usage.tokens],
    ['COMPLETE', [{ type: 'text', text: ' a b' }], counts],
  );
});

test('oci chat: text events, a last event repeating the text with finishReason and usage; OCI names read', () => {
  const f = format('oci-chat');
  const read = f.parse(
    JSON.stringify({
      compartmentId: 'c',
      servingMode: { servingType: 'ON_DEMAND', modelId: 'cohere.command-r' },
      chatRequest: {
        apiFormat: 'COHERE',
        message: 'a b',
        chatHistory: [{ role: 'USER', message: 'c d e' }],
        maxTokens: 9,
        isStream: true,
      },
    }),
    options,
  );
  assert.ok(typeof read === 'object', String(read));
  assert.deepEqual(
    [read.common.model, read.common.max_tokens, read.common.stream, read.promptKey, read.promptTokens],
    ['cohere.command-r', 9, true, 'c d e\na b', 6],
  );
  assert.equal(
    f.parse('{"servingMode":{"modelId":"m"},"chatRequest":{"message":"x"}}', options),
    BODY_ERRORS.ociChat,
  );
  const events = f.events;
  assert.ok(events?.end && events.repeatsText === true);
  assert.deepEqual(payload(events.content('', '', ' a')), { apiFormat: 'COHERE', text: ' a' });
  assert.deepEqual(
    payload(events.end('', { finishReason: 'stop', promptTokens: 2, outputTokens: 3, text: ' a b c' })),
    {
      apiFormat: 'COHERE',
      text: ' a b c',
      finishReason: 'COMPLETE',
      usage: { promptTokens: 2, completionTokens: 3, totalTokens: 5 },
    },
  );
  const body = JSON.parse(f.body(request(f), output, options)) as { chatResponse: Record<string, unknown> };
  assert.deepEqual([body.chatResponse.text, body.chatResponse.finishReason], [' a b', 'COMPLETE']);
});

test('rerank: /v1/rerank ranks with usage, /v2/rerank without tokens; embed formats as /v1/embeddings', () => {
  const v1 = format('rerank');
  const read = v1.parse(
    JSON.stringify({ query: 'a b', documents: ['c', { text: 'd e' }], top_n: 1 }),
    options,
  );
  assert.ok(typeof read === 'object', String(read));
  // vLLM scores (query, document) pairs: the query counts once per document.
  assert.equal(read.promptTokens, 2 + 1 + 2 + 2);
  const body = JSON.parse(v1.body({ ...request(v1, read.detail), promptTokens: 7 }, output, options)) as {
    usage: unknown;
    results: { index: number; relevance_score: number; document: { text: string } }[];
  };
  assert.deepEqual(body.usage, { total_tokens: 7 });
  assert.equal(body.results.length, 1, 'top_n');
  assert.equal(v1.parse('{"query":"a","documents":[]}', options), BODY_ERRORS.documents);
  const v2 = format('cohere-rerank');
  const all = v2.parse(JSON.stringify({ query: 'a b', documents: ['c', 'd e'] }), options);
  assert.ok(typeof all === 'object');
  const cohere = JSON.parse(v2.body(request(v2, all.detail), output, options)) as Record<string, unknown>;
  assert.equal((cohere.results as unknown[]).length, 2);
  assert.equal(cohere.usage, undefined);
  const scores = (cohere.results as { relevance_score: number }[]).map((r) => r.relevance_score);
  assert.ok((scores[0] as number) >= (scores[1] as number), 'best first');

  const embed = JSON.parse(
    format('cohere-embed').body(request(format('cohere-embed'), { texts: ['a', 'b'] }), output, options),
  ) as {
    embeddings: { float: number[][] };
    meta: { billed_units: { input_tokens: number } };
  };
  assert.equal(embed.embeddings.float.length, 2);
  assert.equal(embed.meta.billed_units.input_tokens, 2);
  const ociEmbed = JSON.parse(
    format('oci-embed').body(request(format('oci-embed'), { inputs: ['a'] }), output, options),
  ) as {
    embeddings: number[][];
  };
  assert.deepEqual(ociEmbed.embeddings[0], embed.embeddings.float[0], 'the same vector for the same text');
});
