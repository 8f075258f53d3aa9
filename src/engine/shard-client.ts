/**
 * A worker's side of the coordinator protocol (docs/shards.md): fetch the job, measure
 * the clock offset NTP-style, say hello, and pass each iteration through the
 * coordinator's gate. Every exchange has a deadline and every answer a size cap: a
 * coordinator that hangs or babbles ends the shard with a clear error, not a hang.
 */
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import type { ZodType } from 'zod';
import { nowUs } from '../base/clock.js';
import { ExitCode, InfermarkError } from '../base/errors.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { ProgressSnapshot } from '../metrics/run-events.js';
import { hotSeriesWire, type HotSeriesWire } from '../telemetry/hot-totals.js';
import { FolderShipper } from './shard-shipper.js';
import { estimateClockOffset, type ClockOffset, type RoundTrip } from './clock-offset.js';
import type { IterationLink } from './iteration.js';
import type { IterationGate, ShardIdentity } from './run.js';
import {
  clockAnswer,
  JOB_ANSWER_LIMIT_BYTES,
  progressAnswer,
  readyAnswer,
  shardJobAnswer,
  type ShardJobAnswer,
} from './shard-protocol.js';

/** Round trips for the clock offset: the least delayed of them is kept. */
const CLOCK_ROUNDS = 16;
/** A short message's whole exchange. */
const MESSAGE_DEADLINE_MS = 15_000;
const ANSWER_LIMIT_BYTES = 64 * 1024;
/** Re-asks of a `ready` answered `again` are at least this far apart, however fast the answers come. */
const READY_REASK_MIN_MS = 100;
/**
 * How long a worker keeps trying to reach a coordinator that is not listening yet: a shard
 * pod may start before the coordinator's pod does (the coordinator waits as long for its
 * shard pods, external-workers.ts). Only failures to connect are retried.
 */
export const COORDINATOR_CONNECT_PATIENCE_MS = 10 * 60_000;
const CONNECT_RETRY_FIRST_MS = 200;
const CONNECT_RETRY_MAX_MS = 5_000;
/** Errors that say nothing is listening (yet) at the coordinator's address, or its name is not resolvable yet. */
const NOT_LISTENING_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ECONNRESET']);
/** A message's connection failed before its answer (undici's "other side closed" is UND_ERR_SOCKET). */
const CONNECTION_LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNREFUSED']);
/** A message is sent again at most this often, 100 ms apart and doubling (1.5 s in all). */
const MESSAGE_RETRIES = 4;
const MESSAGE_RETRY_FIRST_MS = 100;

interface CallLimits {
  deadlineMs?: number;
  maxBytes?: number;
  signal?: AbortSignal;
  /** Send again when the connection fails before the answer (an idempotent message). */
  retry?: boolean;
}
type CallArgs<T> = [
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  schema: ZodType<T> | null,
  limits: CallLimits,
];

export class CoordinatorClient {
  /** The progress message under way, if any. */
  private progressSending: Promise<void> | null = null;
  /** The latest progress dropped while another was under way: sent before `done`, so the last counts arrive. */
  private progressDropped: Record<string, unknown> | null = null;
  /** The iteration in which this shard's own fail fast waits to be sent (never dropped), else null. */
  private failFastFor: number | null = null;
  /** The iteration running now, and its end when the coordinator says another shard failed fast. */
  private current: { iteration: number; ended: AbortController } | null = null;
  private shipper: FolderShipper | null = null;

  constructor(
    readonly url: string,
    readonly index: number,
    private readonly token: string,
  ) {}

  /** Ships the shard folder at `dir` before every ready, done and end (answer.ship_files). */
  shipFrom(dir: string): void {
    this.shipper = new FolderShipper(this.url, this.index, this.token, dir);
  }

  /** The shard's job; waits (retrying) up to `patienceMs` for a coordinator that is not listening yet. */
  async job(options: { patienceMs?: number; signal?: AbortSignal } = {}): Promise<ShardJobAnswer> {
    const { patienceMs = COORDINATOR_CONNECT_PATIENCE_MS, signal } = options;
    const giveUpAt = Date.now() + patienceMs;
    for (let waitMs = CONNECT_RETRY_FIRST_MS; ; waitMs = Math.min(CONNECT_RETRY_MAX_MS, waitMs * 2)) {
      try {
        return await this.call('GET', `/v1/shards/${this.index}/job`, undefined, shardJobAnswer, {
          deadlineMs: MESSAGE_DEADLINE_MS,
          maxBytes: JOB_ANSWER_LIMIT_BYTES,
        });
      } catch (error) {
        if (!notListening(error) || signal?.aborted || Date.now() + waitMs > giveUpAt) throw error;
        await delay(waitMs, undefined, signal ? { signal } : {}).catch(() => undefined);
        if (signal?.aborted) throw error;
      }
    }
  }

  /** This process's clock minus the coordinator's, from the least delayed of several round trips. */
  async clockOffset(rounds = CLOCK_ROUNDS): Promise<ClockOffset> {
    const trips: RoundTrip[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = nowUs();
      const answer = await this.call('POST', '/v1/clock', {}, clockAnswer, { retry: true });
      const t3 = nowUs();
      // Here the worker asks: seen from the coordinator, the worker is the other clock.
      trips.push({ t0_us: t0, t1_us: answer.received_us, t2_us: answer.sent_us, t3_us: t3 });
    }
    const measured = estimateClockOffset(trips);
    return { ...measured, offset_us: -measured.offset_us };
  }

  async hello(clock: ClockOffset): Promise<ShardIdentity> {
    const identity: ShardIdentity = {
      host: hostname(),
      pid: process.pid,
      clock_offset_us: Math.round(clock.offset_us),
      clock_error_bound_us: Math.ceil(clock.error_bound_us),
    };
    await this.post('hello', identity);
    return identity;
  }

  /**
   * The gate executeRun passes each iteration through; `readyTimeoutMs` bounds a wait for a
   * start, all the `ready`s asked again (the coordinator holds each a bounded time) included.
   */
  gate(readyTimeoutMs: number, signal?: AbortSignal): IterationGate {
    return {
      ready: async (iteration) => {
        try {
          await this.shipper?.sync();
          const giveUpAt = Date.now() + readyTimeoutMs;
          for (;;) {
            const askedAt = Date.now();
            const answer = await this.call(
              'POST',
              `/v1/shards/${this.index}/ready`,
              { iteration },
              readyAnswer,
              {
                deadlineMs: Math.max(1, giveUpAt - askedAt),
                retry: true,
                ...(signal ? { signal } : {}),
              },
            );
            if ('stop' in answer) return { stop: answer.stop };
            if ('start_at_us' in answer) return { startAtUs: answer.start_at_us };
            const pauseMs = askedAt + READY_REASK_MIN_MS - Date.now();
            if (pauseMs > 0) await delay(pauseMs, undefined, signal ? { signal } : {}).catch(() => undefined);
            if (signal?.aborted) return { stop: 'interrupted' };
            if (Date.now() >= giveUpAt) {
              throw new InfermarkError(
                'E_COORDINATOR',
                `shard ${this.index}: the coordinator at ${this.url} did not start iteration ${iteration} in ${readyTimeoutMs} ms`,
                ExitCode.failure,
              );
            }
          }
        } catch (error) {
          if (signal?.aborted) return { stop: 'interrupted' };
          throw error;
        }
      },
      done: async (iteration: number, summary: IterationSummary) => {
        try {
          // The iteration's last progress (its final totals) reaches the coordinator before its done.
          await this.flushProgress();
          await this.shipper?.sync();
          await this.post('done', {
            iteration,
            ended_by: summary.ended_by,
            records: summary.requests.total,
            fail_fast: summary.ended_by === 'fail_fast',
          });
        } catch (error) {
          // Stopped (its coordinator gone, or Ctrl-C): the shard still seals what it finished.
          if (!signal?.aborted) throw error;
        }
      },
      link: (iteration) => this.link(iteration),
    };
  }

  /**
   * Plan iteration `iteration`'s line to the coordinator: its end when the answer to a progress
   * message says another shard failed fast, and this shard's own fail fast sent at once.
   */
  link(iteration: number): IterationLink {
    const ended = new AbortController();
    this.current = { iteration, ended };
    return {
      ended: ended.signal,
      failedFast: (snapshot) => this.progress(iteration, snapshot, null, true),
    };
  }

  /**
   * Sends the shard's live counts (and its hot-metric totals, when given), at most one message
   * in flight (a slow coordinator gets fewer, never a queue); never throws: progress is for
   * the view, not the run. Totals the schema would refuse are left out, so the counts still go.
   * Its answer may end the running iteration (another shard failed fast): the engine sends
   * progress every 250 ms, idle or not, so the word arrives within about that and a round trip.
   */
  progress(
    iteration: number,
    snapshot: ProgressSnapshot,
    hot?: HotSeriesWire | null,
    failFast = false,
  ): void {
    if (failFast) this.failFastFor = iteration;
    const { max_requests, ...counts } = snapshot;
    const body: Record<string, unknown> = {
      iteration,
      ...counts,
      max_requests: Number.isFinite(max_requests) ? max_requests : null,
      ...(hot && hotSeriesWire.safeParse(hot).success ? { hot } : {}),
    };
    // Totals are cumulative: a message without them keeps the dropped one's, so none are lost.
    if (body.hot === undefined && this.progressDropped?.hot !== undefined)
      body.hot = this.progressDropped.hot;
    if (this.progressSending) this.progressDropped = body;
    else this.sendProgress(body);
  }

  private sendProgress(body: Record<string, unknown>): void {
    this.progressDropped = null;
    const iteration = body.iteration as number;
    const failFast = this.failFastFor === iteration;
    if (failFast) this.failFastFor = null;
    const sending: Promise<void> = this.call(
      'POST',
      `/v1/shards/${this.index}/progress`,
      failFast ? { ...body, fail_fast: true } : body,
      progressAnswer,
    )
      .then((answer) => {
        // Another shard failed fast in this iteration: end it here too, as fail fast would.
        const current = this.current;
        if (answer.end_iteration === 'fail_fast' && current?.iteration === iteration)
          current.ended.abort(answer.by_shard ?? -1);
      })
      .catch(() => {})
      .finally(() => {
        if (this.progressSending === sending) this.progressSending = null;
        // This shard's own fail fast is never dropped by the one-in-flight rule: it goes next.
        if (this.failFastFor !== null && this.progressDropped !== null && this.progressSending === null)
          this.sendProgress(this.progressDropped);
      });
    this.progressSending = sending;
  }

  /**
   * Waits for the progress under way, then sends the last one dropped: an iteration's final
   * counts. Looped: the one under way may have started a pending fail fast as it finished.
   */
  private async flushProgress(): Promise<void> {
    for (let round = 0; round < 4; round++) {
      while (this.progressSending) await this.progressSending;
      if (this.progressDropped === null) return;
      this.sendProgress(this.progressDropped);
    }
    while (this.progressSending) await this.progressSending;
  }

  async end(status: string, artifactManifestDigest: string): Promise<void> {
    await this.shipper?.sync();
    await this.post('end', { status, artifact_manifest_digest: artifactManifestDigest });
  }

  private async post(verb: string, body: unknown): Promise<void> {
    await this.call('POST', `/v1/shards/${this.index}/${verb}`, body, null, { retry: true });
  }

  /**
   * One message and its answer. With `retry`, sent again when the connection failed before an
   * answer (reset by the coordinator's connection cap or a proxy, closed under it): a lost
   * `ready` or `done` would otherwise lose the shard. Every message but progress is idempotent
   * (a second `hello` from the same worker is answered as the first); progress is best effort
   * and is not retried.
   */
  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    schema: ZodType<T> | null,
    limits: CallLimits = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callOnce(method, path, body, schema, limits);
      } catch (error) {
        const again = limits.retry && attempt < MESSAGE_RETRIES && hasCode(error, CONNECTION_LOST_CODES);
        if (!again || limits.signal?.aborted) throw error;
        await delay(MESSAGE_RETRY_FIRST_MS * 2 ** attempt);
      }
    }
  }

  private async callOnce<T>(...[method, path, body, schema, limits]: CallArgs<T>): Promise<T> {
    const { deadlineMs = MESSAGE_DEADLINE_MS, maxBytes = ANSWER_LIMIT_BYTES } = limits;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), deadlineMs);
    const cancel = (): void => abort.abort();
    limits.signal?.addEventListener('abort', cancel, { once: true });
    try {
      const res = await request(`${this.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: abort.signal,
        headersTimeout: deadlineMs,
        bodyTimeout: deadlineMs,
      });
      let text = '';
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        text += chunk.toString('utf8');
        if (text.length > maxBytes) {
          res.body.destroy();
          throw new Error(`the answer is over ${maxBytes} bytes`);
        }
      }
      const json = text ? (JSON.parse(text) as unknown) : {};
      if (res.statusCode !== 200) {
        const why = (json as { error?: unknown; stop?: unknown }).error ?? (json as { stop?: unknown }).stop;
        throw new Error(`HTTP ${res.statusCode}${why ? `: ${String(why)}` : ''}`);
      }
      if (!schema) return undefined as T;
      const parsed = schema.safeParse(json);
      if (!parsed.success) throw new Error(`unexpected answer: ${parsed.error.issues[0]?.message ?? ''}`);
      return parsed.data;
    } catch (error) {
      const why =
        abort.signal.aborted && !limits.signal?.aborted
          ? `no answer in ${deadlineMs} ms`
          : (error as Error).message;
      throw new InfermarkError(
        'E_COORDINATOR',
        `shard ${this.index}: the coordinator at ${this.url} (${method} ${path}): ${why}`,
        ExitCode.failure,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
      limits.signal?.removeEventListener('abort', cancel);
    }
  }
}

/** True when `error` (or a cause of it) says nothing listens at the address yet. */
function notListening(error: unknown): boolean {
  return hasCode(error, NOT_LISTENING_CODES);
}

/** True when `error`, or one of its first causes, carries one of `codes`. */
function hasCode(error: unknown, codes: ReadonlySet<string>): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && codes.has(code)) return true;
  }
  return false;
}
