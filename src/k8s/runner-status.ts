/**
 * The runner's part of a BenchmarkJob's status (docs/k8s.md, "Status"): `details`, `runId`,
 * `iterations`, `artifactManifestDigest`, `results` and `outcome`, written through the status
 * subresource with JSON merge patches. It is an output of the run, so it never holds the
 * load back: the run's events only change the state kept here; patches go out at most one
 * at a time, at most one per STATUS_INTERVAL_MS plus one at each iteration's end, a newer
 * state merged over one still queued; each is bounded by a timeout, and a failure is told
 * once on stderr and tried again with the next state. The last state is flushed before the
 * process exits, for a bounded time.
 */
import {
  CustomObjectsApi,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { scrubText } from '../base/redact.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { ProgressSnapshot, RunEvents } from '../metrics/run-events.js';
import type { IterationPlan } from '../plan/plan.js';
import { GROUP, PLURAL, VERSION } from './names.js';
import type { RunnerTarget } from './runner-identity.js';

/** At most one patch per this interval, beside the one at each iteration's end. */
export const STATUS_INTERVAL_MS = 2000;
/** One API request's bound: a slow API server costs the status, never the run. */
export const API_TIMEOUT_MS = 10_000;
/** After a failed patch, the next waits at least this long (an API server that refuses at once). */
export const RETRY_AFTER_FAILURE_MS = 1000;
/** How long the process waits at its end for the last state to be written. */
export const FLUSH_TIMEOUT_MS = 15_000;

/**
 * The status lists at most this many iterations, the latest (a job may plan 65,536; the API
 * server refuses an object over about 1.5 MB, and the run folder has them all anyway).
 */
export const MAX_STATUS_ITERATIONS = 256;
/** `details` is one line for `kubectl get`: longer scenario names are cut. */
const MAX_DETAILS_CHARS = 512;

/** One finished iteration, as the status lists it. */
export interface IterationStatus {
  index: number;
  scenario: string;
  concurrency?: number;
  rateRps?: number;
  /** Measured requests. */
  requests: number;
  errors: number;
  ttftP50Ms: number | null;
  ttftP99Ms: number | null;
  outputTokensPerS: number | null;
}

export type RunnerOutcome =
  { result: 'succeeded' } | { result: 'failed'; reason: string } | { result: 'cancelled'; reason: string };

/** The status fields the runner owns (the controller owns the rest). */
export interface RunnerStatus {
  details?: string;
  runId?: string;
  iterations?: IterationStatus[];
  artifactManifestDigest?: string;
  results?: string;
  outcome?: RunnerOutcome;
}

/** What the runner asks of the API server; kubeStatusApi is the real one. */
export interface StatusApi {
  patchStatus(status: RunnerStatus, signal: AbortSignal): Promise<void>;
  /** The BenchmarkJob as stored (its spec and annotations). */
  read(signal: AbortSignal): Promise<{ spec?: unknown; metadata?: { annotations?: Record<string, string> } }>;
}

/** Hands a request's AbortSignal to the client (its fetch honours it). */
function withSignal(signal: AbortSignal, options?: ConfigurationOptions): ConfigurationOptions {
  return {
    ...options,
    middleware: [
      ...(options?.middleware ?? []),
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

export function kubeStatusApi(kc: KubeConfig, target: RunnerTarget): StatusApi {
  const api = kc.makeApiClient(CustomObjectsApi);
  const object = { group: GROUP, version: VERSION, plural: PLURAL, ...target };
  return {
    async patchStatus(status, signal) {
      await api.patchNamespacedCustomObjectStatus(
        { ...object, body: { status } },
        withSignal(signal, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
      );
    },
    async read(signal) {
      return (await api.getNamespacedCustomObject(object, withSignal(signal))) as Awaited<
        ReturnType<StatusApi['read']>
      >;
    },
  };
}

/** An API error in one line, without what it carried (a body may quote a request). */
export function describeApiError(error: unknown, timeoutMs = API_TIMEOUT_MS): string {
  const e = error as { code?: unknown; body?: unknown; name?: string; message?: string };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return `no answer in ${timeoutMs / 1000} s`;
  if (typeof e?.code === 'number') {
    let message = '';
    try {
      message = String((JSON.parse(String(e.body)) as { message?: unknown }).message ?? '');
    } catch {
      // Not a Status object: the code says enough.
    }
    return scrubText(`HTTP ${e.code}${message ? `: ${message}` : ''}`).slice(0, 300);
  }
  const cause = (error as { cause?: { message?: string } })?.cause?.message;
  return scrubText(`${e?.message ?? String(error)}${cause ? ` (${cause})` : ''}`)
    .split('\n')[0]!
    .slice(0, 300);
}

export interface StatusWriterOptions {
  intervalMs?: number;
  timeoutMs?: number;
  /** Where a failure is told (once); stderr by default. */
  report?: (message: string) => void;
}

/** Keeps the runner's status fields and writes them, throttled, one patch in flight. */
export class StatusWriter {
  private pending: RunnerStatus | null = null;
  private urgent = false;
  private inFlight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastSentMs = -Infinity;
  private retryAtMs = -Infinity;
  private failures = 0;
  private closed = false;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly report: (message: string) => void;
  /** Patches written, and failed (for tests and the final word). */
  readonly counts = { sent: 0, failed: 0 };

  constructor(
    private readonly api: StatusApi,
    private readonly where: string,
    options: StatusWriterOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? STATUS_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? API_TIMEOUT_MS;
    this.report = options.report ?? ((message) => process.stderr.write(`${message}\n`));
  }

  /** Merges fields over the state not yet written; `now`: past the interval (an iteration ended). */
  update(fields: RunnerStatus, now = false): void {
    if (this.closed) return;
    this.pending = { ...this.pending, ...fields };
    if (now) this.urgent = true;
    this.pump();
  }

  /** Writes what is left, waiting at most timeoutMs; later updates are dropped. */
  async flush(timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Three tries at most: an API server that is down must not hold the exit to the deadline.
    for (let tries = 0; tries < 3 && Date.now() < deadline;) {
      if (this.inFlight) {
        await raceDeadline(this.inFlight, deadline);
        continue;
      }
      if (!this.pending) break;
      tries++;
      this.send();
    }
    this.closed = true;
    if (this.failures > 1)
      this.report(`infermark: ${this.failures} status patches of ${this.where} failed in all`);
  }

  private pump(): void {
    if (this.inFlight || !this.pending || this.closed) return;
    const now = Date.now();
    const waitMs = Math.max(this.urgent ? 0 : this.lastSentMs + this.intervalMs - now, this.retryAtMs - now);
    if (waitMs > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.pump();
      }, waitMs);
      this.timer.unref();
      return;
    }
    this.send();
  }

  private send(): void {
    const body = this.pending as RunnerStatus;
    this.pending = null;
    this.urgent = false;
    this.lastSentMs = Date.now();
    const signal = AbortSignal.timeout(this.timeoutMs);
    this.inFlight = this.api
      .patchStatus(body, signal)
      .then(
        () => {
          this.counts.sent++;
        },
        (error: unknown) => {
          this.counts.failed++;
          this.retryAtMs = Date.now() + Math.max(this.intervalMs, RETRY_AFTER_FAILURE_MS);
          // Not lost: tried again with the next state (whose newer fields win).
          this.pending = { ...body, ...this.pending };
          if (this.failures++ === 0)
            this.report(
              `infermark: status of ${this.where} not updated (${describeApiError(error, this.timeoutMs)}); the run goes on, later patches are tried without another word`,
            );
        },
      )
      .finally(() => {
        this.inFlight = null;
        if (!this.closed) this.pump();
      });
  }
}

async function raceDeadline(promise: Promise<void>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
  ]);
  clearTimeout(timer);
}

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
