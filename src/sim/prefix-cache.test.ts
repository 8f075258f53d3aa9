// Tests for the simulator's prefix cache: chained block hashes, the longest cached run of
// leading blocks, the last-token cap, and the LRU bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode, decode } from 'gpt-tokenizer/encoding/o200k_base';
import { BLOCK_TOKENS, PrefixCache, blockHashes } from './prefix-cache.js';

const WORDS =
  ' alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho'.split(' ');

/** Text of exactly `tokens` o200k tokens, varied by `salt`. */
function text(tokens: number, salt: number): string {
  const ids: number[] = [];
  for (let i = 0; ids.length < tokens; i++)
    ids.push(...encode(` ${WORDS[(i * 7 + salt) % WORDS.length]}${salt}`));
  return decode(ids.slice(0, tokens));
}

test('block hashes chain: a shared prefix shares its leading blocks, nothing after a difference', () => {
  const shared = text(64, 1);
  const a = blockHashes(shared + text(40, 2), 7);
  const b = blockHashes(shared + text(40, 3), 7);
  assert.ok(a.length >= 6);
  assert.deepEqual([...a.slice(0, 4)], [...b.slice(0, 4)]);
  // Same block content behind a different first block hashes differently (the chain).
  const c = blockHashes(text(16, 9) + shared.slice(0), 7);
  assert.ok(!c.includes(a[1]!));
  // Another root (another format) shares nothing.
  assert.ok(!blockHashes(shared, 8).includes(a[0]!));
  assert.equal(blockHashes('', 7).length, 0);
});

test('serve: leading blocks found, at most the prompt less one token; LRU keeps at most capacity blocks', () => {
  const cache = new PrefixCache(8);
  const prompt = text(64, 4);
  const hashes = blockHashes(prompt, 1);
  assert.equal(hashes.length, 4);
  assert.equal(cache.serve(hashes, 64), 0, 'cold');
  // All 64 tokens are cached, but the last one is always computed: 3 whole blocks are served.
  assert.equal(cache.serve(hashes, 64), 3 * BLOCK_TOKENS);
  const longer = blockHashes(prompt + text(40, 5), 1);
  assert.equal(cache.serve(longer, 104), 4 * BLOCK_TOKENS);
  assert.ok(cache.size <= 8);
  // Fill past capacity with other prompts: the oldest go, and a cut prefix loses its deepest blocks first.
  for (let salt = 10; salt < 14; salt++) cache.serve(blockHashes(text(64, salt), 1), 64);
  assert.equal(cache.size, 8);
  assert.equal(cache.serve(hashes, 64), 0, 'evicted');
  const small = new PrefixCache(2);
  small.serve(hashes, 64);
  assert.equal(
    small.serve(hashes, 64),
    2 * BLOCK_TOKENS,
    'the leading blocks stay when a prompt overflows the cache',
  );
  small.clear();
  assert.equal(small.size, 0);
});
