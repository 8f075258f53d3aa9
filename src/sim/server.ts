/**
 * The simulator: an OpenAI-compatible inference server on node:http that behaves
 * like a small batching model (queue beyond capacity, TTFT from prefill, ITL that
 * grows with the batch) and injects faults on request. It is the demo's target and
 * the tests' server, so the hot path is string concatenation and one socket write
 * per stream per tick, driven by one deadline scheduler.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  createSimMetrics,
  FAULT_KINDS,
  type FaultKind,
  type SimCounters,
  type SimMetrics,
} from './metrics.js';
import { resolveSimulatorOptions, type SimulatorOptions } from './options.js';
import {
  hashString,
  lognormalWithMoments,
  mixSeeds,
  mulberry32,
  normalAtLeastZero,
  standardNormal,
  type Rng,
} from './random.js';
import { DeadlineScheduler, type Scheduled } from './scheduler.js';
import { chatPromptText, countTextTokens, randomWord } from './text.js';
import {
  logTokens,
  wallNow_ms,
  WRITE_LOG_PATH,
  WriteLog,
  type RequestWrites,
  type WriteLogSnapshot,
} from './write-log.js';

export type { SimulatorOptions } from './options.js';
export { DEFAULT_SIMULATOR_OPTIONS } from './options.js';
export type { FaultKind } from './metrics.js';
export type { RequestWrites, WriteLogSnapshot } from './write-log.js';

/** What the server did, for tests to compare with what a client saw. */
export interface SimulatorStats {
  /** Inference requests received (chat, completions, embeddings), rejected ones included. */
  requests: number;
  /** Requests answered in full (finish chunk and [DONE], or a whole JSON body). */
  completed: number;
  /** Requests whose client went away before the end (injected disconnects not included). */
  cancelled: number;
  /** Requests answered 400 (unparseable or invalid body). */
  badRequests: number;
  /** Sequences in the batch now. */
  running: number;
  /** Requests queued for a batch slot now. */
  waiting: number;
  peakRunning: number;
  peakWaiting: number;
  promptTokens: number;
  generationTokens: number;
  /** Faults injected, by kind (a stall or malformed chunk counts when it was actually sent). */
  injected: Record<FaultKind, number>;
}

/** A running simulator. */
export interface SimulatorHandle {
  /** Origin, e.g. `http://127.0.0.1:43127` (append `/v1/chat/completions`). */
  url: string;
  port: number;
  stats(): SimulatorStats;
  /** What was written when, per request; null unless `writeLogRequests` > 0. */
  writeLog(): WriteLogSnapshot | null;
  /** Stop listening and destroy open connections, streams included; never hangs. */
  close(): Promise<void>;
}

type Endpoint = 'chat' | 'completions' | 'embeddings';

// Events sent in one write when a stream fell behind its deadlines: it catches up a few
// at a time. (With all delays 0, `zeroDelayEventsPerWrite` applies instead.)
const MAX_EVENTS_PER_WRITE = 8;
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const MALFORMED_EVENT =
  'data: {"id":"malformed","object":"chat.completion.chunk","choices":[{"delta":{"content":\n\n';
const DONE_EVENT = 'data: [DONE]\n\n';

/**
 * Start a simulator on `options.host:options.port` (127.0.0.1 and an OS-chosen port by default).
 * Throws ValidationError when an option is out of range.
 */
export async function startSimulator(options: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle> {
  const sim = new Simulator(resolveSimulatorOptions(options));
  return sim.listen();
}

class Simulator {
  readonly options: SimulatorOptions;
  readonly counters: SimCounters;
  readonly metrics: SimMetrics;
  readonly scheduler = new DeadlineScheduler();
  readonly server: Server;
  readonly zeroDelay: boolean;
  readonly eventsPerWrite: number;
  readonly version: string;
  readonly writeLog: WriteLog | null;

  private readonly queue: Sequence[] = [];
  private queueHead = 0;
  private readonly live = new Set<Sequence>();
  private requestCount = 0;
  /** Response ids are unique across restarts (random prefix) without drawing from the seeded streams. */
  readonly idPrefix = randomBytes(6).toString('hex');
  private idCounter = 0;
  private completed = 0;
  private cancelled = 0;
  private badRequests = 0;
  private peakRunning = 0;
  private peakWaiting = 0;
  private closed = false;
  /** Sockets closing after their response (closeAfterResponse): requests on them are not served. */
  private readonly closing = new WeakSet<Socket>();

  constructor(options: SimulatorOptions) {
    this.options = options;
    this.counters = {
      running: 0,
      waiting: 0,
      promptTokens: 0,
      generationTokens: 0,
      successStop: 0,
      successLength: 0,
      capacity: options.capacity,
      injected: { error: 0, rate429: 0, disconnect: 0, stall: 0, malformed: 0 },
    };
    this.metrics = createSimMetrics(options.model, this.counters);
    this.zeroDelay =
      options.ttftMs === 0 &&
      options.ttftPerInputTokenMs === 0 &&
      options.ttftJitterMs === 0 &&
      options.itlMs === 0;
    this.eventsPerWrite = this.zeroDelay ? options.zeroDelayEventsPerWrite : MAX_EVENTS_PER_WRITE;
    this.version = readVersion();
    this.writeLog = options.writeLogRequests > 0 ? new WriteLog(options.writeLogRequests) : null;
    this.server = createServer({ noDelay: true, keepAlive: true }, (req, res) => this.handle(req, res));
    // Long benchmark streams must not be cut by Node's default request timeouts.
    this.server.requestTimeout = 0;
    this.server.keepAliveTimeout = 65_000;
  }

  listen(): Promise<SimulatorHandle> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        const port = (this.server.address() as AddressInfo).port;
        const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
        resolve({
          url: `http://${host}:${port}`,
          port,
          stats: () => this.stats(),
          writeLog: () => this.writeLog?.snapshot() ?? null,
          close: () => this.close(),
        });
      });
    });
  }

  nextId(): string {
    return (++this.idCounter).toString(36);
  }

  stats(): SimulatorStats {
    return {
      requests: this.requestCount,
      completed: this.completed,
      cancelled: this.cancelled,
      badRequests: this.badRequests,
      running: this.counters.running,
      waiting: this.counters.waiting,
      peakRunning: this.peakRunning,
      peakWaiting: this.peakWaiting,
      promptTokens: this.counters.promptTokens,
      generationTokens: this.counters.generationTokens,
      injected: { ...this.counters.injected },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.close();
    for (const seq of this.live) seq.state = 'done';
    this.live.clear();
    this.queue.length = 0;
    this.queueHead = 0;
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closing;
  }

  // ---- admission control: the "batch" ----

  /** Into the batch at once (its clock starting at arrival) or into the queue. */
  admit(seq: Sequence, arrived_ms: number): void {
    this.live.add(seq);
    if (this.counters.running < this.options.capacity) {
      this.start(seq, arrived_ms);
    } else {
      seq.state = 'waiting';
      this.queue.push(seq);
      this.counters.waiting++;
      if (this.counters.waiting > this.peakWaiting) this.peakWaiting = this.counters.waiting;
    }
  }

  private start(seq: Sequence, now_ms: number): void {
    this.counters.running++;
    if (this.counters.running > this.peakRunning) this.peakRunning = this.counters.running;
    seq.begin(now_ms);
  }

  /** A sequence left the batch or the queue (finished, failed or cancelled). */
  release(seq: Sequence, how: 'completed' | 'cancelled' | 'faulted'): void {
    this.live.delete(seq);
    if (how === 'completed') this.completed++;
    else if (how === 'cancelled') this.cancelled++;
    if (seq.state === 'waiting') {
      // Left the queue before admission; it is skipped when reached.
      this.counters.waiting--;
      seq.state = 'done';
      return;
    }
    seq.state = 'done';
    this.counters.running--;
    if (this.closed) return;
    const now_ms = performance.now();
    while (this.counters.running < this.options.capacity && this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead++] as Sequence;
      if (next.state !== 'waiting') continue;
      this.counters.waiting--;
      this.start(next, now_ms);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  /**
   * llama-server's way of ending a stream: the response promised keep-alive, and the socket is
   * closed as soon as its last byte is out. A request the client wrote on it meanwhile is never served.
   */
  endAndClose(res: ServerResponse, out: string): void {
    const socket = res.socket;
    if (socket === null) {
      res.end(out);
      return;
    }
    this.closing.add(socket);
    const delay_ms = this.options.closeDelayMs;
    res.end(out, () => {
      if (delay_ms === 0) socket.destroy();
      else setTimeout(() => socket.destroy(), delay_ms).unref();
    });
  }

  // ---- latency model ----

  ttft(rng: Rng, promptTokens: number): number {
    const { ttftMs, ttftPerInputTokenMs, ttftJitterMs } = this.options;
    const base = ttftMs + ttftPerInputTokenMs * promptTokens;
    return ttftJitterMs > 0 ? Math.max(0, base + ttftJitterMs * standardNormal(rng)) : base;
  }

  gap(rng: Rng): number {
    const { itlMs, itlJitterMs, itlDistribution, batchSlowdown, capacity } = this.options;
    if (itlMs === 0) return 0;
    const base =
      itlDistribution === 'lognormal'
        ? lognormalWithMoments(rng, itlMs, itlJitterMs)
        : normalAtLeastZero(rng, itlMs, itlJitterMs);
    return base * (1 + (batchSlowdown * this.counters.running) / capacity);
  }

  // ---- HTTP ----

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.closing.has(req.socket)) {
      // Arrived on a connection already being closed after a response: dropped unread, not counted.
      req.socket.destroy();
      return;
    }
    const arrived_ms = performance.now();
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query >= 0 ? url.slice(0, query) : url;
    const method = req.method ?? 'GET';
    if (method === 'POST') {
      const endpoint: Endpoint | undefined =
        path === '/v1/chat/completions'
          ? 'chat'
          : path === '/v1/completions'
            ? 'completions'
            : path === '/v1/embeddings'
              ? 'embeddings'
              : undefined;
      if (endpoint) {
        const writes = this.writeLog?.open(req.headers['x-request-id'], arrived_ms) ?? null;
        this.readBody(req, res, (body) => this.inference(endpoint, body, arrived_ms, res, writes));
        return;
      }
    } else if (method === 'GET' || method === 'HEAD') {
      switch (path) {
        case '/health':
          res.writeHead(200, { 'content-length': '0' }).end();
          return;
        case '/version':
          sendJson(res, 200, { version: this.version });
          return;
        case '/v1/models':
          sendJson(res, 200, this.models());
          return;
        case WRITE_LOG_PATH:
          if (this.writeLog) sendJson(res, 200, this.writeLog.snapshot());
          else
            sendError(res, 404, 'the write log is off (start with writeLogRequests > 0)', 'not_found_error');
          return;
        case '/metrics':
          this.metrics.registry.metrics().then(
            (text) => {
              res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
            },
            (error: unknown) => sendError(res, 500, String(error), 'server_error'),
          );
          return;
      }
    }
    req.resume();
    sendError(res, 404, `Not found: ${method} ${path}`, 'not_found_error');
  }

  private readBody(req: IncomingMessage, res: ServerResponse, done: (body: string) => void): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) sendError(res, 413, 'Request body too large', 'invalid_request_error');
      else
        done(
          chunks.length === 1
            ? (chunks[0] as Buffer).toString('utf8')
            : Buffer.concat(chunks).toString('utf8'),
        );
    });
    req.on('error', () => res.destroy());
  }

  private models(): unknown {
    return {
      object: 'list',
      data: [
        {
          id: this.options.model,
          object: 'model',
          created: 0,
          owned_by: 'infermark',
          root: this.options.model,
          parent: null,
        },
      ],
    };
  }

  private inference(
    endpoint: Endpoint,
    body: string,
    arrived_ms: number,
    res: ServerResponse,
    writes: RequestWrites | null,
  ): void {
    if (this.closed) {
      res.destroy();
      return;
    }
    this.requestCount++;
    const parsed = parseRequest(endpoint, body, this.options);
    if (typeof parsed === 'string') {
      this.badRequests++;
      sendError(res, 400, parsed, 'invalid_request_error');
      logRejected(writes);
      return;
    }
    const rng = mulberry32(mixSeeds(this.options.seed, this.requestCount));
    const fault = this.drawFault(rng);
    if (fault === 'rate429') {
      this.counters.injected.rate429++;
      res.setHeader('retry-after', '1');
      sendError(res, 429, 'Rate limit exceeded (simulated)', 'rate_limit_error', 'rate_limit_exceeded');
      logRejected(writes);
      return;
    }
    if (fault === 'error') {
      this.counters.injected.error++;
      sendError(res, 500, 'Internal server error (simulated)', 'server_error');
      logRejected(writes);
      return;
    }
    this.counters.promptTokens += parsed.promptTokens;
    const seq = new Sequence(this, parsed, rng, res, arrived_ms, fault, writes);
    res.on('close', () => seq.onClose());
    // Admitted on arrival, the TTFT clock starts when the request arrived (before its body
    // was read), so a client measures the configured TTFT plus network time only.
    this.admit(seq, arrived_ms);
  }

  private drawFault(rng: Rng): FaultKind | null {
    const o = this.options;
    const u = rng();
    let edge = 0;
    const rates: Record<FaultKind, number> = {
      rate429: o.rate429,
      error: o.errorRate,
      disconnect: o.disconnectRate,
      stall: o.stallRate,
      malformed: o.malformedRate,
    };
    for (const kind of FAULT_KINDS) {
      edge += rates[kind];
      if (u < edge) return kind;
    }
    return null;
  }
}

/** A validated inference request. */
interface ParsedRequest {
  endpoint: Endpoint;
  model: string;
  stream: boolean;
  includeUsage: boolean;
  promptTokens: number;
  /** Output tokens to generate (after the EOS draw) and why generation ends. */
  outputTokens: number;
  finishReason: 'stop' | 'length';
  /** Seed of the text stream: same prompt and seed, same text. */
  textSeed: number;
  /** Embeddings: the inputs to embed (as hashed keys) and the encoding. */
  embedInputs: string[];
  base64: boolean;
}

function parseRequest(endpoint: Endpoint, body: string, options: SimulatorOptions): ParsedRequest | string {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return 'Request body is not valid JSON';
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    return 'Request body must be a JSON object';
  const r = json as Record<string, unknown>;
  const model = typeof r.model === 'string' && r.model.length > 0 ? r.model : options.model;
  let promptKey: string;
  let promptTokens: number;
  const embedInputs: string[] = [];

  if (endpoint === 'chat') {
    if (!Array.isArray(r.messages) || r.messages.length === 0) return "'messages' must be a non-empty array";
    const { text, images } = chatPromptText(r.messages);
    promptKey = text;
    promptTokens = countTextTokens(text) + images * options.imageTokens;
  } else if (endpoint === 'completions') {
    const prompt = r.prompt;
    if (typeof prompt === 'string') {
      promptKey = prompt;
      promptTokens = countTextTokens(prompt);
    } else if (Array.isArray(prompt) && prompt.length > 0) {
      promptKey = JSON.stringify(prompt);
      promptTokens = 0;
      for (const item of prompt) {
        if (typeof item === 'string') promptTokens += countTextTokens(item);
        else if (typeof item === 'number') promptTokens += 1;
        else if (Array.isArray(item)) promptTokens += item.length;
        else return "'prompt' must be a string, an array of strings, or token ids";
      }
    } else {
      return "'prompt' must be a non-empty string or array";
    }
  } else {
    const input = r.input;
    promptTokens = 0;
    if (typeof input === 'string') {
      embedInputs.push(input);
      promptTokens = countTextTokens(input);
    } else if (Array.isArray(input) && input.length > 0) {
      if (input.every((item) => typeof item === 'number')) {
        embedInputs.push(JSON.stringify(input));
        promptTokens = input.length;
      } else {
        for (const item of input) {
          if (typeof item === 'string') {
            embedInputs.push(item);
            promptTokens += countTextTokens(item);
          } else if (Array.isArray(item)) {
            embedInputs.push(JSON.stringify(item));
            promptTokens += item.length;
          } else {
            return "'input' must be a string, an array of strings, or token ids";
          }
        }
      }
    } else {
      return "'input' must be a non-empty string or array";
    }
    promptKey = embedInputs.join('\n');
  }

  const maxTokens = r.max_completion_tokens ?? r.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null && !isPositiveInteger(maxTokens)) {
    return "'max_tokens' must be a positive integer";
  }
  const minTokens = r.min_tokens ?? 0;
  if (!(Number.isInteger(minTokens) && (minTokens as number) >= 0)) {
    return "'min_tokens' must be a non-negative integer";
  }
  const requestSeed = Number.isInteger(r.seed) ? (r.seed as number) : 0;
  const textSeed = mixSeeds(hashString(promptKey, options.seed), requestSeed >>> 0);
  const limit = (maxTokens as number | null | undefined) ?? options.defaultMaxTokens;

  let outputTokens = endpoint === 'embeddings' ? 0 : limit;
  let finishReason: 'stop' | 'length' = 'length';
  if (endpoint !== 'embeddings' && r.ignore_eos !== true && options.eosProbability > 0) {
    // Geometric draw of where EOS falls, from the text stream so the same prompt ends at the same place.
    const u = 1 - mulberry32(textSeed ^ 0x5bd1e995)();
    const earliest = Math.max(1, minTokens as number);
    const draw =
      options.eosProbability >= 1 ? 1 : Math.ceil(Math.log(u) / Math.log(1 - options.eosProbability));
    const length = earliest - 1 + Math.max(1, draw);
    if (length < limit) {
      outputTokens = length;
      finishReason = 'stop';
    }
  }
  const streamOptions = r.stream_options as { include_usage?: unknown } | undefined | null;
  return {
    endpoint,
    model,
    stream: endpoint !== 'embeddings' && r.stream === true,
    includeUsage: streamOptions?.include_usage === true,
    promptTokens,
    outputTokens,
    finishReason,
    textSeed,
    embedInputs,
    base64: r.encoding_format === 'base64',
  };
}

function isPositiveInteger(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** One request in flight: queued, then stepped by the scheduler at its deadlines. */
class Sequence implements Scheduled {
  deadline_ms = 0;
  heapIndex = -1;
  state: 'new' | 'waiting' | 'running' | 'done' = 'new';

  private readonly sim: Simulator;
  private readonly req: ParsedRequest;
  private readonly rng: Rng;
  private readonly textRng: Rng;
  private readonly res: ServerResponse;
  readonly arrived_ms: number;
  private readonly fault: FaultKind | null;
  /** Index of the chunk before which the fault strikes (== chunkCount: before the finish). */
  private readonly faultChunk: number;
  private faultDone = false;
  private readonly chunkCount: number;
  private readonly tokensPerChunk: number;
  private readonly reasoningTokens: number;
  private chunkIndex = 0;
  private admitted_ms = 0;
  private firstToken_ms = 0;
  private malformedBody = false;
  private paused = false;
  // Streamed: the constant head of every chunk; not streamed: the accumulated output.
  private prefix = '';
  private content = '';
  private reasoning = '';
  private readonly id: string;
  private readonly created_s: number;
  /** This request's entry in the write log, when the log is on. */
  private readonly writes: RequestWrites | null;

  constructor(
    sim: Simulator,
    req: ParsedRequest,
    rng: Rng,
    res: ServerResponse,
    arrived_ms: number,
    fault: FaultKind | null,
    writes: RequestWrites | null,
  ) {
    this.sim = sim;
    this.writes = writes;
    this.req = req;
    this.rng = rng;
    this.textRng = mulberry32(req.textSeed);
    this.res = res;
    this.arrived_ms = arrived_ms;
    this.fault = fault;
    this.tokensPerChunk = sim.options.tokensPerChunk;
    this.reasoningTokens = req.endpoint === 'chat' ? sim.options.reasoningTokens : 0;
    this.chunkCount = Math.ceil(req.outputTokens / this.tokensPerChunk);
    const n = this.chunkCount;
    if (fault === 'stall') this.faultChunk = n >= 2 ? 1 + Math.floor(rng() * (n - 1)) : n;
    else if (fault) this.faultChunk = n >= 1 ? 1 + Math.floor(rng() * n) : 0;
    else this.faultChunk = -1;
    const kind = req.endpoint === 'chat' ? 'chatcmpl' : req.endpoint === 'completions' ? 'cmpl' : 'embd';
    this.id = `${kind}-${sim.idPrefix}${sim.nextId()}`;
    this.created_s = Math.floor(Date.now() / 1000);
  }

  /** Admitted into the batch: start the TTFT clock and, when streaming, send headers and the role chunk. */
  begin(start_ms: number): void {
    this.state = 'running';
    this.admitted_ms = start_ms;
    this.deadline_ms = this.admitted_ms + this.sim.ttft(this.rng, this.req.promptTokens);
    const { endpoint, stream, model } = this.req;
    if (stream) {
      const head = `data: {"id":"${this.id}","object":"${endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion'}","created":${this.created_s},"model":${JSON.stringify(model)},"choices":[`;
      this.prefix = endpoint === 'chat' ? `${head}{"index":0,"delta":{` : `${head}{"index":0,"text":"`;
      this.res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
      });
      if (endpoint === 'chat') {
        this.write(
          `${this.prefix}"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`,
        );
      } else {
        this.res.flushHeaders();
      }
      if (this.writes) this.writes.headers_ms = wallNow_ms();
    }
    this.sim.scheduler.add(this);
  }

  step(now_ms: number): boolean {
    if (this.state !== 'running' || this.paused) return false;
    const due_ms = now_ms + 0.5;
    let out = '';
    let events = 0;
    const limit = this.sim.eventsPerWrite;
    while (this.deadline_ms <= due_ms && events < limit) {
      if (this.chunkIndex === this.faultChunk && !this.faultDone) {
        this.faultDone = true;
        const kind = this.fault as FaultKind;
        this.sim.counters.injected[kind]++;
        if (kind === 'stall') {
          this.deadline_ms += this.sim.options.stallMs;
          continue;
        }
        if (kind === 'disconnect') {
          if (out) this.res.write(out);
          if (this.writes) logTokens(this.writes, events, wallNow_ms());
          this.finish(now_ms, 'faulted');
          // After the write has left (http corks until the next tick), so the tokens before it arrive.
          setImmediate(() => this.res.destroy());
          return false;
        }
        if (this.req.stream) out += MALFORMED_EVENT;
        else this.malformedBody = true;
      }
      if (this.chunkIndex === this.chunkCount) {
        this.complete(now_ms, out, events);
        return false;
      }
      out += this.emitChunk(now_ms);
      events++;
      // The finish rides with the last chunk; only decode steps between chunks take time.
      if (this.chunkIndex < this.chunkCount) this.deadline_ms += this.sim.gap(this.rng);
    }
    if (out) {
      const written = this.write(out);
      if (this.writes) logTokens(this.writes, events, wallNow_ms());
      if (!written) return false;
    }
    return true;
  }

  /** Client went away (or the response ended normally: then nothing to do). */
  onClose(): void {
    if (this.state === 'done') return;
    if (this.writes) this.writes.outcome = 'cancelled';
    this.sim.scheduler.remove(this);
    this.sim.release(this, 'cancelled');
  }

  private emitChunk(now_ms: number): string {
    const first = this.chunkIndex * this.tokensPerChunk;
    const end = Math.min(first + this.tokensPerChunk, this.req.outputTokens);
    this.chunkIndex++;
    this.sim.counters.generationTokens += end - first;
    if (first === 0) {
      this.firstToken_ms = now_ms;
      this.sim.metrics.observeTtft((now_ms - this.arrived_ms) / 1000);
    }
    let reasoning = '';
    let content = '';
    for (let i = first; i < end; i++) {
      if (i < this.reasoningTokens) reasoning += randomWord(this.textRng);
      else content += randomWord(this.textRng);
    }
    if (!this.req.stream) {
      this.reasoning += reasoning;
      this.content += content;
      return '';
    }
    // Words are plain ASCII letters and spaces: no JSON escaping needed.
    if (this.req.endpoint === 'completions') {
      return `${this.prefix}${content}","logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n`;
    }
    const fields =
      reasoning && content
        ? `"reasoning_content":"${reasoning}","content":"${content}"`
        : reasoning
          ? `"reasoning_content":"${reasoning}"`
          : `"content":"${content}"`;
    return `${this.prefix}${fields}},"logprobs":null,"finish_reason":null}]}\n\n`;
  }

  /** The finish (with the `events` content events still in `out`) and the end of the response. */
  private complete(now_ms: number, out: string, events: number): void {
    const { endpoint, stream, finishReason, promptTokens, outputTokens } = this.req;
    const usage = `{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens + outputTokens},"completion_tokens":${outputTokens}}`;
    if (stream) {
      out +=
        endpoint === 'chat'
          ? `${this.prefix}},"logprobs":null,"finish_reason":"${finishReason}"}]}\n\n`
          : `${this.prefix}","logprobs":null,"finish_reason":"${finishReason}","stop_reason":null}]}\n\n`;
      if (this.req.includeUsage) {
        const head = this.prefix.slice(0, this.prefix.indexOf('"choices":['));
        out += `${head}"choices":[],"usage":${usage}}\n\n`;
      }
      out += DONE_EVENT;
      this.finish(now_ms, 'completed');
      if (this.sim.options.closeAfterResponse) this.sim.endAndClose(this.res, out);
      else this.res.end(out);
      this.logEnd(events);
      return;
    }
    let body: string;
    if (endpoint === 'embeddings') {
      body = this.embeddingsBody();
    } else if (endpoint === 'chat') {
      const message = `{"role":"assistant","content":"${this.content}","reasoning_content":${this.reasoning ? `"${this.reasoning}"` : 'null'},"tool_calls":[]}`;
      body = `{"id":"${this.id}","object":"chat.completion","created":${this.created_s},"model":${JSON.stringify(this.req.model)},"choices":[{"index":0,"message":${message},"logprobs":null,"finish_reason":"${finishReason}"}],"usage":${usage}}`;
    } else {
      body = `{"id":"${this.id}","object":"text_completion","created":${this.created_s},"model":${JSON.stringify(this.req.model)},"choices":[{"index":0,"text":"${this.content}","logprobs":null,"finish_reason":"${finishReason}","stop_reason":null}],"usage":${usage}}`;
    }
    if (this.malformedBody) body = body.slice(0, Math.max(1, body.length >> 1));
    this.finish(now_ms, 'completed');
    this.res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    this.logEnd(0);
  }

  /** The response ended now, its last `events` content events with it. */
  private logEnd(events: number): void {
    if (!this.writes) return;
    const at_ms = wallNow_ms();
    this.writes.headers_ms ??= at_ms;
    logTokens(this.writes, events, at_ms);
    this.writes.done_ms = at_ms;
  }

  private embeddingsBody(): string {
    const dim = this.sim.options.embeddingDim;
    const data: string[] = [];
    this.req.embedInputs.forEach((input, index) => {
      const rng = mulberry32(hashString(input, this.sim.options.seed));
      const vector = new Float32Array(dim);
      let norm = 0;
      for (let i = 0; i < dim; i++) {
        const v = rng() * 2 - 1;
        vector[i] = v;
        norm += v * v;
      }
      const scale = 1 / Math.sqrt(norm || 1);
      for (let i = 0; i < dim; i++) vector[i] = (vector[i] as number) * scale;
      const embedding = this.req.base64
        ? `"${Buffer.from(vector.buffer).toString('base64')}"`
        : `[${Array.from(vector).join(',')}]`;
      data.push(`{"object":"embedding","index":${index},"embedding":${embedding}}`);
    });
    const p = this.req.promptTokens;
    return `{"id":"${this.id}","object":"list","created":${this.created_s},"model":${JSON.stringify(this.req.model)},"data":[${data.join(',')}],"usage":{"prompt_tokens":${p},"total_tokens":${p},"completion_tokens":0}}`;
  }

  private finish(now_ms: number, how: 'completed' | 'faulted'): void {
    if (this.writes) this.writes.outcome = how;
    if (how === 'completed') {
      if (this.req.finishReason === 'stop') this.sim.counters.successStop++;
      else this.sim.counters.successLength++;
    }
    const n = this.req.outputTokens;
    const tpot_s = n >= 2 && this.firstToken_ms > 0 ? (now_ms - this.firstToken_ms) / 1000 / (n - 1) : null;
    this.sim.metrics.observeFinished(
      (now_ms - this.arrived_ms) / 1000,
      (this.admitted_ms - this.arrived_ms) / 1000,
      tpot_s,
    );
    this.sim.release(this, how);
  }

  /** Write `text`; on backpressure, pause until the socket drains (deadlines stay absolute). */
  private write(text: string): boolean {
    if (this.res.write(text)) return true;
    this.paused = true;
    this.res.once('drain', () => {
      this.paused = false;
      if (this.state === 'running') this.sim.scheduler.add(this);
    });
    return false;
  }
}

/** An error response (400, 429, 500): headers and body in one write, now. */
function logRejected(writes: RequestWrites | null): void {
  if (!writes) return;
  writes.headers_ms = writes.done_ms = wallNow_ms();
  writes.outcome = 'rejected';
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code?: string): void {
  sendJson(res, status, { error: { message, type, param: null, code: code ?? null } });
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
