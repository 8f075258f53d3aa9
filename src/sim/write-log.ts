/**
 * The simulator's write log: when it actually wrote each request's headers, each
 * content event and the end of the response, keyed by the `x-request-id` the client
 * sent. Timing tests compare the client's figures with this, per request, instead of
 * with the nominal settings, so a simulator running late on a loaded host is not
 * blamed on the client. Opt-in (`writeLogRequests`), and bounded: the newest requests
 * are kept, each with at most MAX_TOKEN_WRITES event times.
 */
import { performance } from 'node:perf_hooks';

/** Event times kept per request; later events are counted in `token_writes_dropped`. */
export const MAX_TOKEN_WRITES = 1024;
/** The longest request id kept (a client's header is cut to this). */
export const MAX_REQUEST_ID_CHARS = 200;
/** The simulator's route for the log. */
export const WRITE_LOG_PATH = '/sim/write-log';

/**
 * One request's writes. Times are wall-clock milliseconds with sub-millisecond digits
 * (`performance.timeOrigin + performance.now()`), so differences within a request are
 * monotonic and a client on the same host can compare them with its own clock.
 */
export interface RequestWrites {
  /** The client's `x-request-id`, or null when it sent none. */
  request_id: string | null;
  /** The node (serving replica) it went to: `sim-node-<i>`. */
  node: string;
  /** When the request's headers arrived (the TTFT clock of the latency model starts here). */
  arrived_ms: number;
  /**
   * When it entered its node's batch (its prefill began); later than `arrived_ms` when it waited
   * in host-side preprocessing, in the queue or for a restarting engine. Null until then.
   */
  admitted_ms: number | null;
  /** When the response headers were handed to the socket (streamed: with the role chunk). */
  headers_ms: number | null;
  /** When each content event was handed to the socket (events written together share a time). */
  token_ms: number[];
  token_writes_dropped: number;
  /** Prompt tokens served from the node's prefix cache; null when it has none (or the format generates nothing). */
  cached_tokens: number | null;
  /** When the last bytes were handed to the socket (`[DONE]`, or a whole JSON body). */
  done_ms: number | null;
  /** How the request left the server (`rejected`: a 400, 429 or 500 answer); null while in flight. */
  outcome: 'completed' | 'cancelled' | 'faulted' | 'rejected' | null;
}

export interface WriteLogSnapshot {
  /** Requests kept at most (the oldest go first). */
  limit: number;
  /** Requests logged and then dropped for the limit. */
  dropped: number;
  requests: RequestWrites[];
}

/** The wall-clock time now, in the log's unit. */
export function wallNow_ms(): number {
  return performance.timeOrigin + performance.now();
}

/** The newest `limit` requests' writes. */
export class WriteLog {
  private readonly entries = new Set<RequestWrites>();
  private dropped = 0;

  constructor(readonly limit: number) {}

  /** A new request for `node`, arrived at `arrived_perf_ms` (a `performance.now()` reading). */
  open(requestId: string | string[] | undefined, arrived_perf_ms: number, node: string): RequestWrites {
    const id = Array.isArray(requestId) ? requestId[0] : requestId;
    const entry: RequestWrites = {
      request_id: id === undefined ? null : id.slice(0, MAX_REQUEST_ID_CHARS),
      node,
      arrived_ms: performance.timeOrigin + arrived_perf_ms,
      admitted_ms: null,
      headers_ms: null,
      token_ms: [],
      token_writes_dropped: 0,
      cached_tokens: null,
      done_ms: null,
      outcome: null,
    };
    this.entries.add(entry);
    if (this.entries.size > this.limit) {
      const oldest = this.entries.values().next().value as RequestWrites;
      this.entries.delete(oldest);
      this.dropped++;
    }
    return entry;
  }

  snapshot(): WriteLogSnapshot {
    return { limit: this.limit, dropped: this.dropped, requests: [...this.entries] };
  }
}

/** `count` content events handed to the socket at `at_ms`. */
export function logTokens(entry: RequestWrites, count: number, at_ms: number): void {
  for (let i = 0; i < count; i++) {
    if (entry.token_ms.length < MAX_TOKEN_WRITES) entry.token_ms.push(at_ms);
    else entry.token_writes_dropped++;
  }
}

/** A simulator's log over HTTP (a simulator in another process); refuses a simulator without one. */
export async function fetchWriteLog(url: string): Promise<WriteLogSnapshot> {
  const response = await fetch(`${url}${WRITE_LOG_PATH}`);
  if (!response.ok)
    throw new Error(`${url}${WRITE_LOG_PATH}: HTTP ${response.status}: ${await response.text()}`);
  return (await response.json()) as WriteLogSnapshot;
}

/** The log's entries by request id (requests without one are left out). */
export function writesById(snapshot: WriteLogSnapshot): Map<string, RequestWrites> {
  const byId = new Map<string, RequestWrites>();
  for (const entry of snapshot.requests) if (entry.request_id !== null) byId.set(entry.request_id, entry);
  return byId;
}
