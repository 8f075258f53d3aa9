/**
 * One simulator instance's state and its inference entry point: the options, its nodes
 * (serving replicas, each with its own batch; requests go to them round-robin in arrival
 * order), the whole server's metrics, the scheduler and the write log. A request that
 * passes validation and its fault draw becomes a Sequence on its node.
 */
import type { ServerResponse } from 'node:http';
import { randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ValidationError } from '../base/errors.js';
import { Prng } from '../base/prng.js';
import { drawFault, FAULT_KINDS, FAULTS, type FaultKind } from './faults.js';
import type { ResponseFormat } from './formats/format.js';
import { sendError, sendJson, SocketCloser } from './http-io.js';
import { LatencyModel } from './latency-model.js';
import { createSimMetrics, sumCounters, type SimCounters, type SimMetrics } from './metrics.js';
import { SimNode, type NodeHost } from './node.js';
import type { SimulatorOptions } from './options.js';
import { readPublicKey, signatureProblem } from './oci-signature.js';
import { parseRequest } from './parse-request.js';
import { blockHashes } from './prefix-cache.js';
import { hashString } from './random.js';
import { DeadlineScheduler } from './scheduler.js';
import { Sequence } from './stream-writer.js';
import { wallNow_ms, WriteLog, type RequestWrites } from './write-log.js';

/** One node's share of `SimulatorStats`. */
export interface NodeStats {
  name: string;
  /** Inference requests routed to it, rejected ones included. */
  requests: number;
  completed: number;
  cancelled: number;
  running: number;
  waiting: number;
  restarts: number;
}

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
  /** Sequences in the batches now. */
  running: number;
  /** Requests queued for a batch slot now. */
  waiting: number;
  peakRunning: number;
  peakWaiting: number;
  promptTokens: number;
  generationTokens: number;
  /** Faults injected, by kind (a stall or malformed chunk counts when it was actually sent). */
  injected: Record<FaultKind, number>;
  /** Engine restarts, all nodes together (`restartAfterRequests`: one per node). */
  restarts: number;
  nodes: NodeStats[];
}

// Events sent in one write when a stream fell behind its deadlines: it catches up a few
// at a time. (With all delays 0, `zeroDelayEventsPerWrite` applies instead.)
const MAX_EVENTS_PER_WRITE = 8;

export class Simulator implements NodeHost {
  readonly options: SimulatorOptions;
  /** The whole server's metrics (every node's added up), served at /metrics. */
  readonly metrics: SimMetrics;
  readonly scheduler = new DeadlineScheduler();
  readonly closer: SocketCloser;
  readonly eventsPerWrite: number;
  readonly writeLog: WriteLog | null;
  readonly nodes: readonly SimNode[];
  /** The key OCI requests must be signed with (`ociPublicKey`), or null when they are not checked. */
  private readonly ociKey: KeyObject | null;

  /** Response ids are unique across restarts (random prefix) without drawing from the seeded streams. */
  private readonly idPrefix = randomBytes(6).toString('hex');
  private idCounter = 0;
  private requestCount = 0;
  private routed = 0;
  private admitted = 0;
  private badRequests = 0;
  private peakRunning = 0;
  private peakWaiting = 0;
  private closed = false;

  constructor(options: SimulatorOptions) {
    this.options = options;
    this.metrics = createSimMetrics(options.model, () => this.totals());
    this.closer = new SocketCloser(options.closeDelayMs);
    const zeroDelay = new LatencyModel(options).zeroDelay;
    this.eventsPerWrite = zeroDelay ? options.zeroDelayEventsPerWrite : MAX_EVENTS_PER_WRITE;
    this.writeLog = options.writeLogRequests > 0 ? new WriteLog(options.writeLogRequests) : null;
    this.nodes = Array.from({ length: options.nodes }, (_, i) => new SimNode(this, i));
    this.ociKey = options.ociPublicKey === '' ? null : loadPublicKey(options.ociPublicKey);
  }

  get serverMetrics(): SimMetrics {
    return this.metrics;
  }

  responseId(): string {
    return `${this.idPrefix}${(++this.idCounter).toString(36)}`;
  }

  /** The node the next inference request goes to (round-robin in arrival order). */
  pickNode(): SimNode {
    const node = this.nodes[this.routed++ % this.nodes.length] as SimNode;
    node.requests++;
    return node;
  }

  /** Every node's counters added up. */
  totals(): SimCounters {
    const [only] = this.nodes;
    return this.nodes.length === 1 && only ? only.counters : sumCounters(this.nodes.map((n) => n.counters));
  }

  nodeChanged(): void {
    let running = 0;
    let waiting = 0;
    for (const node of this.nodes) {
      running += node.counters.running;
      waiting += node.counters.waiting;
    }
    if (running > this.peakRunning) this.peakRunning = running;
    if (waiting > this.peakWaiting) this.peakWaiting = waiting;
  }

  /** An inference request's body has arrived: answer it now (400, injected error) or admit it on `node`. */
  inference(
    format: ResponseFormat,
    body: string,
    arrived_ms: number,
    res: ServerResponse,
    writes: RequestWrites | null,
    node: SimNode,
  ): void {
    if (this.closed) {
      res.destroy();
      return;
    }
    this.requestCount++;
    if (format.signed === true && this.ociKey !== null) {
      const req = res.req;
      const problem = signatureProblem(
        { method: req.method ?? 'POST', target: req.url ?? '/', headers: req.headers, body },
        this.ociKey,
      );
      if (problem !== null) {
        // OCI's answer to an unsigned or wrongly signed request.
        sendJson(res, 401, { code: 'NotAuthenticated', message: problem });
        logRejected(writes);
        return;
      }
    }
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
      node.counters.injected[fault]++;
      for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
      sendError(res, answer.status, answer.message, answer.type, answer.code);
      logRejected(writes);
      return;
    }
    node.counters.promptTokens += parsed.promptTokens;
    const seq = new Sequence(node, parsed, rng, res, arrived_ms, fault, writes);
    if (node.prefixCache !== null && format.events !== null) {
      const hashes = blockHashes(parsed.promptText, hashString(format.path));
      seq.cachedTokens = node.prefixCache.serve(hashes, parsed.promptTokens);
      node.counters.prefixHitTokens += seq.cachedTokens;
      if (writes) writes.cached_tokens = seq.cachedTokens;
    }
    res.on('close', () => seq.onClose());
    // Admitted on arrival, the TTFT clock starts when the request arrived (before its body
    // was read), so a client measures the configured TTFT plus network time only.
    node.enter(seq, arrived_ms);
    this.admitted++;
    if (this.admitted === this.options.restartAfterRequests) this.restartEngines();
  }

  /** Every node's engine restarts at once, and the whole server's metrics start from zero with them. */
  private restartEngines(): void {
    const now_s = Date.now() / 1000;
    this.metrics.restart(now_s);
    for (const node of this.nodes) node.restart(now_s);
  }

  stats(): SimulatorStats {
    const totals = this.totals();
    const nodes = this.nodes.map((node): NodeStats => ({
      name: node.name,
      requests: node.requests,
      completed: node.batch.completed,
      cancelled: node.batch.cancelled,
      running: node.counters.running,
      waiting: node.counters.waiting,
      restarts: node.restarts,
    }));
    const injected = Object.fromEntries(FAULT_KINDS.map((k) => [k, totals.injected[k]])) as Record<
      FaultKind,
      number
    >;
    return {
      requests: this.requestCount,
      completed: nodes.reduce((sum, n) => sum + n.completed, 0),
      cancelled: nodes.reduce((sum, n) => sum + n.cancelled, 0),
      badRequests: this.badRequests,
      running: totals.running,
      waiting: totals.waiting,
      peakRunning: this.peakRunning,
      peakWaiting: this.peakWaiting,
      promptTokens: totals.promptTokens,
      generationTokens: totals.generationTokens,
      injected,
      restarts: nodes.reduce((sum, n) => sum + n.restarts, 0),
      nodes,
    };
  }

  /** Stop stepping and admitting; the HTTP server closes apart. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.close();
    for (const node of this.nodes) node.close();
  }
}

/** The public key in `file`. @throws ValidationError naming the option when it cannot be read as one. */
function loadPublicKey(file: string): KeyObject {
  try {
    return readPublicKey(readFileSync(file));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ValidationError([
      { path: 'ociPublicKey', value: file, message: `expected a readable PEM public key file (${why})` },
    ]);
  }
}

/** An error response (400, 401, 429, 500): headers and body in one write, now. */
function logRejected(writes: RequestWrites | null): void {
  if (!writes) return;
  writes.headers_ms = writes.done_ms = wallNow_ms();
  writes.outcome = 'rejected';
}
