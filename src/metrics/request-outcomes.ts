/**
 * How an iteration's measured requests ended: completed, errored (by class) or
 * cancelled at the end. Cancelled requests are not errors; error rates are taken
 * over the finished ones (completed + errored), as METRICS.md defines them.
 */
import type { ErrorClass, RequestRecord } from './record.js';

/** Error counts by class; `unclassified` holds errored records without an `error_class`. */
export type ErrorCounts = Record<ErrorClass | 'unclassified', number>;

const ERROR_CLASS_KEYS = {
  http_4xx: true,
  http_429: true,
  http_5xx: true,
  timeout: true,
  connection: true,
  protocol: true,
  oversize: true,
  unclassified: true,
} satisfies Record<ErrorClass | 'unclassified', true>;

/** Every error class, then `unclassified` (an error without one): the order summaries and hot metrics list them in. */
export const ERROR_CLASSES = Object.keys(ERROR_CLASS_KEYS) as readonly (keyof ErrorCounts)[];

/** Every class at 0, in the order summary.json lists them. */
export function zeroErrorCounts(): ErrorCounts {
  const counts = {} as ErrorCounts;
  for (const key of ERROR_CLASSES) counts[key] = 0;
  return counts;
}

/** The measured requests by how they ended. */
export interface RequestOutcomes {
  /** Completed requests, in record order: every latency and token figure comes from these. */
  completed: RequestRecord[];
  errored: number;
  errorsByClass: ErrorCounts;
  /** Cancelled at the end of the iteration (not errors). */
  cancelled: number;
}

/** Sorts measured records into completed, errored by class, and cancelled. */
export function countOutcomes(measured: readonly RequestRecord[]): RequestOutcomes {
  const completed: RequestRecord[] = [];
  const errorsByClass = zeroErrorCounts();
  let errored = 0;
  let cancelled = 0;
  for (const r of measured) {
    if (r.status === 'ok') completed.push(r);
    else if (r.status === 'error') {
      errored++;
      errorsByClass[r.error_class ?? 'unclassified']++;
    } else cancelled++;
  }
  return { completed, errored, errorsByClass, cancelled };
}

/** Each class's share of the finished requests (they sum to the error rate); null when none finished. */
export function errorRatesByClass(errorsByClass: ErrorCounts, finished: number): ErrorCounts | null {
  if (finished <= 0) return null;
  const rates = zeroErrorCounts();
  for (const key of Object.keys(errorsByClass) as Array<keyof ErrorCounts>) {
    rates[key] = errorsByClass[key] / finished;
  }
  return rates;
}
