// Tests for the tokenizer loader: built-in encodings and a Hugging Face tokenizer.json made here.
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../errors.js';
import { loadTokenizer } from './tokenizer.js';
import { tinyWordLevel } from './tokenizer-fixtures.js';

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
