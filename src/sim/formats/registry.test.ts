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
  assert.deepEqual(Object.keys(RESPONSE_FORMATS), ['chat-completions', 'completions', 'embeddings']);
  for (const name of Object.keys(RESPONSE_FORMATS)) assert.match(name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  const paths = Object.values(RESPONSE_FORMATS).map((f) => f.path);
  assert.deepEqual(paths, ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']);
  assert.equal(new Set(Object.values(RESPONSE_FORMATS).map((f) => f.idPrefix)).size, 3);
  assert.equal(format('embeddings').events, null, 'embeddings never stream');
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
