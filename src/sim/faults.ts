/**
 * Injected faults: each kind's per-request chance (an option), where it strikes and what
 * it does. One uniform draw per request picks at most one kind, the chances laid end to
 * end in FAULTS' order. A new fault is one entry here (and its rate in options.ts); its
 * count appears in `stats().injected` and /metrics on its own.
 */
import type { Prng } from '../base/prng.js';
import type { SimulatorOptions } from './options.js';

/** Answered instead of the response, before the request enters the batch. */
export interface AnswerFault {
  strikes: 'answer';
  rate(options: SimulatorOptions): number;
  status: number;
  message: string;
  /** OpenAI error `type` and `code`. */
  type: string;
  code?: string;
  headers?: Readonly<Record<string, string>>;
}

/** What a fault does to a response under way; the stream writer carries it out. */
export type StreamEffect =
  /** The next event is that much later (deadlines after it move with it). */
  | { kind: 'pause'; ms(options: SimulatorOptions): number }
  /** The connection is destroyed after the events so far. */
  | { kind: 'cut' }
  /** One event of invalid JSON (streamed), or a truncated body (not streamed). */
  | { kind: 'corrupt' };

/** Strikes once, mid-response, just before one of its content chunks (or its finish). */
export interface StreamFault {
  strikes: 'stream';
  rate(options: SimulatorOptions): number;
  /** The chunk index it strikes before, of `chunks` content chunks (== chunks: before the finish). */
  at(rng: Prng, chunks: number): number;
  effect: StreamEffect;
}

export type Fault = AnswerFault | StreamFault;

/** After the first chunk, up to just before the finish. */
function afterFirstChunk(rng: Prng, chunks: number): number {
  return chunks >= 1 ? 1 + Math.floor(rng.nextFloat() * chunks) : 0;
}

/** Between two content chunks, so it shows as one long gap; before the finish when there are fewer than 2. */
function betweenChunks(rng: Prng, chunks: number): number {
  return chunks >= 2 ? 1 + Math.floor(rng.nextFloat() * (chunks - 1)) : chunks;
}

const FAULT_TABLE = {
  error: {
    strikes: 'answer',
    rate: (o) => o.errorRate,
    status: 500,
    message: 'Internal server error (simulated)',
    type: 'server_error',
  },
  rate429: {
    strikes: 'answer',
    rate: (o) => o.rate429,
    status: 429,
    message: 'Rate limit exceeded (simulated)',
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    headers: { 'retry-after': '1' },
  },
  disconnect: {
    strikes: 'stream',
    rate: (o) => o.disconnectRate,
    at: afterFirstChunk,
    effect: { kind: 'cut' },
  },
  stall: {
    strikes: 'stream',
    rate: (o) => o.stallRate,
    at: betweenChunks,
    effect: { kind: 'pause', ms: (o) => o.stallMs },
  },
  malformed: {
    strikes: 'stream',
    rate: (o) => o.malformedRate,
    at: afterFirstChunk,
    effect: { kind: 'corrupt' },
  },
} as const satisfies Record<string, Fault>;

/** Kinds of injected fault, as counted by `stats().injected` and /metrics. */
export type FaultKind = keyof typeof FAULT_TABLE;

/** Every fault by kind; the order of the entries is the order of the draw. */
export const FAULTS: Readonly<Record<FaultKind, Fault>> = FAULT_TABLE;

export const FAULT_KINDS = Object.keys(FAULTS) as readonly FaultKind[];

/** A zero count per kind. */
export function noFaults(): Record<FaultKind, number> {
  return Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
}

/** This request's fault, if any: one draw from `rng`, the kinds' chances laid end to end. */
export function drawFault(rng: Prng, options: SimulatorOptions): FaultKind | null {
  const u = rng.nextFloat();
  let edge = 0;
  for (const kind of FAULT_KINDS) {
    edge += FAULTS[kind].rate(options);
    if (u < edge) return kind;
  }
  return null;
}
