// Tests for the tokenizer loader: built-in encodings and a Hugging Face tokenizer.json made here.
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../base/errors.js';
import { loadTokenizer } from './tokenizer.js';
import { tinyWordLevel } from './testing/tokenizer-fixtures.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'infermark-tok-'));
}

test('o200k_base is the default and round-trips text', async () => {
  const tok = await loadTokenizer();
  assert.equal(tok.name, 'o200k_base');
  const text = 'Members of the Congress, the Constitution makes us partners for progress.';
  const ids = tok.encode(text);
  assert.equal(tok.decode(ids), text);
  assert.equal(tok.count(text), ids.length);
  assert.equal(await loadTokenizer('o200k_base'), tok, 'cached per spec');
});

test('cl100k_base loads and counts differently from o200k_base on some text', async () => {
  const tok = await loadTokenizer('cl100k_base');
  assert.equal(tok.name, 'cl100k_base');
  assert.equal(tok.decode(tok.encode('hello world')), 'hello world');
  // Special-token text is counted as plain text instead of throwing.
  assert.ok(tok.count('a <|endoftext|> b') > 3);
});

test('a Hugging Face tokenizer.json (WordLevel) loads from a file or its folder, with tokenizer_config.json', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyWordLevel(['hello', 'world', '!'])));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 512 }));
  const tok = await loadTokenizer(join(dir, 'tokenizer.json'));
  assert.match(tok.name, /^hf:infermark-tok-\w+@[0-9a-f]{16}$/);
  assert.deepEqual(tok.encode('hello world!'), [1, 2, 3]);
  assert.equal(tok.count('hello world! hello'), 4);
  assert.equal(tok.decode([1, 2]).replace(/\s+/g, ' ').trim(), 'hello world');
  const viaFolder = await loadTokenizer(dir);
  assert.equal(viaFolder.name, tok.name, 'named by content digest, not by path');
});

test('bad tokenizer specs are ValidationErrors naming the file and what was expected', async () => {
  const dir = await tempDir();
  const missing = join(dir, 'nope', 'tokenizer.json');
  await assert.rejects(loadTokenizer(missing), (error: unknown) => {
    assert.ok(error instanceof ValidationError);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /nope\/tokenizer\.json/);
    assert.match(error.message, /o200k_base.*tokenizer\.json/);
    return true;
  });
  const notJson = join(dir, 'bad.json');
  await writeFile(notJson, '{ not json');
  await assert.rejects(loadTokenizer(notJson), (error: unknown) => {
    assert.ok(error instanceof ValidationError);
    assert.match(error.message, /bad\.json: not valid JSON .*expected a Hugging Face tokenizer\.json/);
    return true;
  });
  const noModel = join(dir, 'nomodel.json');
  await writeFile(noModel, JSON.stringify({ version: '1.0' }));
  await assert.rejects(
    loadTokenizer(noModel),
    /nomodel\.json: expected a Hugging Face tokenizer\.json with a "model" object/,
  );
  const badConfigDir = join(dir, 'cfg');
  await mkdir(badConfigDir);
  await writeFile(join(badConfigDir, 'tokenizer.json'), JSON.stringify(tinyWordLevel(['a'])));
  await writeFile(join(badConfigDir, 'tokenizer_config.json'), '[1,2]');
  await assert.rejects(
    loadTokenizer(badConfigDir),
    /tokenizer_config\.json: expected a tokenizer_config\.json object/,
  );
});

test('counting is linear in the text: long runs with no space are cut, ordinary text counts exactly', async () => {
  const tok = await loadTokenizer();
  let x = 12345;
  const next = (): number => (x = (x * 1103515245 + 12345) >>> 0);
  let letters = '';
  for (let i = 0; i < 120_000; i++) letters += String.fromCharCode(97 + (next() % 26));
  let cjk = '';
  for (let i = 0; i < 20_000; i++) cjk += String.fromCharCode(0x4e00 + (next() % 3000));
  let words = '';
  while (words.length < 100_000) {
    const at = next() % 1000;
    words += `${letters.slice(at, at + 1 + (next() % 12))}${next() % 5 === 0 ? ', ' : ' '}`;
  }
  // Counted whole, these took 31 s and 4.8 s (quadratic BPE over one piece) on a loaded 2-core host.
  for (const [name, text] of [
    ['120,000 letters with no space', letters],
    ['20,000 CJK characters', cjk],
  ] as const) {
    const started = performance.now();
    const n = tok.countBounded(text);
    const elapsed_ms = performance.now() - started;
    console.log(`# ${name}: ${n} tokens in ${elapsed_ms.toFixed(0)} ms`);
    assert.ok(elapsed_ms < 8000, `${name}: ${elapsed_ms} ms`);
    assert.ok(n > text.length / 4);
  }
  // Cuts at word boundaries change nothing: the pre-tokenizer splits there too.
  assert.equal(tok.countBounded(words), tok.encode(words).length);
  assert.equal(tok.countBounded(`  ${words}\n\n${words}`), tok.encode(`  ${words}\n\n${words}`).length);
  // count itself stays exact (prompts of an exact length depend on it), newline after punctuation included.
  const prose = 'It ended.\nThen it began again, and again.\n\nFin.';
  assert.equal(tok.count(prose), tok.encode(prose).length);
});
