/**
 * Tests of the SSE parser (every split point, line ends, UTF-8, comments) and
 * of the chunk classifier (fast path proven equal to the JSON.parse reference).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChunkType,
  classifyChunk,
  classifyChunkJson,
  classifyStats,
  newChunkInfo,
  SseParser,
  type ChunkInfo,
} from './sse-parser.js';

/** Parse `chunks` and return the data of every event. */
function parse(chunks: Uint8Array[]): string[] {
  const events: string[] = [];
  const parser = new SseParser({ onSseData: (data) => events.push(data) });
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return events;
}

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

const chunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
    ...extra,
  });

/** A recorded-style chat stream: role-only, reasoning, content with multi-byte text, finish, usage-only, [DONE]. */
const EVENTS = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ reasoning_content: 'Let me think' }),
  chunk({ content: 'Héllo' }),
  chunk({ content: ' wörld 🌍' }),
  chunk({ content: ' 日本語 "quoted" \\ back\nnew' }),
  chunk({}, {}).replace('"finish_reason":null', '"finish_reason":"stop"'),
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [],
    usage: { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 },
  }),
  '[DONE]',
];

function stream(lineEnd: string, comments = true): string {
  let out = comments ? `: keep-alive${lineEnd}${lineEnd}` : '';
  for (const e of EVENTS) {
    out += `event: message${lineEnd}id: 1${lineEnd}data: ${e}${lineEnd}${lineEnd}`;
    if (comments) out += `:ping${lineEnd}`;
  }
  return out;
}

for (const [name, lineEnd] of [
  ['LF', '\n'],
  ['CRLF', '\r\n'],
  ['CR', '\r'],
] as const) {
  test(`SSE ${name}: whole stream gives every event`, () => {
    assert.deepEqual(parse([enc(stream(lineEnd))]), EVENTS);
  });

  test(`SSE ${name}: split in two at every byte offset`, () => {
    const bytes = enc(stream(lineEnd));
    for (let at = 0; at <= bytes.length; at++) {
      const got = parse([bytes.subarray(0, at), bytes.subarray(at)]);
      assert.deepEqual(got, EVENTS, `split at byte ${at}`);
    }
  });

  test(`SSE ${name}: one byte per chunk`, () => {
    const bytes = enc(stream(lineEnd));
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) chunks.push(new Uint8Array(bytes.subarray(i, i + 1)));
    assert.deepEqual(parse(chunks), EVENTS);
  });
}

test('SSE: split in three at many offsets, copies of the chunks reused afterwards', () => {
  const bytes = enc(stream('\r\n'));
  for (let a = 0; a < bytes.length; a += 7) {
    for (let b = a; b <= bytes.length; b += 13) {
      // Simulate undici reusing memory: the parser must not keep views into a chunk after push.
      const parts = [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)].map((p) =>
        Buffer.from(p),
      );
      const events: string[] = [];
      const parser = new SseParser({ onSseData: (d) => events.push(d) });
      for (const p of parts) {
        parser.push(p);
        p.fill(0x78);
      }
      parser.end();
      assert.deepEqual(events, EVENTS, `split at ${a}, ${b}`);
    }
  }
});

test('SSE: UTF-8 multi-byte characters split inside the sequence decode correctly', () => {
  const text = 'data: {"c":"€𝄞é日"}\n\n';
  const bytes = enc(text);
  for (let at = 1; at < bytes.length; at++) {
    assert.deepEqual(parse([bytes.subarray(0, at), bytes.subarray(at)]), ['{"c":"€𝄞é日"}']);
  }
});

test('SSE: multi-line data joined with \\n; bare `data` line is an empty value', () => {
  assert.deepEqual(parse([enc('data: {"a":\ndata: 1}\n\n')]), ['{"a":\n1}']);
  assert.deepEqual(parse([enc('data\ndata: x\n\n')]), ['\nx']);
  assert.deepEqual(parse([enc('data:no-space\n\n')]), ['no-space']);
  assert.deepEqual(parse([enc('data:  two\n\n')]), [' two']);
});

test('SSE: comments, event/id/retry and unknown fields are not events', () => {
  assert.deepEqual(parse([enc(': hi\n\nevent: x\nid: 3\nretry: 10\n\ndatax: 1\n\n:\n\n')]), []);
});

test('SSE: a leading BOM is skipped, also when split', () => {
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), enc('data: 1\n\n')]);
  for (let at = 0; at <= bytes.length; at++) {
    assert.deepEqual(parse([bytes.subarray(0, at), bytes.subarray(at)]), ['1']);
  }
});

test('SSE: an event without the final blank line is delivered at end()', () => {
  assert.deepEqual(parse([enc('data: a\n\ndata: [DONE]')]), ['a', '[DONE]']);
  assert.deepEqual(parse([enc('data: a\n\ndata: [DONE]\n')]), ['a', '[DONE]']);
  assert.deepEqual(parse([enc('data: a\r\n\r\ndata: [DONE]\r')]), ['a', '[DONE]']);
});

test('SSE: Uint8Array chunks that are not Buffers', () => {
  const u = new Uint8Array(enc('data: x\n\n'));
  assert.deepEqual(parse([u]), ['x']);
});

// ---------------------------------------------------------------- classification

function classify(data: string): ChunkInfo {
  return { ...classifyChunk(data, newChunkInfo()) };
}
function reference(data: string): ChunkInfo {
  return { ...classifyChunkJson(data, newChunkInfo()) };
}
/** Fast and reference must agree on everything but the wording of messages. */
function assertSame(data: string): ChunkInfo {
  const a = classify(data);
  const b = reference(data);
  if (a.type === ChunkType.data) assert.deepEqual(a, b, data);
  else assert.equal(a.type, b.type, data);
  return a;
}

test('classify: role-only, empty delta, null content, finish chunk: no text', () => {
  for (const e of [
    chunk({ role: 'assistant' }),
    chunk({ role: 'assistant', content: '' }),
    chunk({}),
    chunk({ content: null }),
    chunk({ content: null, reasoning_content: null }),
    chunk({}, { usage: null }),
  ]) {
    const info = assertSame(e);
    assert.equal(info.type, ChunkType.data);
    assert.equal(info.content, '');
    assert.equal(info.reasoning, '');
    assert.equal(info.hasUsage, false);
  }
});

test('classify: content, reasoning_content, reasoning, completions text', () => {
  assert.equal(assertSame(chunk({ content: 'hi' })).content, 'hi');
  const r = assertSame(chunk({ reasoning_content: 'think', content: null }));
  assert.deepEqual([r.content, r.reasoning], ['', 'think']);
  assert.equal(assertSame(chunk({ reasoning: 'hmm' })).reasoning, 'hmm');
  // Both names present (servers in transition send both): counted once.
  assert.equal(assertSame(chunk({ reasoning_content: 'x', reasoning: 'x' })).reasoning, 'x');
  const c = assertSame(
    JSON.stringify({
      id: 'cmpl',
      object: 'text_completion',
      choices: [{ index: 0, text: ' the', logprobs: null, finish_reason: null }],
    }),
  );
  assert.equal(c.content, ' the');
});

test('classify: usage-only chunk and usage on the last choice chunk', () => {
  const only = assertSame(
    JSON.stringify({
      id: 'x',
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
    }),
  );
  assert.deepEqual([only.content, only.hasUsage, only.promptTokens, only.completionTokens], ['', true, 3, 5]);
  const last = assertSame(
    chunk(
      { content: '!' },
      {
        usage: {
          prompt_tokens: 1,
          completion_tokens: 9,
          completion_tokens_details: { reasoning_tokens: 4 },
        },
      },
    ),
  );
  assert.deepEqual([last.content, last.completionTokens, last.reasoningTokens], ['!', 9, 4]);
});

test('classify: [DONE], errors and invalid events', () => {
  assert.equal(classify('[DONE]').type, ChunkType.done);
  const err = classify(JSON.stringify({ error: { message: 'boom', type: 'server_error' } }));
  assert.deepEqual([err.type, err.message], [ChunkType.error, 'boom']);
  assert.equal(classify(JSON.stringify({ object: 'error', message: 'bad' })).message, 'bad');
  assert.equal(classify('{"choices":[{"delta":{"content":"x"}}]').type, ChunkType.invalid);
  assert.equal(classify('not json').type, ChunkType.invalid);
  assert.equal(classify('"a string"').type, ChunkType.invalid);
  assert.equal(classify('[1]').type, ChunkType.invalid);
  assert.equal(classify('').type, ChunkType.invalid);
});

test('classify: escapes, Python-style spaces, logprobs arrays, several choices', () => {
  assert.equal(assertSame(chunk({ content: 'a"b\\c\n\u00e9\u2028' })).content, 'a"b\\c\n\u00e9\u2028');
  assert.equal(assertSame('{"choices": [{"delta": {"content": "sp"}}]}').content, 'sp');
  assert.equal(assertSame('{"choices":[{"delta":{"content":"\\u00e9\\ud83c\\udf0d"}}]}').content, 'é🌍');
  assert.equal(
    assertSame(chunk({ content: 'x' }).replace('"logprobs":null', '"logprobs":{"content":[{"token":"x"}]}'))
      .content,
    'x',
  );
  const two = assertSame(
    JSON.stringify({ choices: [{ delta: { content: 'a' } }, { delta: { content: 'b' } }] }),
  );
  assert.equal(two.content, 'ab');
  // Text that looks like keys stays text.
  assert.equal(
    assertSame(chunk({ content: '"content":"no","usage":{' })).content,
    '"content":"no","usage":{',
  );
  assert.equal(assertSame(chunk({ content: 'an "error" here' })).content, 'an "error" here');
});

test('classify: the fast path handles ordinary chunks without JSON.parse', () => {
  const before = { ...classifyStats };
  for (const e of [
    chunk({ content: 'x' }),
    chunk({ role: 'assistant', content: '' }),
    chunk({ reasoning: 'r' }),
  ]) {
    classifyChunk(e, newChunkInfo());
  }
  assert.equal(classifyStats.fast - before.fast, 3);
  assert.equal(classifyStats.slow - before.slow, 0);
});

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a',
  ' the',
  'é',
  '🌍',
  '日本',
  '"',
  '\\',
  '\n',
  '\t',
  '\u0001',
  '"content":"',
  '"text":"x"',
  '"usage":{',
  '"error"',
  '\\"',
  '{',
  '}',
  '[DONE]',
  '"reasoning":',
  ' ',
  '',
];

test('classify: fast path equals JSON.parse on 20000 generated events', () => {
  const rand = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const text = (): string => {
    let s = '';
    const n = Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) s += pick(PIECES);
    return s;
  };
  const maybe = (): string | null | undefined => pick([text(), text(), null, undefined, '']);
  let fastHits = 0;
  for (let i = 0; i < 20000; i++) {
    const shape = Math.floor(rand() * 6);
    let obj: Record<string, unknown>;
    if (shape === 0) {
      obj = {
        id: 'cmpl',
        object: 'text_completion',
        choices: [{ index: 0, text: text(), finish_reason: null }],
      };
    } else if (shape === 1) {
      obj = {
        id: 'x',
        choices: [],
        usage: { prompt_tokens: i, completion_tokens: i + 1, total_tokens: 2 * i + 1 },
      };
    } else {
      const delta: Record<string, unknown> = {};
      if (rand() < 0.3) delta.role = 'assistant';
      for (const key of ['content', 'reasoning_content', 'reasoning']) {
        const v = maybe();
        if (v !== undefined) delta[key] = v;
      }
      const choice: Record<string, unknown> = { index: 0, delta, logprobs: null, finish_reason: null };
      if (rand() < 0.1) choice.logprobs = { content: [{ token: text(), logprob: -0.5 }] };
      obj = {
        id: `chatcmpl-${i}`,
        object: 'chat.completion.chunk',
        created: i,
        model: text(),
        choices: [choice],
      };
      if (rand() < 0.2) obj.usage = null;
      if (rand() < 0.05) obj.usage = { prompt_tokens: 1, completion_tokens: 2 };
      if (rand() < 0.05) obj.choices = [choice, { index: 1, delta: { content: text() } }];
    }
    let data = JSON.stringify(obj);
    if (rand() < 0.2) data = JSON.stringify(obj, null, rand() < 0.5 ? 1 : undefined).replace(/":/g, '": ');
    if (rand() < 0.02) data = data.slice(0, Math.floor(rand() * data.length));
    const before = classifyStats.fast;
    const cut = reference(data).type === ChunkType.invalid && data.endsWith('}');
    // Documented limit: a cut-short event that still ends in `}` is not validated by the fast path.
    if (!cut) assertSame(data);
    fastHits += classifyStats.fast - before;
  }
  // The generator is adversarial; still most events must take the fast path.
  assert.ok(fastHits > 10000, `fast path taken ${fastHits} times`);
});

test('a 16 MiB line costs linear time: its chunks are joined once, not copied on every chunk', () => {
  let got = 0;
  const parser = new SseParser({ onSseData: (data) => (got = data.length) }, 32 * 1024 * 1024);
  const piece = Buffer.alloc(64 * 1024, 'a');
  const started = performance.now();
  parser.push(enc('data: '));
  for (let sent = 0; sent < 16 * 1024 * 1024; sent += piece.length) assert.equal(parser.push(piece), true);
  parser.push(enc('\n\n'));
  const elapsed_ms = performance.now() - started;
  assert.equal(got, 16 * 1024 * 1024);
  // Copying the carry-over into every chunk took 13 s on a loaded 2-core host; joined once, ~0.2 s.
  assert.ok(elapsed_ms < 3000, `${elapsed_ms} ms`);
});

test('a line longer than the bound stops the parser: push returns false and nothing more is kept', () => {
  const events: string[] = [];
  const parser = new SseParser({ onSseData: (data) => events.push(data) }, 1024);
  assert.equal(parser.push(enc('data: {"a":1}\n\n')), true);
  assert.equal(parser.push(enc('data: ' + 'x'.repeat(600))), true);
  assert.equal(parser.push(enc('x'.repeat(600))), false);
  assert.match(parser.overflow ?? '', /SSE line longer than 1024 bytes/);
  assert.equal(parser.push(enc('\n\ndata: {"b":2}\n\n')), false, 'stopped for good');
  parser.end();
  assert.deepEqual(events, ['{"a":1}']);
  // One chunk holding the whole over-long line, terminated or not.
  const one = new SseParser({ onSseData: (data) => events.push(data) }, 1024);
  assert.equal(one.push(enc(`data: ${'y'.repeat(2000)}\n\n`)), false);
  const unterminated = new SseParser({ onSseData: (data) => events.push(data) }, 1024);
  assert.equal(unterminated.push(enc(`data: ${'y'.repeat(2000)}`)), false);
  assert.equal(events.length, 1);
});

test('many data lines with no blank line between them are bounded as one event', () => {
  const events: string[] = [];
  const parser = new SseParser({ onSseData: (data) => events.push(data) }, 1024);
  let ok = true;
  for (let i = 0; i < 100 && ok; i++) ok = parser.push(enc(`data: ${'z'.repeat(50)}\n`));
  assert.equal(ok, false);
  assert.match(parser.overflow ?? '', /SSE event data longer than 1024 characters/);
  assert.deepEqual(events, []);
});

test('usage numbers no count can be are refused and read as absent', () => {
  for (const raw of ['1e400', '1e23', '2.5', '-3', '2147483648']) {
    const info = classifyChunkJson(
      `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":${raw}}}`,
      newChunkInfo(),
    );
    assert.equal(info.type, ChunkType.data);
    assert.equal(info.completionTokens, -1, raw);
    assert.equal(info.promptTokens, 3, raw);
    assert.match(
      info.usageIssue,
      /^usage\.completion_tokens is \S+, expected an integer from 0 to 2147483647$/,
      raw,
    );
  }
  const nested = classifyChunkJson(
    '{"choices":[],"usage":{"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":-1}}}',
    newChunkInfo(),
  );
  assert.match(nested.usageIssue, /reasoning_tokens is -1/);
  const fine = classifyChunkJson(
    '{"choices":[],"usage":{"prompt_tokens":0,"completion_tokens":2147483647}}',
    newChunkInfo(),
  );
  assert.equal(fine.usageIssue, '');
  assert.equal(fine.completionTokens, 2147483647);
});

test('usage.prompt_tokens_details.cached_tokens is read; null details are absent; impossible counts refused', () => {
  const read = (usage: string) => classifyChunkJson(`{"choices":[],"usage":${usage}}`, newChunkInfo());
  const hit = read(
    '{"prompt_tokens":300,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":256}}',
  );
  assert.deepEqual([hit.cachedTokens, hit.usageIssue], [256, '']);
  assert.equal(read('{"prompt_tokens":3,"prompt_tokens_details":null}').cachedTokens, -1);
  assert.equal(read('{"prompt_tokens":3}').cachedTokens, -1);
  for (const raw of ['-1', '2.5', '"12"']) {
    const bad = read(`{"prompt_tokens":3,"prompt_tokens_details":{"cached_tokens":${raw}}}`);
    assert.equal(bad.cachedTokens, -1, raw);
    if (raw !== '"12"') assert.match(bad.usageIssue, /prompt_tokens_details\.cached_tokens is/, raw);
  }
  // A plain content chunk keeps the fast path and carries no cached count.
  const plain = classifyChunk('{"choices":[{"index":0,"delta":{"content":"a"}}]}', newChunkInfo());
  assert.equal(plain.cachedTokens, -1);
});
