/**
 * One simulator instance's state and its inference entry point: the options, the
 * counters behind /metrics and `stats()`, the batch, the scheduler and the write log.
 * A request that passes validation and its fault draw becomes a Sequence in the batch.
 */
import type { ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Prng } from '../base/prng.js';
import { Batch } from './batch.js';
import { drawFault, FAULTS, noFaults, type FaultKind } from './faults.js';
import type { ResponseFormat } from './formats/format.js';
import { sendError, SocketCloser } from './http-io.js';
import { LatencyModel } from './latency-model.js';
import { createSimMetrics, type SimCounters, type SimMetrics } from './metrics.js';
import type { SimulatorOptions } from './options.js';
import { parseRequest } from './parse-request.js';
import { DeadlineScheduler } from './scheduler.js';
import { Sequence, type StreamHost } from './stream-writer.js';
import { wallNow_ms, WriteLog, type RequestWrites } from './write-log.js';

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

// Events sent in one write when a stream fell behind its deadlines: it catches up a few
// at a time. (With all delays 0, `zeroDelayEventsPerWrite` applies instead.)
const MAX_EVENTS_PER_WRITE = 8;

export class Simulator implements StreamHost {
  readonly options: SimulatorOptions;
  readonly counters: SimCounters;
  readonly metrics: SimMetrics;
  readonly scheduler = new DeadlineScheduler();
  readonly latency: LatencyModel;
  readonly batch: Batch;
  readonly closer: SocketCloser;
  readonly eventsPerWrite: number;
  readonly writeLog: WriteLog | null;

  /** Response ids are unique across restarts (random prefix) without drawing from the seeded streams. */
  private readonly idPrefix = randomBytes(6).toString('hex');
  private idCounter = 0;
  private requestCount = 0;
  private badRequests = 0;
  private closed = false;

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
      injected: noFaults(),
    };
    this.metrics = createSimMetrics(options.model, this.counters);
    this.latency = new LatencyModel(options);
    this.batch = new Batch(this.counters, options.capacity);
    this.closer = new SocketCloser(options.closeDelayMs);
    this.eventsPerWrite = this.latency.zeroDelay ? options.zeroDelayEventsPerWrite : MAX_EVENTS_PER_WRITE;
    this.writeLog = options.writeLogRequests > 0 ? new WriteLog(options.writeLogRequests) : null;
  }

  responseId(): string {
    return `${this.idPrefix}${(++this.idCounter).toString(36)}`;
  }

  /** An inference request's body has arrived: answer it now (400, injected error) or admit it. */
  inference(
    format: ResponseFormat,
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
    const parsed = parseRequest(format, body, this.options);
    if (typeof parsed === 'string') {
      this.badRequests++;
      sendError(res, 400, parsed, 'invalid_request_error');
      logRejected(writes);
      return;
    }
    const rng = new Prng(this.options.seed, this.requestCount);
    const fault = drawFault(rng, this.options);
    const answer = fault === null ? null : FAULTS[fault];
    if (fault !== null && answer !== null && answer.strikes === 'answer') {
      this.counters.injected[fault]++;
      for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
      sendError(res, answer.status, answer.message, answer.type, answer.code);
      logRejected(writes);
      return;
    }
    this.counters.promptTokens += parsed.promptTokens;
    const seq = new Sequence(this, parsed, rng, res, arrived_ms, fault, writes);
    res.on('close', () => seq.onClose());
    // Admitted on arrival, the TTFT clock starts when the request arrived (before its body
    // was read), so a client measures the configured TTFT plus network time only.
    this.batch.admit(seq, arrived_ms);
  }

  stats(): SimulatorStats {
    return {
      requests: this.requestCount,
      completed: this.batch.completed,
      cancelled: this.batch.cancelled,
      badRequests: this.badRequests,
      running: this.counters.running,
      waiting: this.counters.waiting,
      peakRunning: this.batch.peakRunning,
      peakWaiting: this.batch.peakWaiting,
      promptTokens: this.counters.promptTokens,
      generationTokens: this.counters.generationTokens,
      injected: { ...this.counters.injected },
    };
  }

  /** Stop stepping and admitting; the HTTP server closes apart. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.close();
    this.batch.close();
  }
}

/** An error response (400, 429, 500): headers and body in one write, now. */
function logRejected(writes: RequestWrites | null): void {
  if (!writes) return;
  writes.headers_ms = writes.done_ms = wallNow_ms();
  writes.outcome = 'rejected';
}
