/**
 * Prompts of an exact input token count, cut from the shipped public-domain corpus
 * (data/corpus.txt) at a given start position. The corpus is tokenized once per
 * tokenizer; after that a prompt costs a couple of array lookups and a string slice.
 *
 * How exactness is kept cheap: the corpus is split into word pieces at " <letter>" after
 * a word or punctuation. Each piece is tokenized on its own, and the split is accepted
 * only if the pieces' tokens, concatenated, equal the tokens of the whole corpus: then a
 * run of whole pieces re-encodes to exactly its pieces' tokens (BPE pre-tokenizers cut at
 * those spaces), so a prompt of n tokens is any run of pieces whose token counts sum to n.
 * A self-check over sample prompts confirms this with `tokenizer.count`. A tokenizer that
 * fails either check (e.g. a SentencePiece one that adds a leading "▁" per piece) gets the
 * general method: decode a token window, re-encode, resize the window by the difference,
 * repeat; exact too, but O(n) per prompt.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfermarkError, ValidationError } from '../base/errors.js';
import { sha256 } from '../base/digest.js';
import { Prng } from '../base/prng.js';
import type { Tokenizer } from './tokenizer.js';

/** The text prompts are cut from. */
export interface Corpus {
  /** Path relative to the project root when shipped (`data/corpus.txt`), else as given. */
  name: string;
  text: string;
  /** sha256 of the text (UTF-8), part of every synthetic workload's description. */
  digest: string;
}

/** Find `data/corpus.txt` above this module (works from src/ and from dist/src/). */
export function defaultCorpusPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'data', 'corpus.txt');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new InfermarkError('E_CORPUS_MISSING', 'data/corpus.txt not found above the workload module');
}

const corpusCache = new Map<string, Promise<Corpus>>();

/** Load a corpus (default: the shipped data/corpus.txt); cached per resolved path. */
export function loadCorpus(path?: string): Promise<Corpus> {
  const file = resolve(path ?? defaultCorpusPath());
  let pending = corpusCache.get(file);
  if (!pending) {
    pending = (async () => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new ValidationError([
          {
            file,
            path: '',
            message: `cannot read corpus (${(error as Error).message}); expected a UTF-8 text file`,
          },
        ]);
      }
      if (text.trim().length === 0) {
        throw new ValidationError([{ file, path: '', message: 'corpus is empty; expected running text' }]);
      }
      return { name: path === undefined ? 'data/corpus.txt' : file, text, digest: sha256(text) };
    })();
    corpusCache.set(file, pending);
    pending.catch(() => corpusCache.delete(file));
  }
  return pending;
}

/** Cuts exact-length prompts from one corpus for one tokenizer. */
export interface PromptSynthesizer {
  readonly tokenizer: Tokenizer;
  readonly corpus: Corpus;
  /** `segmented` (fast, whole word pieces) or `verified` (decode/re-encode per prompt). */
  readonly mode: 'segmented' | 'verified';
  /** Corpus length in tokens. */
  readonly corpusTokens: number;
  /** Number of distinct start positions: prompts with different starts (mod this) differ. */
  readonly startCount: number;
  /**
   * Text of exactly `tokens` tokens (by the tokenizer) starting at start position
   * `start` (taken modulo `startCount`); continues past the corpus end from its start.
   * When no exact prompt begins at `start`, the next start positions are tried in order,
   * so the result is still a pure function of (start, tokens).
   */
  prompt(start: number, tokens: number): string;
  /**
   * Like `prompt`, for text that follows other prompt text: it never begins at the corpus's
   * first piece (the one piece that does not open with " <letter>"), so in `segmented` mode
   * any prompt text followed by it re-encodes to exactly the sum of both token counts.
   */
  continuation(start: number, tokens: number): string;
}

const synthCache = new WeakMap<Tokenizer, Map<string, Promise<PromptSynthesizer>>>();

/** The synthesizer for a tokenizer and corpus (default corpus if omitted); built once, then cached. */
export function createPromptSynthesizer(tokenizer: Tokenizer, corpus?: Corpus): Promise<PromptSynthesizer> {
  let byCorpus = synthCache.get(tokenizer);
  if (!byCorpus) {
    byCorpus = new Map();
    synthCache.set(tokenizer, byCorpus);
  }
  const cacheKey = corpus?.digest ?? 'default';
  let pending = byCorpus.get(cacheKey);
  if (!pending) {
    pending = (async () => build(tokenizer, corpus ?? (await loadCorpus())))();
    byCorpus.set(cacheKey, pending);
    pending.catch(() => byCorpus.delete(cacheKey));
  }
  return pending;
}

function build(tokenizer: Tokenizer, corpus: Corpus): PromptSynthesizer {
  const ids = tokenizer.encode(corpus.text);
  if (ids.length === 0) throw new InfermarkError('E_CORPUS', `${corpus.name}: tokenizes to no tokens`);
  const segmented = trySegmented(tokenizer, corpus, ids);
  if (segmented && selfCheck(segmented)) return segmented;
  return new VerifiedSynthesizer(tokenizer, corpus, ids);
}

/** Positions just before " <letter>" that follow a word character or closing punctuation. */
const PIECE_BREAK = /(?<=[A-Za-z0-9.,;:!?'")\]])(?= [A-Za-z])/g;

function trySegmented(tokenizer: Tokenizer, corpus: Corpus, ids: number[]): SegmentedSynthesizer | undefined {
  const text = corpus.text;
  const charStarts: number[] = [0];
  for (const match of text.matchAll(PIECE_BREAK)) if (match.index > 0) charStarts.push(match.index);
  const pieceCount = charStarts.length;
  const tokenStarts = new Int32Array(pieceCount + 1);
  let cursor = 0;
  for (let k = 0; k < pieceCount; k++) {
    tokenStarts[k] = cursor;
    const piece = text.slice(charStarts[k], k + 1 < pieceCount ? charStarts[k + 1] : text.length);
    const pieceIds = tokenizer.encode(piece);
    for (const id of pieceIds) {
      if (ids[cursor] !== id) return undefined;
      cursor++;
    }
  }
  if (cursor !== ids.length) return undefined;
  tokenStarts[pieceCount] = cursor;
  // The wrap-around junction (corpus end → corpus start) must also be a clean cut.
  const last = text.slice(charStarts[pieceCount - 1]);
  const first = text.slice(0, pieceCount > 1 ? charStarts[1] : text.length);
  const joined = tokenizer.encode(last + first);
  const expected = [...tokenizer.encode(last), ...tokenizer.encode(first)];
  if (joined.length !== expected.length || joined.some((id, i) => id !== expected[i])) return undefined;
  return new SegmentedSynthesizer(tokenizer, corpus, ids.length, Int32Array.from(charStarts), tokenStarts);
}

/** Spot-check exactness with the tokenizer itself over lengths from 1 to past one corpus wrap. */
function selfCheck(synth: PromptSynthesizer): boolean {
  const rng = new Prng(0x1f2e3d4c, synth.corpusTokens);
  const lengths = [1, 2, 3, 7, 64, 511, 2048, synth.corpusTokens + 5];
  for (let i = 0; i < 24; i++) lengths.push(rng.intInclusive(1, 4096));
  for (const n of lengths) {
    const start = rng.intInclusive(0, synth.startCount - 1);
    if (synth.tokenizer.count(synth.prompt(start, n)) !== n) return false;
  }
  return true;
}

class SegmentedSynthesizer implements PromptSynthesizer {
  readonly mode = 'segmented' as const;
  readonly startCount: number;
  /** pieceAtToken[t] = index of the piece starting at token t, or -1. */
  private readonly pieceAtToken: Int32Array;

  constructor(
    readonly tokenizer: Tokenizer,
    readonly corpus: Corpus,
    readonly corpusTokens: number,
    private readonly charStarts: Int32Array,
    private readonly tokenStarts: Int32Array,
  ) {
    this.startCount = charStarts.length;
    this.pieceAtToken = new Int32Array(corpusTokens).fill(-1);
    for (let k = 0; k < this.startCount; k++) this.pieceAtToken[tokenStarts[k]!] = k;
  }

  prompt(start: number, tokens: number): string {
    return this.cut(mod(start, this.startCount), tokens, false);
  }

  continuation(start: number, tokens: number): string {
    const n = this.startCount;
    return n < 2 ? this.prompt(start, tokens) : this.cut(1 + mod(start, n - 1), tokens, true);
  }

  private cut(first: number, tokens: number, skipFirstPiece: boolean): string {
    checkLength(tokens);
    const L = this.corpusTokens;
    let k = first;
    // Pieces are ~1.3 tokens long, so the end lands on a piece boundary within a few tries.
    for (let tries = 0; tries < this.startCount; tries++, k = (k + 1) % this.startCount) {
      if (k === 0 && skipFirstPiece) continue;
      const end = this.tokenStarts[k]! + tokens;
      const endPiece = this.pieceAtToken[end % L]!;
      if (endPiece < 0) continue;
      const text = this.corpus.text;
      const from = this.charStarts[k]!;
      const to = this.charStarts[endPiece]!;
      const wraps = Math.floor(end / L);
      if (wraps === 0) return text.slice(from, to);
      return text.slice(from) + text.repeat(wraps - 1) + text.slice(0, to);
    }
    throw new InfermarkError('E_PROMPT', `no ${tokens}-token prompt can be cut from ${this.corpus.name}`);
  }
}

class VerifiedSynthesizer implements PromptSynthesizer {
  readonly mode = 'verified' as const;
  readonly corpusTokens: number;
  readonly startCount: number;

  constructor(
    readonly tokenizer: Tokenizer,
    readonly corpus: Corpus,
    private readonly ids: number[],
  ) {
    this.corpusTokens = ids.length;
    this.startCount = ids.length;
  }

  continuation(start: number, tokens: number): string {
    // Joins are not exact here anyway: `appendExact` counts the whole text.
    return this.prompt(start, tokens);
  }

  prompt(start: number, tokens: number): string {
    checkLength(tokens);
    let offset = mod(start, this.startCount);
    for (let tries = 0; tries < 64; tries++, offset = (offset + 1) % this.startCount) {
      // Decoding a token window and re-encoding can merge or split tokens at the edges;
      // resize the window by the difference until the count is exact (usually 0–2 rounds).
      let window = tokens;
      const seen = new Set<number>();
      while (window >= 1 && !seen.has(window)) {
        seen.add(window);
        const text = this.tokenizer.decode(this.slice(offset, window));
        const count = this.tokenizer.count(text);
        if (count === tokens) return text;
        window += tokens - count;
      }
    }
    throw new InfermarkError('E_PROMPT', `no ${tokens}-token prompt found near corpus token ${start}`);
  }

  /** `count` tokens from `offset`, wrapping around the corpus end. */
  private slice(offset: number, count: number): number[] {
    const out: number[] = [];
    let at = offset;
    while (out.length < count) {
      const take = Math.min(count - out.length, this.ids.length - at);
      for (let i = 0; i < take; i++) out.push(this.ids[at + i]!);
      at = 0;
    }
    return out;
  }
}

/** A prompt text and its exact token count. */
export interface CountedText {
  text: string;
  tokens: number;
}

/** Rounds of resizing the tail in `appendExact` before the count is taken as it is. */
const APPEND_ROUNDS = 8;

/**
 * `head` (cut by `synth`, `headTokens` tokens asked) followed by `tokens` more tokens cut at
 * start position `start`: the whole is exactly `headTokens + tokens` tokens. `segmented`
 * synthesizers join exactly by construction (see `continuation`); otherwise the whole text is
 * counted and the tail resized until it fits, and after a few rounds the true count is
 * returned with the text. Only the tail changes, so texts sharing a head share it byte for byte.
 */
export function appendExact(
  synth: PromptSynthesizer,
  head: string,
  headTokens: number,
  start: number,
  tokens: number,
): CountedText {
  const total = headTokens + tokens;
  if (synth.mode === 'segmented') return { text: head + synth.continuation(start, tokens), tokens: total };
  let tail = tokens;
  let text = head + synth.continuation(start, tail);
  let count = synth.tokenizer.count(text);
  for (let round = 0; round < APPEND_ROUNDS && count !== total && tail + total - count >= 1; round++) {
    tail += total - count;
    text = head + synth.continuation(start, tail);
    count = synth.tokenizer.count(text);
  }
  return { text, tokens: count };
}

function checkLength(tokens: number): void {
  if (!Number.isSafeInteger(tokens) || tokens < 1) {
    throw new RangeError(`prompt length must be a positive integer, got ${tokens}`);
  }
}

function mod(x: number, n: number): number {
  return ((x % n) + n) % n;
}
