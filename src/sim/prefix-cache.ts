/**
 * The simulated engine's automatic prefix cache, after vLLM's: the prompt (o200k_base tokens,
 * the simulator's own count) is cut into blocks of BLOCK_TOKENS, each block's hash chains the
 * hash of the block before it (so a block is found only behind the same whole prefix), and a
 * bounded LRU of block hashes stands for the KV blocks kept. A request is served the longest
 * run of leading blocks found, at most the prompt less its last token (vLLM always computes
 * one), and its own full blocks enter the cache at once: a request arriving while an identical
 * prefix is still in prefill finds it (vLLM would compute it twice).
 */
import { encode } from 'gpt-tokenizer/encoding/o200k_base';

/** Tokens per cached block (vLLM's default block size). */
export const BLOCK_TOKENS = 16;

// Special-token strings in user text are counted as ordinary text, as text.ts does.
const ENCODE_OPTIONS = { disallowedSpecial: new Set<string>() };
/** Prompts whose block hashes are remembered (benchmarks resend prompts); cleared when full. */
const HASH_MEMO_LIMIT = 1024;
const memo = new Map<string, Float64Array>();

/**
 * The chained hashes of `text`'s full blocks, rooted at `root` (a format's own, so chat and
 * completions prompts never share): two 32-bit FNV-style lanes folded into one 53-bit number.
 */
export function blockHashes(text: string, root: number): Float64Array {
  const key = `${root}:${text}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const ids = encode(text, ENCODE_OPTIONS);
  const blocks = Math.floor(ids.length / BLOCK_TOKENS);
  const out = new Float64Array(blocks);
  let a = (0x811c9dc5 ^ root) >>> 0;
  let b = (0x9e3779b9 ^ Math.imul(root, 0x85ebca6b)) >>> 0;
  for (let j = 0; j < blocks; j++) {
    for (let t = j * BLOCK_TOKENS; t < (j + 1) * BLOCK_TOKENS; t++) {
      const id = ids[t]!;
      a = Math.imul(a ^ id, 0x01000193) >>> 0;
      b = Math.imul(b ^ (id + 0x7f4a7c15), 0xc2b2ae35) >>> 0;
      b = (b ^ (b >>> 15)) >>> 0;
    }
    out[j] = (a & 0x1fffff) * 0x100000000 + b;
  }
  if (memo.size >= HASH_MEMO_LIMIT) memo.clear();
  memo.set(key, out);
  return out;
}

/** One node's cache: at most `capacity` blocks, the least recently used leaving first. */
export class PrefixCache {
  /** Insertion order is recency order: a touched block is deleted and set again. */
  private readonly blocks = new Map<number, true>();

  constructor(readonly capacity: number) {}

  /**
   * Serve a prompt of `promptTokens` tokens whose full blocks hash to `hashes`: the cached
   * tokens (whole leading blocks found, within the first promptTokens − 1 tokens), after which
   * all its blocks are the most recently used.
   */
  serve(hashes: Float64Array, promptTokens: number): number {
    const lookup = Math.min(hashes.length, Math.floor(Math.max(0, promptTokens - 1) / BLOCK_TOKENS));
    let found = 0;
    while (found < lookup && this.blocks.has(hashes[found]!)) found++;
    // Deepest first: the leading blocks are the most recent, so eviction cuts a prefix from its end.
    for (let j = hashes.length - 1; j >= 0; j--) {
      this.blocks.delete(hashes[j]!);
      this.blocks.set(hashes[j]!, true);
    }
    for (let over = this.blocks.size - this.capacity; over > 0; over--) {
      const oldest = this.blocks.keys().next().value as number;
      this.blocks.delete(oldest);
    }
    return found * BLOCK_TOKENS;
  }

  /** Blocks held now. */
  get size(): number {
    return this.blocks.size;
  }

  /** An engine restart empties the cache (its KV memory is gone). */
  clear(): void {
    this.blocks.clear();
  }
}
