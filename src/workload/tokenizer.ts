/**
 * Tokenizers the workload counts with: gpt-tokenizer's o200k_base / cl100k_base
 * (imported lazily, each encoding is a few MB), or a Hugging Face `tokenizer.json`
 * loaded with @huggingface/tokenizers (pure JS, nothing downloaded).
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { ValidationError } from '../base/errors.js';
import { sha256 } from '../base/digest.js';

/**
 * Encodes text to token ids and back. `count(text) === encode(text).length`, exactly (prompts
 * of an exact token length depend on it); `countBounded` costs time linear in the text
 * whatever it holds, for text a server sent (see `countInSegments`).
 */
export interface Tokenizer {
  /** `o200k_base`, `cl100k_base`, or `hf:<folder name>@<first 16 hex of the tokenizer.json's sha256>`. */
  name: string;
  encode(text: string): number[];
  decode(ids: number[]): string;
  count(text: string): number;
  /**
   * `count` in segments, linear in the text's length: a server's output (120,000 letters
   * with no space) must not freeze the client. Each cut inside a run with no word boundary,
   * or between punctuation and the newline the pre-tokenizer joins to it, may differ from
   * `count` by a token.
   */
  countBounded(text: string): number;
}

/** Built-in encodings; keys are the names accepted by `loadTokenizer`. */
const BUILTIN = {
  o200k_base: () => import('gpt-tokenizer/encoding/o200k_base'),
  cl100k_base: () => import('gpt-tokenizer/encoding/cl100k_base'),
} as const;

type BuiltinName = keyof typeof BUILTIN;

/** The tokenizer used when a job names none. */
export const DEFAULT_TOKENIZER = 'o200k_base';

const cache = new Map<string, Promise<Tokenizer>>();

/**
 * Load a tokenizer by name (`o200k_base`, the default; `cl100k_base`) or by path to a
 * Hugging Face `tokenizer.json` (a `tokenizer_config.json` beside it is used when present;
 * a directory holding `tokenizer.json` works too). Loaded tokenizers are cached per spec.
 * @throws ValidationError when the path is missing or the file is not a tokenizer.json.
 */
export function loadTokenizer(spec: string = DEFAULT_TOKENIZER): Promise<Tokenizer> {
  let pending = cache.get(spec);
  if (!pending) {
    pending = spec in BUILTIN ? loadBuiltin(spec as BuiltinName) : loadHuggingFace(spec);
    cache.set(spec, pending);
    // A failed load is not cached: the user may fix the file and retry in the same process.
    pending.catch(() => cache.delete(spec));
  }
  return pending;
}

async function loadBuiltin(name: BuiltinName): Promise<Tokenizer> {
  const mod = await BUILTIN[name]();
  // Special-token strings in user text (`<|endoftext|>`) are counted as plain text, as a
  // server counts a user message, instead of throwing as gpt-tokenizer does by default.
  const options = { disallowedSpecial: new Set<string>() };
  return {
    name,
    encode: (text) => mod.encode(text, options),
    decode: (ids) => mod.decode(ids),
    count: (text) => mod.countTokens(text, options),
    countBounded: (text) => countInSegments(text, (segment) => mod.countTokens(segment, options)),
  };
}

async function loadHuggingFace(spec: string): Promise<Tokenizer> {
  const issue = (message: string, file = spec) => new ValidationError([{ file, path: '', message }]);
  let file = spec;
  try {
    if ((await stat(spec)).isDirectory()) file = join(spec, 'tokenizer.json');
  } catch {
    throw issue(
      `tokenizer not found: expected "o200k_base", "cl100k_base", or a path to a Hugging Face tokenizer.json`,
    );
  }
  const [json, raw] = await readJsonObject(file, 'a Hugging Face tokenizer.json');
  if (typeof json.model !== 'object' || json.model === null) {
    throw issue(
      'expected a Hugging Face tokenizer.json with a "model" object (BPE, WordPiece, Unigram, ...)',
      file,
    );
  }
  const configFile = join(dirname(file), 'tokenizer_config.json');
  let config: Record<string, unknown> = {};
  try {
    await stat(configFile);
    [config] = await readJsonObject(configFile, 'a tokenizer_config.json object');
  } catch (error) {
    if (error instanceof ValidationError) throw error;
  }
  const { Tokenizer: HfTokenizer } = await import('@huggingface/tokenizers');
  let tokenizer: InstanceType<typeof HfTokenizer>;
  try {
    tokenizer = new HfTokenizer(json, config);
  } catch (error) {
    throw issue(`not a usable tokenizer.json: ${(error as Error).message}`, file);
  }
  // Prompt lengths count the text's own tokens: no BOS/EOS from the post-processor, which a
  // chat template adds (or not) on the server side anyway.
  const encodeOptions = { add_special_tokens: false };
  return {
    // The content digest, not the path, names it: the same tokenizer gives the same workload digest anywhere.
    name: `hf:${basename(dirname(file))}@${sha256(raw).slice('sha256:'.length, 'sha256:'.length + 16)}`,
    encode: (text) => tokenizer.encode(text, encodeOptions).ids,
    decode: (ids) =>
      tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    count: (text) => tokenizer.encode(text, encodeOptions).ids.length,
    countBounded: (text) =>
      countInSegments(text, (segment) => tokenizer.encode(segment, encodeOptions).ids.length),
  };
}

/**
 * Longest run counted in one piece. BPE merges within a pre-tokenizer piece, and a run with
 * no space (120,000 letters, 20,000 CJK characters, a long run of spaces) is one piece whose
 * merging is quadratic: 16,384 CJK characters took 1.9 s, 120,000 letters 21 s, in one
 * synchronous call that froze the client. Pieces of 256 characters cost about the same per
 * character as ordinary words (0.1-3 µs on o200k_base).
 */
const MAX_RUN_CHARS = 256;
/** Text is handed to the tokenizer in segments of about this length (a call has a fixed cost). */
const SEGMENT_CHARS = 4096;

/**
 * Count `text` in segments, so the cost is linear in its length whatever it holds.
 * Segments end just before a whitespace character that follows a non-whitespace one: the
 * pre-tokenizers of o200k/cl100k (and Hugging Face's byte-level and whitespace splitters)
 * start a new piece there, so the sum of the segments' counts is the whole text's count for
 * ordinary prose (o200k's punctuation piece can take a following newline, so a cut there may
 * differ by a token).
 * A run with no such boundary is cut every `MAX_RUN_CHARS` characters (never inside a
 * surrogate pair); each cut may count one token more than the server would.
 */
export function countInSegments(text: string, count: (segment: string) => number): number {
  const n = text.length;
  if (n <= MAX_RUN_CHARS) return count(text);
  let total = 0;
  let start = 0;
  /** The last boundary seen since `start`, or -1. */
  let boundary = -1;
  let runStart = 0;
  let prevSpace = isSpace(text.charCodeAt(0));
  for (let i = 1; i < n; i++) {
    const space = isSpace(text.charCodeAt(i));
    if (space && !prevSpace) {
      boundary = i;
      runStart = i;
    } else if (space !== prevSpace) {
      runStart = i;
    }
    prevSpace = space;
    if (i - runStart >= MAX_RUN_CHARS) {
      // A run too long for one piece: end the segment at the last boundary, else cut here.
      let cut = boundary > start ? boundary : i;
      if (cut === i && isLowSurrogate(text.charCodeAt(i))) cut = i - 1;
      total += count(text.slice(start, cut));
      start = cut;
      runStart = cut;
      boundary = -1;
    } else if (i - start >= SEGMENT_CHARS && boundary > start) {
      total += count(text.slice(start, boundary));
      start = boundary;
      boundary = -1;
    }
  }
  return total + count(start === 0 ? text : text.slice(start));
}

/**
 * The end of a slice of `text` that starts at `from` and holds at most `maxChars`
 * characters, cut where `countInSegments` would cut (just before whitespace that follows
 * a non-whitespace character), so counting the slices one by one gives the same total as
 * counting the whole; a slice with no such boundary is cut at `maxChars`.
 */
export function nextCut(text: string, from: number, maxChars: number): number {
  const limit = from + maxChars;
  if (limit >= text.length) return text.length;
  for (let i = limit; i > from + 1; i--) {
    if (isSpace(text.charCodeAt(i)) && !isSpace(text.charCodeAt(i - 1))) return i;
  }
  return isLowSurrogate(text.charCodeAt(limit)) ? limit - 1 : limit;
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a);
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

async function readJsonObject(file: string, expected: string): Promise<[Record<string, unknown>, string]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ValidationError([
      { file, path: '', message: `cannot read (${(error as Error).message}); expected ${expected}` },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError([
      { file, path: '', message: `not valid JSON (${(error as Error).message}); expected ${expected}` },
    ]);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError([{ file, path: '', message: `expected ${expected}` }]);
  }
  return [value as Record<string, unknown>, text];
}
