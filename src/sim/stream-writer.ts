/**
 * One request in flight, stepped by the deadline scheduler: it sends the response's
 * headers when admitted, then at each deadline the content events now due (several in
 * one socket write when it fell behind), a fault where one strikes, and the finish,
 * usage and [DONE], or one whole body when not streamed. Every write is noted in the
 * write log as it is handed to the socket. This is the hot path: strings are
 * concatenated, deadlines are absolute, nothing is awaited.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Prng } from '../base/prng.js';
import type { Batch, Departure } from './batch.js';
import { FAULTS, type FaultKind, type StreamEffect } from './faults.js';
import type { ParsedRequest, StreamEvents } from './formats/format.js';
import type { SocketCloser } from './http-io.js';
import type { LatencyModel } from './latency-model.js';
import type { SimCounters, SimObserver } from './metrics.js';
import type { SimulatorOptions } from './options.js';
import { TEXT_STREAM } from './parse-request.js';
import type { DeadlineScheduler, Scheduled } from './scheduler.js';
import { randomWord } from './text.js';
import { logTokens, wallNow_ms, type RequestWrites } from './write-log.js';

/** What a sequence needs from the node that runs it. */
export interface StreamHost {
  readonly options: SimulatorOptions;
  readonly counters: SimCounters;
  readonly metrics: SimObserver;
  readonly scheduler: DeadlineScheduler;
  readonly latency: LatencyModel;
  readonly batch: Batch;
  readonly closer: SocketCloser;
  /** Content events sent in one write at most. */
  readonly eventsPerWrite: number;
  /** A response id unique to this server (without the format's prefix). */
  responseId(): string;
}

// A corrupt effect's event: a chunk cut off mid-JSON.
const MALFORMED_EVENT =
  'data: {"id":"malformed","object":"chat.completion.chunk","choices":[{"delta":{"content":\n\n';
const DONE_EVENT = 'data: [DONE]\n\n';

/** One request in flight: queued, then stepped by the scheduler at its deadlines. */
export class Sequence implements Scheduled {
  deadline_ms = 0;
  heapIndex = -1;
  state: 'new' | 'waiting' | 'running' | 'done' = 'new';

  private readonly sim: StreamHost;
  private readonly req: ParsedRequest;
  /** The format's events; null when it never streams. */
  private readonly events: StreamEvents | null;
  private readonly rng: Prng;
  private readonly textRng: Prng;
  private readonly res: ServerResponse;
  readonly arrived_ms: number;
  /** When it reached the batch (after any host-side preprocessing); its queue time starts here. */
  enqueued_ms: number;
  private readonly fault: FaultKind | null;
  /** Prompt tokens served from the node's prefix cache (no prefill); -1 when it has none. */
  cachedTokens = -1;
  private readonly faultEffect: StreamEffect | null;
  /** Index of the chunk before which the fault strikes (== chunkCount: before the finish). */
  private readonly faultChunk: number;
  private faultDone = false;
  private readonly chunkCount: number;
  private readonly tokensPerChunk: number;
  private readonly reasoningTokens: number;
  private chunkIndex = 0;
  private admitted_ms = 0;
  private firstToken_ms = 0;
  private lastEvent_ms = 0;
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
    sim: StreamHost,
    req: ParsedRequest,
    rng: Prng,
    res: ServerResponse,
    arrived_ms: number,
    fault: FaultKind | null,
    writes: RequestWrites | null,
  ) {
    this.sim = sim;
    this.writes = writes;
    this.req = req;
    this.events = req.format.events;
    this.rng = rng;
    this.textRng = new Prng(req.textSeed, req.requestSeed, TEXT_STREAM);
    this.res = res;
    this.arrived_ms = arrived_ms;
    this.enqueued_ms = arrived_ms;
    this.fault = fault;
    this.tokensPerChunk = sim.options.tokensPerChunk;
    this.reasoningTokens = req.format.reasons ? sim.options.reasoningTokens : 0;
    this.chunkCount = Math.ceil(req.outputTokens / this.tokensPerChunk);
    const def = fault === null ? null : FAULTS[fault];
    if (def !== null && def.strikes === 'stream') {
      this.faultEffect = def.effect;
      this.faultChunk = def.at(rng, this.chunkCount);
    } else {
      this.faultEffect = null;
      this.faultChunk = -1;
    }
    this.id = `${req.format.idPrefix}-${sim.responseId()}`;
    this.created_s = Math.floor(Date.now() / 1000);
  }

  /** Admitted into the batch: start the TTFT clock and, when streaming, send headers and the first event. */
  begin(start_ms: number): void {
    this.state = 'running';
    this.admitted_ms = start_ms;
    // The prefill computes only what the prefix cache did not hold.
    const prefill = this.req.promptTokens - Math.max(0, this.cachedTokens);
    this.deadline_ms = this.admitted_ms + this.sim.latency.ttft(this.rng, prefill);
    if (this.writes) this.writes.admitted_ms = performance.timeOrigin + start_ms;
    if (this.req.stream && this.events) {
      this.prefix = this.events.prefix(this.id, this.created_s, this.req.model);
      this.res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
      });
      const first = this.events.first(this.prefix);
      if (first) this.write(first);
      else this.res.flushHeaders();
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
        this.sim.counters.injected[this.fault as FaultKind]++;
        const effect = this.faultEffect as StreamEffect;
        if (effect.kind === 'pause') {
          this.deadline_ms += effect.ms(this.sim.options);
          continue;
        }
        if (effect.kind === 'cut') {
          if (out) this.res.write(out);
          const at_ms = performance.now();
          this.sent(events, at_ms);
          this.finish(at_ms, 'faulted');
          // After the write has left (http corks until the next tick), so the tokens before it arrive.
          setImmediate(() => this.res.destroy());
          return false;
        }
        if (this.req.stream) out += MALFORMED_EVENT;
        else this.malformedBody = true;
      }
      if (this.chunkIndex === this.chunkCount) {
        this.complete(out, events);
        return false;
      }
      out += this.emitChunk(now_ms);
      events++;
      // The finish rides with the last chunk; only decode steps between chunks take time.
      if (this.chunkIndex < this.chunkCount)
        this.deadline_ms += this.sim.latency.gap(this.rng, this.sim.counters.running);
    }
    if (out) {
      const written = this.write(out);
      this.sent(events, performance.now());
      if (!written) return false;
    }
    return true;
  }

  /** Client went away (or the response ended normally: then nothing to do). */
  onClose(): void {
    if (this.state === 'done') return;
    if (this.writes) this.writes.outcome = 'cancelled';
    this.sim.scheduler.remove(this);
    this.sim.batch.release(this, 'cancelled');
  }

  /**
   * `events` content events of a stream were handed to the socket at `at_ms`: the write log
   * and the server's TTFT and inter-token histograms take the same time, so they agree.
   */
  private sent(events: number, at_ms: number): void {
    if (this.writes) logTokens(this.writes, events, performance.timeOrigin + at_ms);
    if (this.req.stream) this.delivered(events, at_ms);
  }

  /** `events` content events reached the client (streamed) or the output (not streamed) at `at_ms`. */
  private delivered(events: number, at_ms: number): void {
    for (let k = 0; k < events; k++) {
      if (this.firstToken_ms === 0) {
        this.firstToken_ms = at_ms;
        this.sim.metrics.observeTtft((at_ms - this.arrived_ms) / 1000);
      } else if (!this.sim.latency.zeroDelay) {
        // With every delay 0 the gaps are all 0, and one observation per event would cost the
        // zero-delay stream rate dearly: only timed streams feed the inter-token histogram.
        this.sim.metrics.observeItl((at_ms - this.lastEvent_ms) / 1000);
      }
      this.lastEvent_ms = at_ms;
    }
  }

  private emitChunk(now_ms: number): string {
    const first = this.chunkIndex * this.tokensPerChunk;
    const end = Math.min(first + this.tokensPerChunk, this.req.outputTokens);
    this.chunkIndex++;
    this.sim.counters.generationTokens += end - first;
    // Not streamed, a token counts as produced when its step ran; streamed, when it is written.
    if (!this.req.stream) this.delivered(1, now_ms);
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
    const events = this.events as StreamEvents;
    if (events.repeatsText === true) this.content += reasoning + content;
    return events.content(this.prefix, reasoning, content);
  }

  /** The finish (with the `events` content events still in `out`) and the end of the response. */
  private complete(out: string, events: number): void {
    const { stream, finishReason, promptTokens, outputTokens } = this.req;
    const details =
      this.cachedTokens >= 0 ? `,"prompt_tokens_details":{"cached_tokens":${this.cachedTokens}}` : '';
    const usage = `{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens + outputTokens},"completion_tokens":${outputTokens}${details}}`;
    if (stream) {
      const format = this.events as StreamEvents;
      if (format.end !== undefined) {
        out += format.end(this.prefix, { finishReason, promptTokens, outputTokens, text: this.content });
      } else {
        out += format.finish(this.prefix, finishReason);
        if (this.req.includeUsage) out += format.usage(this.prefix, usage);
        out += DONE_EVENT;
      }
      if (this.sim.options.closeAfterResponse) this.sim.closer.endAndClose(this.res, out);
      else this.res.end(out);
      this.ended(events);
      return;
    }
    let body = this.req.format.body(
      this.req,
      { id: this.id, created_s: this.created_s, content: this.content, reasoning: this.reasoning, usage },
      this.sim.options,
    );
    if (this.malformedBody) body = body.slice(0, Math.max(1, body.length >> 1));
    this.res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    this.ended(0);
  }

  /** The response ended now, its last `events` content events with it: logged, observed, released. */
  private ended(events: number): void {
    const at_ms = performance.now();
    if (this.writes) this.writes.headers_ms ??= performance.timeOrigin + at_ms;
    this.sent(events, at_ms);
    if (this.writes) this.writes.done_ms = performance.timeOrigin + at_ms;
    this.finish(at_ms, 'completed');
  }

  private finish(now_ms: number, how: Exclude<Departure, 'cancelled'>): void {
    if (this.writes) this.writes.outcome = how;
    if (how === 'completed') {
      if (this.req.finishReason === 'stop') this.sim.counters.successStop++;
      else this.sim.counters.successLength++;
    }
    const n = this.req.outputTokens;
    const tpot_s = n >= 2 && this.firstToken_ms > 0 ? (now_ms - this.firstToken_ms) / 1000 / (n - 1) : null;
    const started = this.firstToken_ms > 0;
    this.sim.metrics.observeFinished({
      e2e_s: (now_ms - this.arrived_ms) / 1000,
      queue_s: (this.admitted_ms - this.enqueued_ms) / 1000,
      tpot_s,
      prefill_s: started ? (this.firstToken_ms - this.admitted_ms) / 1000 : null,
      decode_s: started ? (now_ms - this.firstToken_ms) / 1000 : null,
    });
    this.sim.batch.release(this, how);
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
