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
import type { Outcome, RunnerStatus } from './resource.js';
import { API_TIMEOUT_MS, describeApiError, type StatusApi } from './runner-api.js';

/** At most one patch per this interval, beside the one at each iteration's end. */
export const STATUS_INTERVAL_MS = 2000;
/** After a failed patch, the next waits at least this long (an API server that refuses at once). */
export const RETRY_AFTER_FAILURE_MS = 1000;
/** How long the process waits at its end for the last state to be written. */
export const FLUSH_TIMEOUT_MS = 15_000;

/** One finished iteration, and the runner's fields of the status (resource.ts has them all). */
export type { IterationStatus, RunnerStatus } from './resource.js';
/** How a run ended, as the runner reports it (a cancelled run always says why). */
export type RunnerOutcome =
  Exclude<Outcome, { result: 'cancelled' }> | { result: 'cancelled'; reason: string };

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
      .patchStatus(body as Record<string, unknown>, signal)
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
