/**
 * One request in flight: an undici dispatch handler that stamps the record as
 * bytes arrive, feeds SSE bodies through the parser, and classifies every
 * failure into the record (it never throws). The per-token path is
 * `onData -> SseParser.push -> onSseData -> classifyChunk -> stamp`: no
 * promises, no streams, no per-event objects.
 *
 * It uses undici's original handler callbacks (onConnect/onHeaders/onData/...),
 * which the core calls directly; the newer controller API goes through a
 * wrapper and parses every response header into an object.
 */
import type { Dispatcher } from 'undici';
import { nowUs } from '../base/clock.js';
import type { ErrorClass, RequestRecord } from '../metrics/record.js';
import {
  ChunkType,
  classifyChunk,
  classifyChunkJson,
  clip,
  errorMessageOf,
  newChunkInfo,
  SseParser,
  type ChunkInfo,
  type SseSink,
} from './sse-parser.js';
import { ChunkTexts } from './chunk-texts.js';
import type { AbortFanout } from './abort-fanout.js';
import type { RequestConnections } from './connections.js';

/** What the response body is, decided from status and content-type. */
const Mode = { pending: 0, sse: 1, json: 2, errorBody: 3 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

/** Longest error message kept in a record. */
const ERROR_MESSAGE_MAX_CHARS = 300;
/** Error bodies are read up to this many bytes: enough for a message, bounded against huge pages. */
const ERROR_BODY_LIMIT_BYTES = 64 * 1024;
/** Bound for a non-streamed embeddings body (large, but not this large). */
const JSON_BODY_LIMIT_BYTES = 256 * 1024 * 1024;

/**
 * Bounds on one generation response, from the tokens the request asked for (a server that
 * does not stop is ended there and its request classed `oversize`). Generous slack: they
 * catch servers that stream without end, never a real response.
 * - bytes: 16 MiB plus 16 KiB per token asked (an event with top-20 logprobs is ~5 KB);
 *   a non-streamed body is held in memory, so this bounds memory too.
 * - events: 4 per token asked plus 64 (one per token, plus role, finish and usage events).
 * - characters of text: 32 per token asked plus 4096 (English runs ~4 per token, and the
 *   longest o200k tokens are runs of spaces). This also bounds what is tokenized at the end.
 * - usage.completion_tokens above the event bound is refused (`protocol`).
 */
const RESPONSE_BYTES_BASE = 16 * 1024 * 1024;
const RESPONSE_BYTES_PER_TOKEN = 16 * 1024;
const EVENTS_PER_TOKEN = 4;
const EVENTS_SLACK = 64;
const CHARS_PER_TOKEN = 32;
const CHARS_SLACK = 4096;
/**
 * A non-streamed generation is held in memory until it ends, so its bound is its text's
 * (JSON escaping at most ~6 bytes per character, plus the envelope), not the stream's byte
 * bound: 4 streams of 4096 tokens would otherwise hold 80 MiB each. A body asking for
 * logprobs keeps the stream's bound (top-20 logprobs are ~5 KB per token).
 */
const JSON_BODY_BASE_BYTES = 1024 * 1024;
const JSON_BYTES_PER_CHAR = 8;
/** The tokens asked for when the request body sets no max_tokens (the server decides, up to its context). */
export const UNSET_MAX_TOKENS = 131_072;

/** undici's errors for a response it could not parse (bad chunked encoding, bad framing): the server's fault. */
const PROTOCOL_ERROR_CODES = new Set([
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
]);

/** Shared by all requests: classification is synchronous and JavaScript runs one callback at a time. */
const INFO: ChunkInfo = newChunkInfo();

/** Raised into undici to stop a request; `reason` tells onError how to classify it. */
class StopRequest extends Error {
  constructor(readonly reason: 'cancel' | 'timeout' | 'protocol' | 'oversize') {
    super(`request stopped: ${reason}`);
  }
}

/**
 * How one API format's responses read: its stream events, its whole generation body, and
 * the usage of a response that generates nothing (embeddings, rerank). Everything else
 * (bounds, stamps, classification of failures) is the handler's, the same for every format.
 */
export interface ResponseDialect {
  /** What one stream event carries; writes into and returns `out`. */
  event(data: string, out: ChunkInfo): ChunkInfo;
  /** What a whole (non-streamed) generation body carries. */
  body(text: string, out: ChunkInfo): ChunkInfo;
  /** The usage of a response that generates nothing; null when the body is not JSON. */
  usage(text: string): ChunkInfo | null;
  /** The event that ends a stream, named in the error when a stream ends without it. */
  readonly streamEnd: string;
}

/** Settings the handler needs from the backend. */
export interface RequestSettings {
  /** Whether the body generates nothing (embeddings, rerank: `dialect.usage` reads it, the vectors unparsed where it can). */
  embeddings: boolean;
  /** How this format's responses read (OPENAI_DIALECT for the OpenAI formats). */
  dialect: ResponseDialect;
  requestTimeoutMs: number;
  countTokens: (text: string) => number;
  /** Strings that must never appear in an error message (the API key). */
  secrets: string[];
  /** The backend's abort fan-out: one listener per shared signal, not one per request. */
  aborts: AbortFanout;
  /** Connect times of new connections, and where a request goes when its reused connection was closed under it. */
  connections: RequestConnections;
}

/** Drives one request through `dispatcher.dispatch` and resolves with its record. */
export class OpenAIRequest implements Dispatcher.DispatchHandler, SseSink {
  private mode: Mode = Mode.pending;
  private parser: SseParser | null = null;
  private bodyChunks: Buffer[] = [];
  private bodyBytes = 0;
  /** Text of each content event (reasoning + content), for the tokenizer when usage is absent or disagrees. */
  private texts = new ChunkTexts();
  /** Multi-turn: the answer's content pieces, kept only when the engine asked for them. */
  private readonly content: string[] | null;
  private sawDone = false;
  private stopped: StopRequest | null = null;
  private abortFn: ((err?: Error) => void) | null = null;
  private leaveAborts: (() => void) | null = null;
  private finished = false;
  private timer: NodeJS.Timeout | null = null;
  private resolve: (record: RequestRecord) => void = () => {};
  /** When this try was handed to undici: pool_wait_us runs from here to onConnect. */
  private dispatched_us = 0;
  private dispatchOptions: Dispatcher.DispatchOptions | null = null;
  /** This response's bounds (see RESPONSE_BYTES_BASE) and how far it has come. */
  private readonly bytesMax: number;
  private readonly eventsMax: number;
  private readonly charsMax: number;
  /** Bound on a non-streamed (JSON) generation body, which is held whole. */
  private readonly jsonBytesMax: number;
  private responseBytes = 0;
  private events = 0;

  constructor(
    private readonly rec: RequestRecord,
    private readonly settings: RequestSettings,
    private readonly signal: AbortSignal,
    /** Tokens the request asked for (max_tokens × choices): sets the response's bounds. */
    maxTokens: number = UNSET_MAX_TOKENS,
    /** Whether the request asked for logprobs (a larger non-streamed body). */
    logprobs = false,
    /** Multi-turn: receives the answer's content text when the request completes (RequestContext.onContent). */
    private readonly onContent?: (text: string) => void,
  ) {
    this.content = onContent ? [] : null;
    const tokens = Number.isFinite(maxTokens) && maxTokens > 0 ? maxTokens : UNSET_MAX_TOKENS;
    this.bytesMax = RESPONSE_BYTES_BASE + tokens * RESPONSE_BYTES_PER_TOKEN;
    this.eventsMax = tokens * EVENTS_PER_TOKEN + EVENTS_SLACK;
    this.charsMax = tokens * CHARS_PER_TOKEN + CHARS_SLACK;
    this.jsonBytesMax = logprobs
      ? this.bytesMax
      : Math.min(this.bytesMax, JSON_BODY_BASE_BYTES + this.charsMax * JSON_BYTES_PER_CHAR);
  }

  /** Dispatch and resolve when the request ends, however it ends. */
  run(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): Promise<RequestRecord> {
    return new Promise<RequestRecord>((resolve) => {
      this.resolve =
        this.content === null
          ? resolve
          : (record) => {
              // Bounded: the content is part of output_chars, which stops at charsMax.
              if (record.status === 'ok') this.onContent?.((this.content as string[]).join(''));
              resolve(record);
            };
      if (this.signal.aborted) {
        this.rec.sent_at_us = nowUs();
        this.rec.status = 'cancelled';
        this.finish();
        return;
      }
      this.leaveAborts = this.settings.aborts.join(this.signal, this.onAbort);
      if (this.settings.requestTimeoutMs > 0 && Number.isFinite(this.settings.requestTimeoutMs)) {
        this.timer = setTimeout(this.onTimeout, this.settings.requestTimeoutMs);
      }
      this.dispatchOptions = options;
      this.dispatch(dispatcher);
    });
  }

  private dispatch(dispatcher: Dispatcher): void {
    this.dispatched_us = nowUs();
    this.rec.sent_at_us = this.dispatched_us;
    try {
      dispatcher.dispatch(this.dispatchOptions as Dispatcher.DispatchOptions, this);
    } catch (err) {
      this.fail('connection', describe(err));
      this.finish();
    }
  }

  private readonly onAbort = (): void => this.stop(new StopRequest('cancel'));
  private readonly onTimeout = (): void => {
    this.timer = null;
    this.stop(new StopRequest('timeout'));
  };

  /** Stop the request; while it still waits for a connection, settle it now and abort on connect. */
  private stop(reason: StopRequest): void {
    if (this.finished || this.stopped !== null) return;
    this.stopped = reason;
    if (this.abortFn !== null) {
      this.abortFn(reason);
    } else {
      this.rec.pool_wait_us = nowUs() - this.dispatched_us;
      this.settle(reason);
      this.finish();
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    // Settled while it waited for a connection (cancel, timeout): the record is final and
    // already written; it must not change under the writer.
    if (this.finished || this.stopped !== null) {
      abort(this.stopped ?? new StopRequest('cancel'));
      return;
    }
    // undici calls this on the connection, just before the request bytes are written:
    // METRICS.md's sent_at. Waiting for a pooled or new connection is client time, not TTFT;
    // it is recorded beside it (pool_wait_us, connect_us) for comparison with peers that count it.
    const t = nowUs();
    const rec = this.rec;
    rec.sent_at_us = t;
    rec.pool_wait_us = t - this.dispatched_us;
    rec.connect_us = this.settings.connections.takeConnectUs();
    this.abortFn = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode < 200) return true; // 1xx informational: the real headers follow
    this.rec.headers_at_us = nowUs();
    this.rec.http_status = statusCode;
    if (statusCode >= 400) {
      this.mode = Mode.errorBody;
    } else if (isEventStream(rawHeaders)) {
      this.mode = Mode.sse;
      this.parser = new SseParser(this);
    } else {
      // A server may ignore `stream: true`; its JSON body is then read as a non-streamed response.
      this.mode = Mode.json;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stopped !== null) return true;
    if (this.mode === Mode.sse) {
      this.responseBytes += chunk.length;
      if (this.responseBytes > this.bytesMax) {
        this.oversize(`response longer than ${this.bytesMax} bytes`);
      } else if (!(this.parser as SseParser).push(chunk)) {
        this.oversize((this.parser as SseParser).overflow as string);
      }
      return true;
    }
    if (this.mode === Mode.errorBody) {
      if (this.bodyBytes < ERROR_BODY_LIMIT_BYTES) {
        this.bodyChunks.push(chunk);
        this.bodyBytes += chunk.length;
      } else {
        // Enough for the message; a server that keeps sending is not waited for.
        if (this.rec.done_at_us === null) this.rec.done_at_us = nowUs();
        this.failHttp(this.bodyText());
        this.stop(new StopRequest('protocol'));
      }
      return true;
    }
    const limit = this.settings.embeddings ? JSON_BODY_LIMIT_BYTES : this.jsonBytesMax;
    if (this.bodyBytes + chunk.length <= limit) {
      this.bodyChunks.push(chunk);
      this.bodyBytes += chunk.length;
    } else {
      this.bodyChunks = [];
      this.oversize(`response body longer than ${limit} bytes`);
    }
    return true;
  }

  onSseData(data: string): void {
    if (this.sawDone || this.stopped !== null) return;
    if (++this.events > this.eventsMax) {
      this.oversize(`more than ${this.eventsMax} stream events`);
      return;
    }
    const info = this.settings.dialect.event(data, INFO);
    if (info.type === ChunkType.data) {
      const content = info.content;
      const reasoning = info.reasoning;
      if (content !== '' || reasoning !== '') {
        const t = nowUs();
        const rec = this.rec;
        if (rec.first_token_at_us === null) rec.first_token_at_us = t;
        if (content !== '' && rec.first_output_at_us === null) rec.first_output_at_us = t;
        rec.chunk_times_us.push(t);
        rec.last_token_at_us = t;
        rec.output_chars += content.length + reasoning.length;
        if (rec.output_chars > this.charsMax) {
          this.oversize(`more than ${this.charsMax} characters of text`);
          return;
        }
        this.texts.append2(reasoning, content);
        if (this.content !== null && content !== '') this.content.push(content);
      }
      if (info.hasUsage) {
        const problem = this.usageProblem(info);
        if (problem !== null) {
          this.protocolError(problem);
          return;
        }
        this.takeUsage(info);
      }
      if (info.ends) {
        this.sawDone = true;
        this.rec.done_at_us = nowUs();
      }
    } else if (info.type === ChunkType.done) {
      this.sawDone = true;
      this.rec.done_at_us = nowUs();
    } else {
      this.protocolError(info.type === ChunkType.error ? `error event: ${info.message}` : info.message);
    }
  }

  onComplete(): void {
    if (this.finished) return;
    this.settings.connections.noteResponseEnd();
    const rec = this.rec;
    if (this.mode === Mode.sse) {
      const parser = this.parser as SseParser;
      if (this.stopped === null) parser.end();
      if (rec.done_at_us === null) rec.done_at_us = nowUs();
      if (parser.overflow !== null && rec.error_class === null) {
        this.fail('oversize', parser.overflow);
      } else if (!this.sawDone && rec.error_class === null) {
        this.fail('protocol', `stream ended without ${this.settings.dialect.streamEnd}`);
      } else if (rec.error_class === null) {
        this.checkContent('stream');
      }
    } else if (this.mode === Mode.errorBody) {
      rec.done_at_us = nowUs();
      this.failHttp(this.bodyText());
    } else {
      const t = nowUs();
      rec.done_at_us = t;
      this.readJsonBody(t);
    }
    this.finish();
  }

  onError(err: Error): void {
    if (this.finished) return;
    const rec = this.rec;
    if (this.abortFn === null) {
      rec.pool_wait_us = nowUs() - this.dispatched_us; // never got a connection
    } else if (this.mode === Mode.pending && this.stopped === null && isConnectionClose(err)) {
      if (rec.connect_us === 0 && rec.retries === 0) {
        this.retry(err);
        return;
      }
    } else if (this.mode !== Mode.pending && isConnectionClose(err)) {
      this.settings.connections.noteMidResponseFailure();
    }
    if (rec.done_at_us === null) rec.done_at_us = nowUs();
    this.settle(err);
    this.finish();
  }

  /**
   * Send again, once, on a connection of its own: the server closed the reused connection this
   * try went out on before any response byte came back, the race of a server that closes after
   * each response (it never read the request). HTTP clients retry exactly this case.
   */
  private retry(err: Error): void {
    const rec = this.rec;
    rec.retries = 1;
    rec.first_error = clip(redact(describe(err), this.settings.secrets), ERROR_MESSAGE_MAX_CHARS);
    this.abortFn = null;
    (this.dispatchOptions as Dispatcher.DispatchOptions).reset = true;
    this.dispatch(this.settings.connections.retryDispatcher());
  }

  /** Classify how the request ended early: cancel, timeout, protocol (already recorded), HTTP, connection. */
  private settle(err: Error): void {
    const reason = err instanceof StopRequest ? err.reason : this.stopped?.reason;
    const rec = this.rec;
    if (reason === 'cancel') {
      rec.status = 'cancelled';
      rec.error_class = null;
      rec.error_message = null;
    } else if (reason === 'timeout') {
      this.fail('timeout', `no complete response within ${this.settings.requestTimeoutMs} ms`);
    } else if (rec.error_class !== null) {
      // protocol error already recorded; the abort that followed says nothing new
    } else if (this.mode === Mode.errorBody) {
      this.failHttp(this.bodyText());
    } else {
      this.fail(isProtocolFailure(err) ? 'protocol' : 'connection', describe(err));
    }
  }

  /**
   * A response with no text at all is not a completed request (it would count in the
   * throughput with 0 tokens), unless the server's usage says it generated 0 tokens:
   * an empty generation (immediate end of sequence) is a real, if short, answer.
   */
  private checkContent(what: 'stream' | 'response'): void {
    const rec = this.rec;
    if (rec.chunk_times_us.length > 0) return;
    if (rec.output_tokens_source === 'server' && rec.output_tokens === 0) return;
    this.fail('protocol', `${what} carried no content`);
  }

  /** Record a protocol error and stop reading; the stamps gathered so far stay. */
  private protocolError(message: string): void {
    if (this.rec.done_at_us === null) this.rec.done_at_us = nowUs();
    this.fail('protocol', message);
    this.stop(new StopRequest('protocol'));
  }

  /** The response passed one of its bounds: record it, end the request, keep the stamps so far. */
  private oversize(message: string): void {
    if (this.rec.done_at_us === null) this.rec.done_at_us = nowUs();
    this.fail('oversize', message);
    this.stop(new StopRequest('oversize'));
  }

  private fail(errorClass: ErrorClass, message: string): void {
    const rec = this.rec;
    rec.status = 'error';
    rec.error_class = errorClass;
    // Secrets out first, then shorten: clipping first could cut a key and leave its start.
    rec.error_message = clip(redact(message, this.settings.secrets), ERROR_MESSAGE_MAX_CHARS);
  }

  private failHttp(body: string): void {
    const status = this.rec.http_status ?? 0;
    const errorClass: ErrorClass = status === 429 ? 'http_429' : status >= 500 ? 'http_5xx' : 'http_4xx';
    let message = body.trim();
    try {
      const obj = JSON.parse(message) as unknown;
      if (typeof obj === 'object' && obj !== null) message = errorMessageOf(obj as Record<string, unknown>);
    } catch {
      // not JSON: keep the text
    }
    this.fail(errorClass, `HTTP ${status}${message === '' ? '' : `: ${message}`}`);
  }

  private bodyText(): string {
    const text = Buffer.concat(this.bodyChunks).toString('utf8');
    this.bodyChunks = [];
    return text;
  }

  /**
   * Why the usage numbers cannot be taken, or null. Impossible counts are a protocol error,
   * not a silent fallback to the tokenizer: a server whose counts cannot be true is not
   * trusted for the rest of its response, and err% shows the defect that a replaced number
   * would hide.
   */
  private usageProblem(info: ChunkInfo): string | null {
    if (info.usageIssue !== '') return info.usageIssue;
    if (info.completionTokens > this.eventsMax) {
      return `usage.completion_tokens is ${info.completionTokens}, more than ${this.eventsMax} for the tokens asked`;
    }
    // Cached tokens are part of the prompt: more than the prompt the server itself counted cannot be.
    if (info.cachedTokens > info.promptTokens && info.promptTokens >= 0) {
      return `usage.prompt_tokens_details.cached_tokens is ${info.cachedTokens}, more than prompt_tokens ${info.promptTokens}`;
    }
    return null;
  }

  /** Take valid usage numbers into the record. */
  private takeUsage(info: ChunkInfo): void {
    const rec = this.rec;
    if (info.completionTokens >= 0) {
      rec.output_tokens = info.completionTokens;
      rec.output_tokens_source = 'server';
    }
    if (info.promptTokens >= 0) {
      rec.input_tokens = info.promptTokens;
      rec.input_tokens_source = 'server';
    }
    if (info.reasoningTokens >= 0) rec.reasoning_tokens = info.reasoningTokens;
    if (info.cachedTokens >= 0) rec.cached_tokens = info.cachedTokens;
  }

  /** A non-streamed response: its body end is the first and last token, one chunk. */
  private readJsonBody(t: number): void {
    const text = this.bodyText();
    const rec = this.rec;
    if (this.settings.embeddings) {
      const usage = this.settings.dialect.usage(text);
      if (usage === null) {
        // Bounded far beyond the kept 300 characters, so no cut key can reach the kept part.
        this.fail('protocol', `unparseable embeddings response: ${clip(text, 4096)}`);
        return;
      }
      if (usage.type !== ChunkType.data) {
        this.fail('protocol', usage.message);
        return;
      }
      const problem = this.usageProblem(usage);
      if (problem !== null) {
        this.fail('protocol', problem);
        return;
      }
      this.takeUsage(usage);
      rec.first_token_at_us = t;
      rec.first_output_at_us = t;
      rec.last_token_at_us = t;
      return;
    }
    const info = this.settings.dialect.body(text, INFO);
    if (info.type !== ChunkType.data) {
      this.fail('protocol', info.type === ChunkType.error ? `error response: ${info.message}` : info.message);
      return;
    }
    if (info.content.length + info.reasoning.length > this.charsMax) {
      this.fail('oversize', `more than ${this.charsMax} characters of text`);
      return;
    }
    const problem = this.usageProblem(info);
    if (problem !== null) {
      this.fail('protocol', problem);
      return;
    }
    this.takeUsage(info);
    if (info.content !== '' || info.reasoning !== '' || info.completionTokens > 0) {
      rec.first_token_at_us = t;
      if (info.content !== '') rec.first_output_at_us = t;
      rec.last_token_at_us = t;
      rec.chunk_times_us.push(t);
      rec.output_chars = info.content.length + info.reasoning.length;
      this.texts.append2(info.reasoning, info.content);
      if (this.content !== null && info.content !== '') this.content.push(info.content);
    } else {
      this.checkContent('response');
    }
  }

  /** Token counts (off the hot path), then settle the promise. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.leaveAborts?.();
    this.leaveAborts = null;
    const rec = this.rec;
    const n = rec.chunk_times_us.length;
    this.parser = null;
    if (rec.output_tokens_source === 'server') {
      if (n === 1) rec.chunk_tokens = [rec.output_tokens];
      else if (rec.output_tokens === n) rec.chunk_tokens = new Array<number>(n).fill(1);
      else return this.countThenResolve(true, false);
    } else if (n > 0) {
      return this.countThenResolve(n > 1, true);
    }
    this.resolve(rec);
  }

  /** Count with the tokenizer (in slices when the text is long, see ChunkTexts), then settle. */
  private countThenResolve(perEvent: boolean, whole: boolean): void {
    const rec = this.rec;
    this.texts.countTokens(this.settings.countTokens, { perEvent, whole }, (counts, total) => {
      if (whole) rec.output_tokens = total;
      rec.chunk_tokens = counts ?? [rec.output_tokens];
      this.resolve(rec);
    });
  }
}

/** The OpenAI formats: the fast classifier for events, the reference for bodies, embeddings' usage from the end. */
export const OPENAI_DIALECT: ResponseDialect = {
  event: classifyChunk,
  body: classifyChunkJson,
  usage: embeddingsUsage,
  streamEnd: '[DONE]',
};

/** Whether the raw header list says `content-type: text/event-stream`. */
function isEventStream(raw: Buffer[]): boolean {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as Buffer;
    if (name.length !== 12 || name.toString('latin1').toLowerCase() !== 'content-type') continue;
    return (raw[i + 1] as Buffer).toString('latin1').toLowerCase().includes('text/event-stream');
  }
  return false;
}

/**
 * Usage of an embeddings response without parsing the vectors: the `usage`
 * object is located from the end and parsed alone; full JSON.parse when the
 * shape is unusual. null when the body is not JSON.
 */
function embeddingsUsage(text: string): ChunkInfo | null {
  const at = text.lastIndexOf('"usage":');
  let open = at === -1 ? -1 : at + 8;
  while (open !== -1 && (text.charCodeAt(open) === 32 || text.charCodeAt(open) === 10)) open++;
  const close = open === -1 || text.charCodeAt(open) !== 123 ? -1 : text.indexOf('}', open);
  const nested = close === -1 ? -1 : text.indexOf('{', open + 1);
  const fast =
    close !== -1 &&
    (nested === -1 || nested > close) &&
    text.indexOf('"error"') === -1 &&
    text.indexOf('"data":') !== -1 &&
    text.trimEnd().endsWith('}');
  if (fast) {
    const info = classifyChunkJson(`{"usage":${text.slice(open, close + 1)}}`, newChunkInfo());
    if (info.type === ChunkType.data) return info;
  }
  const info = classifyChunkJson(text, newChunkInfo());
  return info.type === ChunkType.invalid ? null : info;
}

/** The server closed or reset the connection: undici's "other side closed" / "closed", or the OS's reset. */
function isConnectionClose(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

/** Remove secrets from a message that may echo request data. */
function redact(message: string, secrets: string[]): string {
  let out = message;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/** Whether undici failed because the response broke HTTP (llhttp's HPE_* codes, framing errors). */
function isProtocolFailure(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  if (e?.name === 'HTTPParserError') return true;
  return typeof e?.code === 'string' && (e.code.startsWith('HPE_') || PROTOCOL_ERROR_CODES.has(e.code));
}

/** A short description of a transport error: its code and message, nothing from headers. */
function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
