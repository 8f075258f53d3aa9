/**
 * Whether a run succeeded, from its iteration summaries: a run is `failed` when it
 * stopped early (fail fast), when no measured request completed, or when its error
 * rate over the whole run (errored / (completed + errored), measured requests) is
 * above the job's maximum. A failed run is still sealed and ingested: the evidence
 * of a failure is evidence too, and it says honestly that it failed (OME's
 * controller reports success when every request fails).
 */
import type { ErrorCounts, IterationSummary } from '../metrics/iteration-summary.js';
import type { FailFastCause } from './fail-fast.js';
import { describeFailFast } from './fail-fast.js';

export type RunStatus = 'complete' | 'interrupted' | 'failed';

/** The error rate above which a run fails, unless the job says otherwise (`spec.maxErrorRate`). */
export const DEFAULT_MAX_ERROR_RATE = 0.5;

export interface RunFailure {
  kind: 'fail_fast' | 'incomplete' | 'no_request_completed' | 'error_rate';
  /** One line for a person: what failed and why. */
  reason: string;
  /** Measured requests over the whole run. */
  completed: number;
  errored: number;
  /** errored / (completed + errored); null when none finished. */
  error_rate: number | null;
  max_error_rate: number;
  /** Errored measured requests by class, over the whole run (classes with none left out). */
  errors_by_class: Partial<ErrorCounts>;
  fail_fast: FailFastCause | null;
}

export interface RunVerdict {
  status: RunStatus;
  failure: RunFailure | null;
}

/** The run's status; an interruption stands (the user stopped it), else any failure fails it. */
export function judgeRun(
  summaries: readonly IterationSummary[],
  opts: {
    interrupted: boolean;
    failFast: FailFastCause | null;
    maxErrorRate: number;
    /** Why an iteration is not whole (a shard failed or was stopped), else absent. */
    incomplete?: string | null;
  },
): RunVerdict {
  if (opts.interrupted) return { status: 'interrupted', failure: null };
  let completed = 0;
  let errored = 0;
  let cancelled = 0;
  const byClass: Partial<ErrorCounts> = {};
  for (const s of summaries) {
    completed += s.requests.completed;
    errored += s.requests.errored;
    cancelled += s.requests.cancelled;
    for (const [key, count] of Object.entries(s.requests.errors_by_class) as Array<
      [keyof ErrorCounts, number]
    >) {
      if (count > 0) byClass[key] = (byClass[key] ?? 0) + count;
    }
  }
  const finished = completed + errored;
  const errorRate = finished > 0 ? errored / finished : null;
  const facts = {
    completed,
    errored,
    error_rate: errorRate,
    max_error_rate: opts.maxErrorRate,
    errors_by_class: byClass,
    fail_fast: opts.failFast,
  };
  const classes = errorClassesText(byClass);
  if (opts.failFast) {
    return {
      status: 'failed',
      failure: { kind: 'fail_fast', reason: `stopped early: ${describeFailFast(opts.failFast)}`, ...facts },
    };
  }
  // A shard lost is not a server fault: said first, so the run is not read as short but whole.
  if (opts.incomplete) {
    return { status: 'failed', failure: { kind: 'incomplete', reason: opts.incomplete, ...facts } };
  }
  if (completed === 0) {
    const cancelledText = cancelled > 0 ? `, ${cancelled} cancelled` : '';
    return {
      status: 'failed',
      failure: {
        kind: 'no_request_completed',
        reason: `no measured request completed (${errored} errored${classes ? `: ${classes}` : ''}${cancelledText})`,
        ...facts,
      },
    };
  }
  if (errorRate !== null && errorRate > opts.maxErrorRate) {
    return {
      status: 'failed',
      failure: {
        kind: 'error_rate',
        reason:
          `error rate ${percent(errorRate)} (${errored} of ${finished} measured requests${classes ? `: ${classes}` : ''})` +
          ` is above the maximum ${percent(opts.maxErrorRate)} (--max-error-rate, spec.maxErrorRate)`,
        ...facts,
      },
    };
  }
  return { status: 'complete', failure: null };
}

/** `http_5xx 10, timeout 2`, largest first. */
export function errorClassesText(byClass: Partial<ErrorCounts>): string {
  return (Object.entries(byClass) as Array<[string, number]>)
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
}

function percent(ratio: number): string {
  const value = ratio * 100;
  return `${Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1)}%`;
}
