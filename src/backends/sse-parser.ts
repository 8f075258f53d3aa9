/**
 * The client's hot path: an incremental Server-Sent Events parser that works on
 * the Buffers undici delivers, and a classifier that tells what one OpenAI
 * stream event carries (content, reasoning, usage, error) without a full
 * JSON.parse on the common shapes.
 *
 * The parser works on bytes and decodes one complete line at a time: line
 * terminators are ASCII, so a complete line never ends inside a UTF-8 sequence
 * and characters split across chunks decode correctly without a streaming decoder.
 *
 * The classifier's fast path relies on one property of JSON: inside a string
 * every `"` is escaped, so a `"` preceded by a letter is always a real string
 * delimiter, and `"content":` (with the opening quote not preceded by a
 * backslash) can only be the key `content`. Anything the fast path does not
 * recognise with certainty goes to `classifyChunkJson`, the JSON.parse-based
 * reference; tests prove the two agree.
 */

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const LOWER_N = 110;

/** Receives the data of each complete SSE event (multi-line `data:` fields joined with `\n`). */
export interface SseSink {
  onSseData(data: string): void;
}

/**
 * Longest line, and longest event data, the parser accepts by default. A real event is a
 * few hundred bytes (logprobs a few KB); a server that sends a line without end would
 * otherwise grow the carry-over without bound.
 */
export const MAX_SSE_LINE_BYTES = 1024 * 1024;

/**
 * Incremental SSE parser (WHATWG event-stream rules): `\n`, `\r\n` and `\r`
 * line ends, events split across chunks at any byte, multi-line `data:` fields,
 * `:` comment lines; `event:`, `id:`, `retry:` and unknown fields are ignored
 * (OpenAI-compatible servers carry everything in `data`).
 *
 * Bounded: a line, or an event's data, longer than `maxLineBytes` stops the parser;
 * `push` then returns false and `overflow` says why. Until a line ends, its chunks are
 * kept in a list and joined once, so a long line costs linear time (copying the
 * carry-over into every new chunk made a 16 MB line quadratic: 3.4 s).
 */
export class SseParser {
  /** Chunks (copies) of an incomplete line carried over from previous chunks. */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Data of the event being assembled. */
  private data = '';
  private dataLines = 0;
  /** The previous chunk ended with CR: a leading LF in the next one ends nothing. */
  private skipLf = false;
  /** Set once a CR is seen; until then lines are split with the native indexOf. */
  private sawCr = false;
  private started = false;
  /** Why the parser stopped (a bound was passed), or null while it reads. */
  overflow: string | null = null;

  constructor(
    private readonly sink: SseSink,
    private readonly maxLineBytes: number = MAX_SSE_LINE_BYTES,
  ) {}

  /** Feed one chunk of the response body; false once a bound is passed (the rest is ignored). */
  push(chunk: Uint8Array): boolean {
    if (this.overflow !== null) return false;
    let buf: Buffer = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let pos = 0;
    if (this.carryBytes > 0) {
      if (
        (this.started || this.carryBytes + buf.length < 3) &&
        buf.indexOf(LF) === -1 &&
        buf.indexOf(CR) === -1
      ) {
        // Still inside the line: keep the chunk, join once the line ends.
        this.carryBytes += buf.length;
        if (this.carryBytes > this.maxLineBytes)
          return this.stop(`SSE line longer than ${this.maxLineBytes} bytes`);
        // Copy: undici may reuse the chunk's memory after onData returns.
        this.carry.push(Buffer.from(buf));
        return true;
      }
      this.carry.push(buf);
      buf = Buffer.concat(this.carry, this.carryBytes + buf.length);
      this.carry = [];
      this.carryBytes = 0;
    } else if (this.skipLf) {
      this.skipLf = false;
      if (buf.length > 0 && buf[0] === LF) pos = 1;
    }
    if (!this.started) {
      // The stream may open with a UTF-8 byte order mark, which is not part of the first field name.
      if (buf.length - pos < 3 && buf[buf.length - 1] !== LF && buf[buf.length - 1] !== CR) {
        this.keep(buf, pos);
        return true;
      }
      this.started = true;
      if (buf[pos] === 0xef && buf[pos + 1] === 0xbb && buf[pos + 2] === 0xbf) pos += 3;
    }
    const len = buf.length;
    if (!this.sawCr && buf.indexOf(CR, pos) !== -1) this.sawCr = true;
    if (!this.sawCr) {
      let nl = buf.indexOf(LF, pos);
      while (nl !== -1) {
        this.line(buf, pos, nl);
        pos = nl + 1;
        nl = buf.indexOf(LF, pos);
      }
    } else {
      for (let i = pos; i < len; i++) {
        const c = buf[i];
        if (c !== LF && c !== CR) continue;
        this.line(buf, pos, i);
        if (c === CR) {
          if (i + 1 < len) {
            if (buf[i + 1] === LF) i++;
          } else {
            this.skipLf = true;
          }
        }
        pos = i + 1;
      }
    }
    if (pos < len) this.keep(buf, pos);
    return this.overflow === null;
  }

  /**
   * End of the body. An event not closed by a blank line is still delivered
   * (the spec would drop it; servers that omit the final blank line after
   * `data: [DONE]` exist, and the stream's end already closes the event).
   */
  end(): void {
    if (this.overflow !== null) return;
    const carry = this.carryBytes > 0 ? Buffer.concat(this.carry, this.carryBytes) : null;
    this.carry = [];
    this.carryBytes = 0;
    if (carry !== null) {
      this.started = true;
      this.line(carry, 0, carry.length);
    }
    if (this.overflow === null) this.dispatch();
  }

  /** Carry `buf[pos..]` over to the next chunk, as a copy (undici may reuse the chunk's memory). */
  private keep(buf: Buffer, pos: number): void {
    if (this.overflow !== null) return;
    const bytes = buf.length - pos;
    if (bytes > this.maxLineBytes) {
      this.stop(`SSE line longer than ${this.maxLineBytes} bytes`);
      return;
    }
    this.carry = [Buffer.from(buf.subarray(pos))];
    this.carryBytes = bytes;
  }

  private stop(reason: string): false {
    this.overflow = reason;
    this.carry = [];
    this.carryBytes = 0;
    this.data = '';
    this.dataLines = 0;
    return false;
  }

  private line(buf: Buffer, start: number, end: number): void {
    if (this.overflow !== null) return;
    if (start === end) {
      this.dispatch();
      return;
    }
    const c0 = buf[start];
    if (c0 === COLON) return;
    if (
      c0 === 100 /* d */ &&
      buf[start + 1] === 97 /* a */ &&
      buf[start + 2] === 116 /* t */ &&
      buf[start + 3] === 97 /* a */ &&
      end - start >= 4
    ) {
      let v: number;
      if (end - start === 4) {
        v = end; // a bare `data` line is the field with an empty value
      } else if (buf[start + 4] === COLON) {
        v = start + 5;
        if (v < end && buf[v] === SPACE) v++;
      } else {
        return; // another field whose name starts with "data"
      }
      if (end - start > this.maxLineBytes) {
        this.stop(`SSE line longer than ${this.maxLineBytes} bytes`);
        return;
      }
      const value = v === end ? '' : utf8(buf, v, end);
      if (this.dataLines === 0) {
        this.data = value;
      } else {
        // Many `data:` lines with no blank line between them make one ever-growing event.
        if (this.data.length + value.length > this.maxLineBytes) {
          this.stop(`SSE event data longer than ${this.maxLineBytes} characters`);
          return;
        }
        this.data += '\n' + value;
      }
      this.dataLines++;
    }
  }

  private dispatch(): void {
    if (this.dataLines === 0) return;
    const data = this.data;
    this.data = '';
    this.dataLines = 0;
    this.sink.onSseData(data);
  }
}

type SliceableBuffer = Buffer & { utf8Slice?: (start: number, end: number) => string };

/** Decode bytes: Buffer#utf8Slice skips toString's argument handling (undici uses it the same way). */
function utf8(buf: SliceableBuffer, start: number, end: number): string {
  return buf.utf8Slice !== undefined ? buf.utf8Slice(start, end) : buf.toString('utf8', start, end);
}

/** What one stream event carries. */
export const ChunkType = {
  /** A JSON chunk (it may carry no content at all: role-only, empty, finish, usage-only). */
  data: 0,
  /** `[DONE]`. */
  done: 1,
  /** Not JSON, or JSON that is not an object. */
  invalid: 2,
  /** An error object inside the stream. */
  error: 3,
} as const;
export type ChunkType = (typeof ChunkType)[keyof typeof ChunkType];

/** Classification of one event; callers reuse one instance to keep the hot path allocation-free. */
export interface ChunkInfo {
  type: ChunkType;
  /** Non-reasoning output text (chat `delta.content`, completions `text`), '' when none. */
  content: string;
  /** Reasoning text (`reasoning_content`, else `reasoning`), '' when none. */
  reasoning: string;
  /** Whether a usage object was present. */
  hasUsage: boolean;
  /** From usage, -1 when absent. */
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  /** `usage.prompt_tokens_details.cached_tokens` (prompt tokens served from the prefix cache), -1 when absent. */
  cachedTokens: number;
  /** Error message for `error` and `invalid`. */
  message: string;
  /** Why a usage number was refused ('' when every number present is a valid count); see `usageCount`. */
  usageIssue: string;
  /**
   * The event also ends the stream (Cohere's `message-end`, OCI's event with `finishReason`):
   * formats without `[DONE]` end on a data event that may carry usage too.
   */
  ends: boolean;
}

/**
 * Largest token count a usage field may hold: 2^31 - 1, the warehouse's INTEGER. Counts
 * relative to the request (completion_tokens against max_tokens) are the caller's check.
 */
export const MAX_USAGE_TOKENS = 2 ** 31 - 1;

/** A fresh, empty ChunkInfo. */
export function newChunkInfo(): ChunkInfo {
  return {
    type: ChunkType.data,
    content: '',
    reasoning: '',
    hasUsage: false,
    promptTokens: -1,
    completionTokens: -1,
    reasoningTokens: -1,
    cachedTokens: -1,
    message: '',
    usageIssue: '',
    ends: false,
  };
}

/** Clear `out` for a new event of `type` (every field back to its empty value). */
export function reset(out: ChunkInfo, type: ChunkType): ChunkInfo {
  out.type = type;
  out.content = '';
  out.reasoning = '';
  out.hasUsage = false;
  out.promptTokens = -1;
  out.completionTokens = -1;
  out.reasoningTokens = -1;
  out.cachedTokens = -1;
  out.message = '';
  out.usageIssue = '';
  out.ends = false;
  return out;
}

/** Counts of fast-path hits and JSON.parse fallbacks, for the client-overhead bench. */
export const classifyStats = { fast: 0, slow: 0 };

/**
 * Classify one event's data: the fast path for ordinary OpenAI chunks, the
 * JSON.parse reference for anything else. Writes into and returns `out`.
 */
export function classifyChunk(data: string, out: ChunkInfo): ChunkInfo {
  if (fastClassify(data, out)) {
    classifyStats.fast++;
    return out;
  }
  classifyStats.slow++;
  return classifyChunkJson(data, out);
}

/**
 * The reference classification: JSON.parse the event and read
 * `choices[].delta.content` / `.reasoning_content` / `.reasoning`,
 * `choices[].message.*` (non-streamed chat), `choices[].text` (completions),
 * `usage`, and `error` (or `object: "error"`).
 */
export function classifyChunkJson(data: string, out: ChunkInfo): ChunkInfo {
  if (data === '[DONE]') return reset(out, ChunkType.done);
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    reset(out, ChunkType.invalid);
    out.message = `unparseable stream event: ${data}`;
    return out;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    reset(out, ChunkType.invalid);
    out.message = `stream event is not a JSON object: ${data}`;
    return out;
  }
  const o = obj as Record<string, unknown>;
  if ((o.error !== undefined && o.error !== null) || o.object === 'error') {
    reset(out, ChunkType.error);
    out.message = errorMessageOf(o);
    return out;
  }
  reset(out, ChunkType.data);
  const choices = o.choices;
  if (Array.isArray(choices)) {
    for (const choice of choices as unknown[]) {
      if (typeof choice !== 'object' || choice === null) continue;
      const ch = choice as Record<string, unknown>;
      if (typeof ch.text === 'string') out.content += ch.text;
      const d = (ch.delta ?? ch.message) as Record<string, unknown> | null | undefined;
      if (typeof d !== 'object' || d === null) continue;
      if (typeof d.content === 'string') out.content += d.content;
      if (typeof d.reasoning_content === 'string' && d.reasoning_content !== '')
        out.reasoning += d.reasoning_content;
      else if (typeof d.reasoning === 'string') out.reasoning += d.reasoning;
    }
  }
  const usage = o.usage;
  if (typeof usage === 'object' && usage !== null && !Array.isArray(usage)) {
    const u = usage as Record<string, unknown>;
    out.hasUsage = true;
    out.promptTokens = usageCount(out, 'prompt_tokens', u.prompt_tokens);
    out.completionTokens = usageCount(out, 'completion_tokens', u.completion_tokens);
    const details = u.completion_tokens_details as Record<string, unknown> | null | undefined;
    if (typeof details === 'object' && details !== null) {
      out.reasoningTokens = usageCount(
        out,
        'completion_tokens_details.reasoning_tokens',
        details.reasoning_tokens,
      );
    }
    const prompt = u.prompt_tokens_details as Record<string, unknown> | null | undefined;
    if (typeof prompt === 'object' && prompt !== null) {
      out.cachedTokens = usageCount(out, 'prompt_tokens_details.cached_tokens', prompt.cached_tokens);
    }
  }
  return out;
}

/**
 * A usage number as a count, -1 when absent (not a number). A number that no count can be
 * (1e400 parses as Infinity, 1e23, 2.5, -3) is noted in `usageIssue` and read as absent:
 * taken as given it became Infinity tok/s, or a run the warehouse refused.
 */
export function usageCount(out: ChunkInfo, field: string, value: unknown): number {
  if (typeof value !== 'number') return -1;
  if (Number.isInteger(value) && value >= 0 && value <= MAX_USAGE_TOKENS) return value;
  if (out.usageIssue === '') {
    out.usageIssue = `usage.${field} is ${String(value)}, expected an integer from 0 to ${MAX_USAGE_TOKENS}`;
  }
  return -1;
}

/**
 * The message of an error object (`{error: {message}}`, `{error: "..."}`, `{message}`, `{detail}`),
 * whole: the caller removes secrets first and shortens after, so a secret is never cut in two.
 */
export function errorMessageOf(o: Record<string, unknown>): string {
  const e = o.error;
  if (typeof e === 'string') return e;
  if (typeof e === 'object' && e !== null) {
    const m = (e as Record<string, unknown>).message;
    if (typeof m === 'string') return m;
  }
  if (typeof o.message === 'string') return o.message;
  if (typeof o.detail === 'string') return o.detail;
  return JSON.stringify(e ?? o);
}

/** Truncate to `max` characters with an ellipsis. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/**
 * Keys the fast path looks at. One compiled regex finds them all in a single
 * pass (V8's multi-character indexOf is several times slower per call, and
 * this needs no allocation: `test` with the `g` flag leaves the position in
 * `lastIndex`).
 */
const KEYS = /"(?:choices|content|reasoning_content|reasoning|text|usage|error)":/g;

/**
 * Classify without JSON.parse when the event is an ordinary chunk; false when
 * unsure (the caller then uses the reference). Recognised: `[DONE]`; objects
 * whose text keys (`content`, `text`, `reasoning_content`, `reasoning`) come
 * after `"choices":`, each at most once with a string or null value
 * (`logprobs.content` arrays pass), and `usage` absent or null. Sent to the
 * reference: usage objects (once per request), error keys, several choices,
 * an escaped quote before a key, anything nested where text is expected.
 * The fast path does not validate the JSON it recognises: an event cut short
 * that still starts with `{` and ends with `}` is read for the keys it holds.
 */
function fastClassify(s: string, out: ChunkInfo): boolean {
  const len = s.length;
  if (len === 6 && s === '[DONE]') {
    reset(out, ChunkType.done);
    return true;
  }
  if (len < 2 || s.charCodeAt(0) !== OPEN_BRACE || s.charCodeAt(len - 1) !== CLOSE_BRACE) return false;
  let choices = false;
  let content: string | null = null;
  let text: string | null = null;
  let reasoningContent: string | null = null;
  let reasoning: string | null = null;
  KEYS.lastIndex = 0;
  while (KEYS.test(s)) {
    const end = KEYS.lastIndex; // just past the colon
    const keyAt = s.lastIndexOf('"', end - 3); // the key's opening quote
    const keyLen = end - 3 - keyAt;
    if (s.charCodeAt(keyAt - 1) === BACKSLASH) return fail();
    const v = skipSpaces(s, end);
    const c = s.charCodeAt(v);
    const first = s.charCodeAt(keyAt + 1);
    if (keyLen === 7 && first === 99 /* c */ && s.charCodeAt(keyAt + 2) === 104 /* h */) {
      if (choices) return fail();
      choices = true;
      continue;
    }
    if (keyLen === 5) {
      // usage or error
      if (first !== 117 /* u */ || c !== LOWER_N || !s.startsWith('null', v)) return fail();
      continue;
    }
    if (!choices) return fail();
    let value: string | null;
    if (c === QUOTE) {
      value = readString(s, v);
      if (value === null) return fail();
    } else if (c === LOWER_N && s.startsWith('null', v)) {
      value = '';
    } else if (c === OPEN_BRACKET && keyLen === 7) {
      continue; // logprobs.content: an array of token objects, not text
    } else {
      return fail();
    }
    if (keyLen === 7) {
      if (content !== null) return fail();
      content = value;
    } else if (keyLen === 4) {
      if (text !== null) return fail();
      text = value;
    } else if (keyLen === 17) {
      if (reasoningContent !== null) return fail();
      reasoningContent = value;
    } else {
      if (reasoning !== null) return fail();
      reasoning = value;
    }
  }
  if (!choices) return false; // error objects (`object: "error"`), unknown shapes
  reset(out, ChunkType.data);
  out.content = text === null || text === '' ? (content ?? '') : content === null ? text : text + content;
  out.reasoning = reasoningContent !== null && reasoningContent !== '' ? reasoningContent : (reasoning ?? '');
  return true;
}

function fail(): false {
  KEYS.lastIndex = 0;
  return false;
}

function skipSpaces(s: string, i: number): number {
  let c = s.charCodeAt(i);
  while (c === SPACE || c === TAB || c === LF || c === CR) c = s.charCodeAt(++i);
  return i;
}

/** The JSON string value opening at `q0`, decoded; null when it does not close. Moves KEYS past it. */
function readString(s: string, q0: number): string | null {
  const end = stringEnd(s, q0);
  if (end === -1) return null;
  KEYS.lastIndex = end + 1;
  let escaped = false;
  for (let i = q0 + 1; i < end; i++) {
    if (s.charCodeAt(i) === BACKSLASH) {
      escaped = true;
      break;
    }
  }
  if (!escaped) return s.slice(q0 + 1, end);
  try {
    return JSON.parse(s.slice(q0, end + 1)) as string;
  } catch {
    return null;
  }
}

/** Index of the quote closing the string that opens at `q0`, or -1. */
function stringEnd(s: string, q0: number): number {
  let q = s.indexOf('"', q0 + 1);
  while (q !== -1) {
    // A quote preceded by an odd run of backslashes is escaped.
    let b = 0;
    while (s.charCodeAt(q - 1 - b) === BACKSLASH) b++;
    if ((b & 1) === 0) return q;
    q = s.indexOf('"', q + 1);
  }
  return -1;
}
