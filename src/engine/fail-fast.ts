/**
 * Fail fast: when the first measured requests of an iteration all fail with the
 * same error class, the server (or the URL, the model, the key) is wrong, and
 * sending the rest of the plan would only repeat the failure: a wrong URL path
 * used to send all 800 requests and leave the cause in requests.jsonl alone.
 * The watch sees records in completion order and trips once; any completed
 * request, or a second error class, settles it for the rest of the iteration.
 */
import type { ErrorClass, RequestRecord } from '../metrics/record.js';
import type { FailWatchState } from '../metrics/run-events.js';

/** Measured requests that must all fail alike before the run stops. */
export const FAIL_FAST_REQUESTS = 20;

/** Who tripped when no one shard's watch did, but a split run's shards' watches together did. */
export const ACROSS_SHARDS = -1;

/** Why a run stopped early: the shared class and the first such failure, as the record has it. */
export interface FailFastCause {
  iteration: number;
  error_class: ErrorClass | 'unclassified';
  /** Measured requests that failed alike (the threshold). */
  requests: number;
  /** The first of them. */
  request_id: string;
  http_status: number | null;
  /** Already short and redacted by the backend. */
  error_message: string | null;
}

export class FailFastWatch {
  private failed = 0;
  private first: RequestRecord | null = null;
  private settled = false;
  /** Set once the watch trips. */
  cause: FailFastCause | null = null;

  constructor(private readonly threshold: number = FAIL_FAST_REQUESTS) {}

  /** Where the watch stands, for a coordinator that adds up the shards' watches (docs/shards.md). */
  state(): FailWatchState {
    return {
      failed: this.failed,
      error_class: this.first ? (this.first.error_class ?? 'unclassified') : null,
      // Settled without tripping: a completed request or a second error class came first.
      settled: this.settled && this.cause === null,
    };
  }

  /**
   * Trips now, on the word of a coordinator whose shards together saw FAIL_FAST_REQUESTS
   * measured requests fail alike: the cause is this shard's part of them. Null when this
   * shard saw none fail (its share was empty or nothing had finished), or it had settled.
   */
  tripNow(iteration: number): FailFastCause | null {
    if (this.cause) return this.cause;
    if (this.settled || !this.first) return null;
    this.settled = true;
    this.cause = {
      iteration,
      error_class: this.first.error_class ?? 'unclassified',
      requests: this.failed,
      request_id: this.first.request_id,
      http_status: this.first.http_status,
      error_message: this.first.error_message,
    };
    return this.cause;
  }

  /** Sees one finished record; true exactly once, when the threshold is reached. */
  observe(record: RequestRecord): boolean {
    if (this.settled || record.phase !== 'measured' || record.status === 'cancelled') return false;
    const errorClass = record.error_class ?? 'unclassified';
    if (record.status === 'ok' || (this.first && (this.first.error_class ?? 'unclassified') !== errorClass)) {
      this.settled = true;
      return false;
    }
    this.first ??= record;
    if (++this.failed < this.threshold) return false;
    this.settled = true;
    this.cause = {
      iteration: record.iteration,
      error_class: errorClass,
      requests: this.failed,
      request_id: this.first.request_id,
      http_status: this.first.http_status,
      error_message: this.first.error_message,
    };
    return true;
  }
}

/** One line for the terminal: `20 measured requests of iteration 0 failed alike (http_4xx): HTTP 404: …`. */
export function describeFailFast(cause: FailFastCause): string {
  const detail = cause.error_message ?? (cause.http_status === null ? null : `HTTP ${cause.http_status}`);
  return (
    `the first ${cause.requests} measured requests of iteration ${cause.iteration} all failed with ${cause.error_class}` +
    `${detail ? `: ${detail}` : ''} (first: request ${cause.request_id})`
  );
}
