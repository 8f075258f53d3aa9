// Tests for exact-length prompt synthesis: o200k_base and cl100k_base (fast path), a Hugging
// Face WordLevel tokenizer, and a quirky tokenizer that forces the decode/re-encode path.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../base/prng.js';
import { appendExact, createPromptSynthesizer, loadCorpus } from './prompts.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';
import { tinyWordLevel } from './testing/tokenizer-fixtures.js';

test('the shipped corpus is at least 100 KB of text', async () => {
  const corpus = await loadCorpus();
  assert.ok(Buffer.byteLength(corpus.text) >= 100_000);
  assert.equal(corpus.name, 'data/corpus.txt');
  assert.match(corpus.digest, /^sha256:[0-9a-f]{64}$/);
});

test('o200k_base: prompts have exactly the asked token count (fixed and random lengths, random starts)', async () => {
  const tok = await loadTokenizer('o200k_base');
  const synth = await createPromptSynthesizer(tok);
  assert.equal(synth.mode, 'segmented');
  const rng = new Prng(42);
  const lengths = [1, 2, 3, 7, 100, 2000, 7800, synth.corpusTokens - 1, synth.corpusTokens + 17];
  for (let i = 0; i < 60; i++) lengths.push(rng.intInclusive(1, 9000));
  for (const n of lengths) {
    for (let k = 0; k < 3; k++) {
      const start = rng.intInclusive(0, synth.startCount * 2);
      const prompt = synth.prompt(start, n);
      assert.equal(tok.count(prompt), n, `length ${n} at start ${start}`);
      assert.equal(synth.prompt(start, n), prompt, 'a pure function of (start, length)');
    }
  }
});

test('a prompt longer than the corpus wraps around and is still exact', async () => {
  const tok = await loadTokenizer('o200k_base');
  const synth = await createPromptSynthesizer(tok);
  const n = synth.corpusTokens * 2 + 123;
  const prompt = synth.prompt(5, n);
  assert.equal(tok.count(prompt), n);
});

test('cl100k_base: exact counts too', async () => {
  const tok = await loadTokenizer('cl100k_base');
  const synth = await createPromptSynthesizer(tok);
  for (const n of [1, 2, 7, 100, 2000, 7800]) assert.equal(tok.count(synth.prompt(n * 31, n)), n);
});

test('a Hugging Face WordLevel tokenizer.json gives exact counts', async () => {
  const corpus = await loadCorpus();
  const words = [...new Set(corpus.text.match(/\w+|[^\w\s]+/g))];
  const dir = await mkdtemp(join(tmpdir(), 'infermark-prompts-'));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyWordLevel(words)));
  const tok = await loadTokenizer(join(dir, 'tokenizer.json'));
  const synth = await createPromptSynthesizer(tok);
  for (const n of [1, 2, 7, 100, 2000]) assert.equal(tok.count(synth.prompt(n * 7 + 3, n)), n);
});

/** Characters as tokens, except that a text's leading space is dropped: cutting at " word" is not clean. */
function quirkyTokenizer(): Tokenizer {
  const encode = (text: string) => [...text.replace(/^ /, '')].map((c) => c.codePointAt(0)!);
  return {
    name: 'quirky-chars',
    encode,
    decode: (ids) => String.fromCodePoint(...ids),
    count: (text) => encode(text).length,
    countBounded: (text) => encode(text).length,
  };
}

test('a tokenizer that fails the fast-path checks gets the decode/re-encode path, still exact', async () => {
  const tok = quirkyTokenizer();
  const corpus = await loadCorpus();
  const small = { ...corpus, text: corpus.text.slice(0, 20_000), digest: 'sha256:small' };
  const synth = await createPromptSynthesizer(tok, small);
  assert.equal(synth.mode, 'verified');
  for (const n of [1, 2, 7, 100, 2000, 25_000]) {
    for (const start of [0, 1, 17, 999, 19_999]) {
      const prompt = synth.prompt(start, n);
      assert.equal(tok.count(prompt), n, `length ${n} at ${start}`);
    }
  }
});

test('prompt() rejects non-positive lengths', async () => {
  const synth = await createPromptSynthesizer(await loadTokenizer());
  assert.throws(() => synth.prompt(0, 0), RangeError);
  assert.throws(() => synth.prompt(0, 1.5), RangeError);
});

test('appendExact: a head and a continuation join to exactly the tokens asked, the head byte for byte', async () => {
  const tok = await loadTokenizer();
  const synth = await createPromptSynthesizer(tok);
  assert.equal(synth.mode, 'segmented');
  for (const [head, tail] of [
    [1, 1],
    [16, 3],
    [512, 100],
    [2000, 1],
  ] as const) {
    const headText = synth.prompt(head * 31, head);
    // Start 0 is the corpus's first piece: a continuation never begins there.
    for (const start of [0, 1, 12_345, synth.startCount - 1]) {
      const joined = appendExact(synth, headText, head, start, tail);
      assert.ok(joined.text.startsWith(headText));
      assert.equal(joined.tokens, head + tail);
      assert.equal(tok.count(joined.text), head + tail, `head ${head}, tail ${tail} at ${start}`);
    }
  }
  const quirky = quirkyTokenizer();
  const corpus = await loadCorpus();
  const small = await createPromptSynthesizer(quirky, {
    ...corpus,
    text: corpus.text.slice(0, 20_000),
    digest: 'sha256:small-join',
  });
  const headText = small.prompt(5, 40);
  for (const start of [0, 7, 999]) {
    const joined = appendExact(small, headText, 40, start, 60);
    assert.ok(joined.text.startsWith(headText));
    assert.equal(quirky.count(joined.text), joined.tokens);
    assert.equal(joined.tokens, 100, 'the tail is resized until the whole fits');
  }
});
