/**
 * From body to plan: the output length within the limits (max_tokens, the default, the
 * EOS draw bounded by min_tokens), the model echoed, streaming only where a format streams,
 * and the seeds of the generated text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESPONSE_FORMATS } from './formats/registry.js';
import type { ResponseFormat } from './formats/format.js';
import { DEFAULT_SIMULATOR_OPTIONS, type SimulatorOptions } from './options.js';
import { parseRequest } from './parse-request.js';
import type { ParsedRequest } from './formats/format.js';

const chat = RESPONSE_FORMATS['chat-completions'] as ResponseFormat;
const embeddings = RESPONSE_FORMATS.embeddings as ResponseFormat;

function parse(body: unknown, o: Partial<SimulatorOptions> = {}, format = chat): ParsedRequest {
  const r = parseRequest(format, JSON.stringify(body), { ...DEFAULT_SIMULATOR_OPTIONS, ...o });
  assert.ok(typeof r === 'object', String(r));
  return r;
}

const hi = (extra: Record<string, unknown> = {}) => ({
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
});

test('the output is max_tokens long (else the default) when EOS is off', () => {
  assert.deepEqual(
    [
      parse(hi({ max_tokens: 7 })).outputTokens,
      parse(hi()).outputTokens,
      parse(hi({ max_completion_tokens: 3 })).outputTokens,
    ],
    [7, DEFAULT_SIMULATOR_OPTIONS.defaultMaxTokens, 3],
  );
  assert.equal(parse(hi()).finishReason, 'length');
});

test('the EOS draw: stops early, the same for the same prompt and seed, never before min_tokens', () => {
  const o = { eosProbability: 0.2 };
  const lengths = Array.from(
    { length: 20 },
    (_, i) => parse(hi({ max_tokens: 500, seed: i }), o).outputTokens,
  );
  assert.ok(
    lengths.every((n) => n < 500),
    String(lengths),
  );
  assert.ok(new Set(lengths).size > 1, 'the seed moves the draw');
  assert.equal(parse(hi({ max_tokens: 500, seed: 3 }), o).outputTokens, lengths[3]);
  assert.equal(parse(hi({ max_tokens: 500, seed: 3 }), o).finishReason, 'stop');
  for (let i = 0; i < 20; i++)
    assert.ok(parse(hi({ max_tokens: 500, min_tokens: 40, seed: i }), o).outputTokens >= 40);
  assert.equal(parse(hi({ max_tokens: 500, ignore_eos: true }), o).outputTokens, 500);
});

test('the model is echoed, else the simulator own; streaming and usage only when asked', () => {
  assert.equal(parse(hi({ model: 'x' })).model, 'x');
  assert.equal(parse(hi()).model, DEFAULT_SIMULATOR_OPTIONS.model);
  const streamed = parse(hi({ stream: true, stream_options: { include_usage: true } }));
  assert.deepEqual([streamed.stream, streamed.includeUsage], [true, true]);
  assert.deepEqual([parse(hi()).stream, parse(hi()).includeUsage], [false, false]);
});

test('embeddings generate nothing and never stream', () => {
  const r = parse({ input: 'a b', stream: true, max_tokens: 9 }, { eosProbability: 0.5 }, embeddings);
  assert.deepEqual([r.outputTokens, r.stream, r.promptTokens], [0, false, 2]);
});

test('text seeds: the prompt and the simulator seed key the text, the request seed varies it', () => {
  const a = parse(hi({ seed: 1 }));
  assert.equal(parse(hi({ seed: 1 })).textSeed, a.textSeed);
  assert.notEqual(parse(hi({ seed: 1 }), { seed: 7 }).textSeed, a.textSeed);
  assert.notEqual(parse({ messages: [{ role: 'user', content: 'ho' }], seed: 1 }).textSeed, a.textSeed);
  assert.deepEqual(
    [a.requestSeed, parse(hi({ seed: -1 })).requestSeed, parse(hi()).requestSeed],
    [1, 4294967295, 0],
  );
});

test('a refused body gives its 400 message', () => {
  const r = parseRequest(chat, '{"messages":[]}', DEFAULT_SIMULATOR_OPTIONS);
  assert.equal(r, "'messages' must be a non-empty array");
});
