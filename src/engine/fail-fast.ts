/**
 * Fail fast: when the first measured requests of an iteration all fail with the
 * same error class, the server (or the URL, the model, the key) is wrong, and
 * sending the rest of the plan would only repeat the failure: a wrong URL path
 * used to send all 800 requests and leave the cause in requests.jsonl alone.
 * The watch sees records in completion order and trips once; any completed
 * request, or a second error class, settles it for the rest of the iteration.
 */
import type { ErrorClass, RequestRecord } from '../metrics/record.js';

/** Measured requests that must all fail alike before the run stops. */
export const FAIL_FAST_REQUESTS = 20;

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
