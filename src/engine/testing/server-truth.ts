/**
 * Test support: a client's request records set against the simulator's write log,
 * per request (joined on the `x-request-id` the backend sends). A timing test then
 * bounds how far the client's figures are from what the server actually did, not
 * from the simulator's nominal settings, so a simulator running late on a loaded
 * host is not blamed on the client.
 */
import type { RequestRecord } from '../../metrics/record.js';
import { writesById, type RequestWrites, type WriteLogSnapshot } from '../../sim/write-log.js';

/** One completed request, as the client and as the server saw it (ms). */
export interface TruthPair {
  request_id: string;
  /** The client's TTFT: first_token_at − sent_at. */
  client_ttft_ms: number;
  /** The server's: first content event written − request arrived. */
  server_ttft_ms: number;
  /** client − server: the transport, and the client's own delay in reading (≥ 0 up to clock reads). */
  ttft_excess_ms: number;
  /** The client's mean gap between its first and last content event, over the server's. */
  client_span_ms: number;
  server_span_ms: number;
  /** Content events the client counted, and the server wrote. */
  client_events: number;
  server_events: number;
}

/**
 * Pairs every completed, streamed record with its server entry. Throws when a record
 * has no entry (the log's limit is too small for the test, or the ids do not join).
 */
export function pairWithWrites(records: RequestRecord[], log: WriteLogSnapshot): TruthPair[] {
  const byId = writesById(log);
  const pairs: TruthPair[] = [];
  for (const record of records) {
    if (record.status !== 'ok' || record.first_token_at_us === null || record.last_token_at_us === null)
      continue;
    const writes: RequestWrites | undefined = byId.get(record.request_id);
    if (writes === undefined) {
      throw new Error(
        `request ${record.request_id}: not in the simulator's write log (${log.requests.length} kept, ${log.dropped} dropped)`,
      );
    }
    const first = writes.token_ms[0];
    const last = writes.token_ms[writes.token_ms.length - 1];
    if (first === undefined || last === undefined) {
      throw new Error(`request ${record.request_id}: the server logged no content event`);
    }
    const client_ttft_ms = (record.first_token_at_us - record.sent_at_us) / 1000;
    const server_ttft_ms = first - writes.arrived_ms;
    pairs.push({
      request_id: record.request_id,
      client_ttft_ms,
      server_ttft_ms,
      ttft_excess_ms: client_ttft_ms - server_ttft_ms,
      client_span_ms: (record.last_token_at_us - record.first_token_at_us) / 1000,
      server_span_ms: last - first,
      client_events: record.chunk_times_us.length,
      server_events: writes.token_ms.length + writes.token_writes_dropped,
    });
  }
  return pairs;
}

/** The p-th percentile (0–100) by linear interpolation; NaN for no values. */
export function percentileOf(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
}
