/**
 * The request body schemas: which bodies each inference route accepts, what it reads
 * from them, and the 400 message (the first problem) for each it refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BODY_ERRORS,
  chatCompletionsBody,
  completionsBody,
  embeddingsBody,
  validateBody,
} from './request-schemas.js';

const chat = (body: unknown) => validateBody(chatCompletionsBody, JSON.stringify(body));
const completion = (body: unknown) => validateBody(completionsBody, JSON.stringify(body));
const embedding = (body: unknown) => validateBody(embeddingsBody, JSON.stringify(body));

test('a body that is not JSON, or not a JSON object, is refused first', () => {
  assert.equal(validateBody(chatCompletionsBody, '{"messages": ['), BODY_ERRORS.notJson);
  for (const text of ['[]', 'null', '5', '"x"', 'true']) {
    assert.equal(validateBody(chatCompletionsBody, text), BODY_ERRORS.notObject, text);
    assert.equal(validateBody(completionsBody, text), BODY_ERRORS.notObject, text);
    assert.equal(validateBody(embeddingsBody, text), BODY_ERRORS.notObject, text);
  }
});

test('chat: messages must be a non-empty array; their content is not judged', () => {
  for (const messages of [undefined, [], 'hi', { role: 'user' }, null]) {
    assert.equal(chat({ messages }), BODY_ERRORS.messages, JSON.stringify(messages));
  }
  const ok = chat({ messages: [null, 3, { role: 'user', content: [{ type: 'image_url' }] }] });
  assert.ok(typeof ok === 'object', String(ok));
  assert.equal(ok.messages.length, 3);
});

test('completions: a string (even empty), or a non-empty list of texts and token ids', () => {
  for (const prompt of ['', 'hello', ['a', 'b'], [1, 2, 3], [[1, 2], [3]], ['a', 7, [1, 'x']]]) {
    const r = completion({ prompt });
    assert.ok(typeof r === 'object', `${JSON.stringify(prompt)}: ${String(r)}`);
    assert.deepEqual(r.prompt, prompt);
  }
  for (const prompt of [undefined, null, 5, [], {}, true]) {
    assert.equal(completion({ prompt }), BODY_ERRORS.promptShape, JSON.stringify(prompt));
  }
  for (const prompt of [[{}], ['a', null], [true], ['a', { text: 'b' }]]) {
    assert.equal(completion({ prompt }), BODY_ERRORS.promptItems, JSON.stringify(prompt));
  }
});

test('embeddings: a string, one list of token ids, or a list of texts and token-id lists', () => {
  for (const input of ['', 'a b c', [1, 2, 3], ['a', 'b'], ['a', [1, 2]], [[1], [2, 3]]]) {
    const r = embedding({ input });
    assert.ok(typeof r === 'object', `${JSON.stringify(input)}: ${String(r)}`);
    assert.deepEqual(r.input, input);
  }
  for (const input of [undefined, null, 5, [], { text: 'a' }]) {
    assert.equal(embedding({ input }), BODY_ERRORS.inputShape, JSON.stringify(input));
  }
  // A number among texts is neither a text nor a list of ids.
  for (const input of [['a', 3], [[1], 2], [null], [{}]]) {
    assert.equal(embedding({ input }), BODY_ERRORS.inputItems, JSON.stringify(input));
  }
  const encoded = embedding({ input: 'x', encoding_format: 'base64' });
  assert.ok(typeof encoded === 'object');
  assert.equal(encoded.encoding_format, 'base64');
  const fallback = embedding({ input: 'x', encoding_format: 'int8' });
  assert.ok(typeof fallback === 'object');
  assert.equal(fallback.encoding_format, undefined, 'read as float');
});

test('token limits: max_completion_tokens wins over max_tokens; both must be positive integers', () => {
  const limit = (fields: Record<string, unknown>): number | null | undefined | string => {
    const r = chat({ messages: [{ role: 'user', content: 'x' }], ...fields });
    return typeof r === 'string' ? r : r.max_tokens;
  };
  assert.equal(limit({}), undefined);
  assert.equal(limit({ max_tokens: null }), null);
  assert.equal(limit({ max_tokens: 5 }), 5);
  assert.equal(limit({ max_completion_tokens: 7, max_tokens: 5 }), 7);
  // The newer name wins, so a bad old one beside it is never read.
  assert.equal(limit({ max_completion_tokens: 7, max_tokens: -1 }), 7);
  assert.equal(limit({ max_completion_tokens: null, max_tokens: 5 }), 5);
  assert.equal(limit({ max_tokens: 1e300 }), 1e300);
  for (const bad of [0, -1, 1.5, '5', true, [5], {}]) {
    assert.equal(limit({ max_tokens: bad }), BODY_ERRORS.maxTokens, JSON.stringify(bad));
    assert.equal(limit({ max_completion_tokens: bad }), BODY_ERRORS.maxTokens, JSON.stringify(bad));
  }
});

test('min_tokens: absent, null (both read as 0) or a non-negative integer', () => {
  const min = (fields: Record<string, unknown>): number | null | undefined | string => {
    const r = completion({ prompt: 'x', ...fields });
    return typeof r === 'string' ? r : r.min_tokens;
  };
  assert.equal(min({}), undefined);
  assert.equal(min({ min_tokens: null }), null);
  assert.equal(min({ min_tokens: 0 }), 0);
  assert.equal(min({ min_tokens: 12 }), 12);
  for (const bad of [-1, 0.5, '3', false]) {
    assert.equal(min({ min_tokens: bad }), BODY_ERRORS.minTokens, JSON.stringify(bad));
  }
});

test('the first problem is reported: prompt, then max_tokens, then min_tokens', () => {
  assert.equal(completion({ prompt: [], max_tokens: -1, min_tokens: -1 }), BODY_ERRORS.promptShape);
  assert.equal(completion({ prompt: 'x', max_tokens: -1, min_tokens: -1 }), BODY_ERRORS.maxTokens);
  assert.equal(completion({ prompt: 'x', max_tokens: 1, min_tokens: -1 }), BODY_ERRORS.minTokens);
  // Embeddings check the limits too, though they generate nothing.
  assert.equal(embedding({ input: 'x', max_tokens: 0 }), BODY_ERRORS.maxTokens);
});

test('lenient fields fall back instead of refusing the request', () => {
  const r = chat({
    messages: [{ role: 'user', content: 'x' }],
    model: 3,
    seed: 1.5,
    stream: 'yes',
    ignore_eos: 1,
    stream_options: [],
    extra: { anything: true },
  });
  assert.ok(typeof r === 'object', String(r));
  // Each reads as absent: the default model, seed 0, not streamed, EOS on, no usage event.
  assert.deepEqual([r.model, r.seed, r.stream, r.ignore_eos, r.stream_options], Array(5).fill(undefined));
  const options = chat({ messages: [1], stream_options: { include_usage: 'yes' } });
  assert.ok(typeof options === 'object', String(options));
  assert.deepEqual(options.stream_options, { include_usage: undefined });
  const named = chat({
    messages: [{ role: 'user', content: 'x' }],
    model: 'm',
    seed: -7,
    stream: true,
    ignore_eos: true,
    stream_options: { include_usage: true },
  });
  assert.ok(typeof named === 'object', String(named));
  assert.deepEqual(
    [named.model, named.seed, named.stream, named.ignore_eos, named.stream_options?.include_usage],
    ['m', -7, true, true, true],
  );
  assert.equal((chat({ messages: [1], model: '' }) as { model?: string }).model, undefined);
});
