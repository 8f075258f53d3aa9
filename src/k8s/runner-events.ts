/**
 * A run's events as the runner's status (docs/k8s.md): `details` while it goes ("Running
 * iteration 2/6: D(100,100) concurrency=4, 120/500 requests done"), `runId` at its start, one
 * line per finished iteration from its summary, and the outcome from the group as run, in
 * agreement with the exit code.
 */
import { scrubText } from '../base/redact.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { ProgressSnapshot, RunEvents } from '../metrics/run-events.js';
import type { IterationPlan } from '../plan/plan.js';
import type { IterationStatus, RunnerOutcome, StatusWriter } from './runner-status.js';

/**
 * The status lists at most this many iterations, the latest (a job may plan 65,536; the API
 * server refuses an object over about 1.5 MB, and the run folder has them all anyway).
 */
export const MAX_STATUS_ITERATIONS = 256;
/** `details` is one line for `kubectl get`: longer scenario names are cut. */
const MAX_DETAILS_CHARS = 512;

/** A finished iteration's line of the status, from its summary. */
export function iterationStatus(summary: IterationSummary): IterationStatus {
  const ttft = summary.distributions.ttft_ms;
  return {
    index: summary.iteration,
    scenario: summary.scenario,
    ...(summary.concurrency !== null ? { concurrency: summary.concurrency } : {}),
    ...(summary.rate_rps !== null ? { rateRps: summary.rate_rps } : {}),
    requests: summary.requests.measured,
    errors: summary.requests.errored,
    ttftP50Ms: round(ttft.p50),
    ttftP99Ms: round(ttft.p99),
    outputTokensPerS: round(summary.output_throughput_tokens_per_s),
  };
}

function round(value: number | null | undefined): number | null {
  return value === null || value === undefined || !Number.isFinite(value)
    ? null
    : Math.round(value * 100) / 100;
}

/** `D(100,100) concurrency=4`, `D(100,100) rate=5/s`, or the scenario alone. */
function pointText(plan: IterationPlan): string {
  if (plan.concurrency !== undefined) return `${plan.scenario} concurrency=${plan.concurrency}`;
  if (plan.rate_rps !== undefined) return `${plan.scenario} rate=${plan.rate_rps}/s`;
  return plan.scenario;
}

function clipDetails(text: string): string {
  return text.length <= MAX_DETAILS_CHARS ? text : `${text.slice(0, MAX_DETAILS_CHARS - 1)}…`;
}

/** The run's events as status: details while it goes, runId at its start, a line per iteration. */
export function statusEvents(writer: StatusWriter): RunEvents {
  let total = 0;
  let started = 0;
  let repeatText = '';
  let iterations: IterationStatus[] = [];
  let finished = 0;
  let running = '';
  return {
    onRunStart({ runId, plans, repeat, repeats }) {
      total = plans.length;
      started = 0;
      finished = 0;
      iterations = [];
      repeatText = repeats > 1 ? `repeat ${repeat + 1}/${repeats}: ` : '';
      writer.update(
        { runId, iterations, details: `${repeatText}Starting run ${runId}: ${total} iterations` },
        true,
      );
    },
    onIterationStart(plan, planned) {
      total = planned;
      started++;
      running = clipDetails(`${repeatText}Running iteration ${started}/${total}: ${pointText(plan)}`);
      writer.update({ details: running });
    },
    onProgress(_plan, snapshot: ProgressSnapshot) {
      const of = Number.isFinite(snapshot.max_requests) ? `/${snapshot.max_requests}` : '';
      const errors = snapshot.errors > 0 ? `, ${snapshot.errors} errors` : '';
      writer.update({ details: `${running}, ${snapshot.measured_done}${of} requests done${errors}` });
    },
    onIterationEnd(plan, summary) {
      iterations = [...iterations, iterationStatus(summary)].slice(-MAX_STATUS_ITERATIONS);
      finished++;
      writer.update(
        {
          iterations,
          details: clipDetails(
            `${repeatText}Finished iteration ${finished}/${total}: ${pointText(plan)}, ${summary.requests.measured} requests, ${summary.requests.errored} errors`,
          ),
        },
        true,
      );
    },
  };
}

/** Two handler sets as one: each event goes to both, `a` first. */
export function bothEvents(a: RunEvents, b: RunEvents): RunEvents {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as Array<keyof RunEvents>);
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const first = a[key] as ((...args: unknown[]) => void) | undefined;
    const second = b[key] as ((...args: unknown[]) => void) | undefined;
    out[key] = (...args: unknown[]): void => {
      first?.apply(a, args);
      second?.apply(b, args);
    };
  }
  return out as RunEvents;
}

/** What a run group's runs say of themselves, as much as the outcome needs. */
export interface GroupVerdict {
  interrupted: boolean;
  runs: ReadonlyArray<{
    status: string;
    failure: { reason: string } | null;
    upload: { ok: boolean; error?: string } | null;
    warehouse: { ok: boolean; error?: string } | null;
  }>;
}

/**
 * The status's outcome from the group as run: cancelled when it was interrupted (by
 * spec.cancel, or a signal), failed with the first reason when a run failed or its upload
 * or ingest did, else succeeded. It agrees with the exit code (130, 1, 0).
 */
export function runOutcome(group: GroupVerdict, cancelReason: string | null): RunnerOutcome {
  if (group.interrupted) return { result: 'cancelled', reason: cancelReason ?? 'interrupted by a signal' };
  for (const run of group.runs) {
    if (run.status === 'failed')
      return { result: 'failed', reason: scrubText(run.failure?.reason ?? 'failed') };
  }
  for (const run of group.runs) {
    if (run.upload && !run.upload.ok)
      return { result: 'failed', reason: `upload failed: ${run.upload.error}` };
    if (run.warehouse && !run.warehouse.ok)
      return { result: 'failed', reason: `not ingested into the warehouse: ${run.warehouse.error}` };
  }
  return { result: 'succeeded' };
}
