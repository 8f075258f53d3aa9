/**
 * The coordinator: the role the run's own process takes when the run is split into
 * shards (docs/shards.md). It serves each worker its job, answers clock round trips,
 * holds every shard's `ready` until all live shards are ready for the same iteration,
 * then gives them one start instant; it learns when each has sealed an iteration and
 * when a worker is lost. It keeps no state a worker depends on beyond the run: the
 * shard folders are the evidence.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSafeRelativePath } from '../base/safe-path.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nowUs } from '../base/clock.js';
import { ACROSS_SHARDS, FAIL_FAST_REQUESTS } from './fail-fast.js';
import type { ZodType } from 'zod';
import type { ConcurrencyBucket } from '../telemetry/hot-labels.js';
import { requestsCounted, type HotSeriesWire } from '../telemetry/hot-totals.js';
import {
  doneMessage,
  endMessage,
  helloMessage,
  MESSAGE_LIMIT_BYTES,
  progressMessage,
  readyMessage,
  START_LEAD_MS,
  shardToken,
  type DoneMessage,
  type EndMessage,
  type HelloMessage,
  type ProgressMessage,
  type ReadyAnswer,
  type ShardJobAnswer,
  SHIPPED_FILE_LIMIT_BYTES,
} from './shard-protocol.js';

/** What the coordinator knows of one shard. */
export interface ShardState {
  index: number;
  hello: HelloMessage | null;
  /** The iteration its pending `ready` asks for; null when none waits. */
  readyFor: number | null;
  done: Map<number, DoneMessage>;
  end: EndMessage | null;
  /** Its latest live counts (progress messages), for the view only. */
  progress: Omit<ProgressMessage, 'hot'> | null;
  /**
   * Its latest hot-metric totals per concurrency bucket (progress `hot`), cumulative over the
   * run: kept through iterations and losses, summed over the shards when /metrics is scraped.
   */
  hot: Map<ConcurrencyBucket, HotSeriesWire>;
  /** Why the shard is lost (its worker exited before its end, or went silent), else null. */
  lost: string | null;
}

/**
 * How long a `ready` is held before it is answered `{ again: true }` and asked again. An
 * iteration may take hours; a connection held that long is indistinguishable from a peer
 * that stalled, and proxies (a pod's network) cut idle ones at 30 s or more. So no request
 * is held open without bound; the worker's re-ask costs one round trip per 25 s.
 */
export const READY_HOLD_MS = 25_000;
/** A request's headers arrive within this, or the connection is closed (408). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** A message's body (at most 64 KiB) arrives within this; the worker allows itself as long. */
export const MESSAGE_BODY_TIMEOUT_MS = 15_000;
/**
 * A shipped file may be 16 GiB, so its upload has no total deadline: it is cut when no byte
 * arrives for this long, and its part file removed.
 */
export const FILE_IDLE_TIMEOUT_MS = 60_000;
/** Past a refused oversize message, this much more is read and dropped so its sender reads the 413. */
const OVERSIZE_DRAIN_BYTES = 1024 * 1024;

/** What any peer may hold; each is a named constant above, shortened by tests. */
export interface CoordinatorLimits {
  readyHoldMs: number;
  headersTimeoutMs: number;
  messageBodyTimeoutMs: number;
  fileIdleTimeoutMs: number;
}

export interface CoordinatorOptions {
  of: number;
  /** The job each shard is served (its own segment and folder). */
  jobFor: (index: number) => ShardJobAnswer;
  /** The bearer token workers present; made here when not given. */
  token?: string;
  /** Defaults: READY_HOLD_MS, HEADERS_TIMEOUT_MS, MESSAGE_BODY_TIMEOUT_MS, FILE_IDLE_TIMEOUT_MS. */
  limits?: Partial<CoordinatorLimits>;
}

interface Pending {
  res: ServerResponse;
  iteration: number;
  /** Answers `{ again: true }` once the ready has been held readyHoldMs. */
  hold: NodeJS.Timeout;
}

/**
 * Connections beyond the workers' own (4 each): a port scanner or a stray client on the pod
 * network. Past the cap Node resets new connections, a worker's too, so the cap is far above
 * what workers need, and workers retry a reset message (shard-client.ts).
 */
const MAX_STRANGER_CONNECTIONS = 512;

export class Coordinator {
  readonly shards: ShardState[];
  readonly token: string;
  private readonly pending = new Map<number, Pending>();
  /** Plan iteration → the first shard that said it failed fast in it (progress or done), or ACROSS_SHARDS. */
  private readonly failedFast = new Map<number, number>();
  /** Each started iteration's instant: a shard that re-asks after start() still gets it. */
  private readonly startedAtUs = new Map<number, number>();
  private stopReason: string | null = null;
  private listeners = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: CoordinatorOptions,
    token: string,
    private readonly limits: CoordinatorLimits,
  ) {
    this.token = token;
    this.shards = Array.from({ length: options.of }, (_, index) => ({
      index,
      hello: null,
      readyFor: null,
      done: new Map(),
      end: null,
      progress: null,
      hot: new Map(),
      lost: null,
    }));
  }

  /** Listens on 127.0.0.1 (an ephemeral port) unless told where (a pod listens on its own IP). */
  static async start(options: CoordinatorOptions, host = '127.0.0.1', port = 0): Promise<Coordinator> {
    const token = options.token ?? randomBytes(24).toString('base64url');
    const limits: CoordinatorLimits = {
      readyHoldMs: READY_HOLD_MS,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      messageBodyTimeoutMs: MESSAGE_BODY_TIMEOUT_MS,
      fileIdleTimeoutMs: FILE_IDLE_TIMEOUT_MS,
      ...options.limits,
    };
    let coordinator: Coordinator | null = null;
    // Node checks headersTimeout only every connectionsCheckingInterval (30 s by default):
    // checked more often, a peer that connects and sends nothing, or trickles its headers,
    // is closed close to headersTimeoutMs (coordinator.test.ts measures it).
    const server = createServer(
      { connectionsCheckingInterval: Math.max(50, Math.min(1_000, limits.headersTimeoutMs / 4)) },
      (req, res) => {
        coordinator?.handle(req, res).catch((error: unknown) => {
          if (!res.headersSent) reply(res, 500, { error: (error as Error).message });
        });
      },
    );
    // No total request deadline: a shipped file may take long. Bodies have their own
    // deadlines (readBody, receiveFile), headers headersTimeout, and a held `ready` is
    // answered after readyHoldMs.
    server.requestTimeout = 0;
    server.headersTimeout = limits.headersTimeoutMs;
    // The last resort for a socket on which nothing moves either way (a peer that stops
    // reading its answer): longer than any hold or idle deadline above.
    server.timeout = 2 * Math.max(limits.readyHoldMs, limits.fileIdleTimeoutMs, limits.messageBodyTimeoutMs);
    // Each worker holds a long poll and sends short messages; the rest is room for strangers,
    // whose sockets close at their 401 or their headers deadline, and for workers' retries.
    server.maxConnections = options.of * 4 + MAX_STRANGER_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    coordinator = new Coordinator(server, `http://${shown}:${address.port}`, options, token, limits);
    return coordinator;
  }

  /** Live: not lost. */
  live(): ShardState[] {
    return this.shards.filter((s) => s.lost === null);
  }

  lostShards(): ShardState[] {
    return this.shards.filter((s) => s.lost !== null);
  }

  /**
   * Marks a shard lost (its worker exited or went silent); its pending `ready`, if any, is
   * answered with stop. A shard that has sent its end is not lost whatever its exit says.
   */
  lose(index: number, reason: string): void {
    const shard = this.shards[index];
    if (!shard || shard.lost !== null || shard.end !== null) return;
    shard.lost = reason;
    this.answer(index, { stop: `lost: ${reason}` });
    this.changed();
  }

  /** Answers every `ready` now and later with stop: the run ends (an iteration was incomplete, Ctrl-C, the end). */
  stopAll(reason: string): void {
    this.stopReason ??= reason;
    for (const index of [...this.pending.keys()]) this.answer(index, { stop: reason });
    this.changed();
  }

  /** The first shard that failed fast in plan iteration `iteration`, ACROSS_SHARDS for the shards together, or null. */
  failedFastIn(iteration: number): number | null {
    return this.failedFast.get(iteration) ?? null;
  }

  /**
   * The shards' fail-fast watches added up (their latest `fail_watch` in `iteration`): together
   * FAIL_FAST_REQUESTS measured requests failed, all with one error class, and no shard's watch
   * settled on a completed request first. One process trips on the run's first 20 measured
   * requests failing alike; a shard alone sees only its share of them (20 of 60 with 3 shards
   * of a 429-only server, and none at all when each share is under 20).
   */
  private watchesTripped(iteration: number): boolean {
    let failed = 0;
    let errorClass: string | null = null;
    for (const shard of this.shards) {
      const watch = shard.progress?.iteration === iteration ? shard.progress.fail_watch : undefined;
      if (!watch) continue;
      if (watch.settled) return false;
      if (watch.error_class !== null) {
        if (errorClass !== null && errorClass !== watch.error_class) return false;
        errorClass = watch.error_class;
      }
      failed += watch.failed;
    }
    return failed >= FAIL_FAST_REQUESTS;
  }

  /** Starts `iteration` on every shard waiting for it, at one instant ahead; returns the instant. */
  start(iteration: number, leadMs = START_LEAD_MS): number {
    const startAtUs = nowUs() + leadMs * 1000;
    this.startedAtUs.set(iteration, startAtUs);
    for (const [index, pending] of [...this.pending]) {
      if (pending.iteration === iteration) this.answer(index, { start_at_us: startAtUs });
    }
    return startAtUs;
  }

  /** Resolves once `condition` holds (checked now and after every message or loss), or the signal aborts. */
  until(condition: () => boolean, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (condition() || signal?.aborted) {
          this.listeners.delete(check);
          signal?.removeEventListener('abort', check);
          resolve();
        }
      };
      this.listeners.add(check);
      signal?.addEventListener('abort', check, { once: true });
      check();
    });
  }

  async close(): Promise<void> {
    this.stopAll('the coordinator closed');
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private answer(index: number, answer: ReadyAnswer): void {
    const pending = this.take(index);
    if (!pending) return;
    const shard = this.shards[index];
    if (shard) shard.readyFor = null;
    reply(pending.res, 200, answer);
  }

  /**
   * A ready held its time: answered `again`. The shard stays ready for its iteration (its
   * worker asks again at once), so start() counts it, and its next ready gets the instant.
   */
  private holdExpired(index: number): void {
    const pending = this.take(index);
    if (pending) reply(pending.res, 200, { again: true });
  }

  private take(index: number): Pending | undefined {
    const pending = this.pending.get(index);
    if (!pending) return undefined;
    this.pending.delete(index);
    clearTimeout(pending.hold);
    return pending;
  }

  /** Shard `index`'s own bearer token (shardToken of the run's), derived once per shard. */
  tokenFor(index: number): string {
    // An unauthenticated `/v1/clock` is checked against every shard's: no HMAC per request.
    return (this.shardTokens[index] ??= shardToken(this.token, index));
  }

  private readonly shardTokens: string[] = [];

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://coordinator');
    const routed = /^\/v1\/shards\/(\d+)\//.exec(url.pathname);
    // The clock answers any shard; a shard's own routes only that shard.
    const allowed = routed ? [Number(routed[1])] : this.shards.map((s) => s.index);
    if (!allowed.some((index) => index < this.shards.length && this.authorized(req, index)))
      // A stranger gets its socket closed: it does not keep one of the workers' connections.
      return reply(res, 401, { error: 'missing or wrong bearer token' }, { connection: 'close' });
    if (req.method === 'POST' && url.pathname === '/v1/clock') {
      const received_us = nowUs();
      const body = await readBody(req, this.limits.messageBodyTimeoutMs);
      if ('refused' in body) return refuse(res, body.refused);
      return reply(res, 200, { received_us, sent_us: nowUs() });
    }
    const shipped = /^\/v1\/shards\/(\d+)\/files$/.exec(url.pathname);
    if (shipped && req.method === 'PUT') return this.receiveFile(Number(shipped[1]), url, req, res);
    const match = /^\/v1\/shards\/(\d+)\/(job|hello|ready|done|progress|end)$/.exec(url.pathname);
    const index = match ? Number(match[1]) : -1;
    const shard = this.shards[index];
    if (!match || !shard) return reply(res, 404, { error: `no such route: ${req.method} ${url.pathname}` });
    const verb = match[2];
    if (verb === 'job' && req.method === 'GET') return reply(res, 200, this.options.jobFor(index));
    if (req.method !== 'POST') return reply(res, 405, { error: `${verb} takes POST` });
    const read = await readBody(req, this.limits.messageBodyTimeoutMs);
    if ('refused' in read) return refuse(res, read.refused);
    const body = read.json;
    if (shard.lost !== null) return reply(res, 409, { stop: `lost: ${shard.lost}` });
    if (verb === 'hello') {
      const hello = parse(helloMessage, body, res);
      if (!hello) return;
      // One worker per shard: a second (a restarted or mistaken one) would write into its folder.
      // The same worker saying it again (its first answer was lost with its connection) is not a second.
      if (shard.hello !== null) {
        const same = shard.hello.host === hello.host && shard.hello.pid === hello.pid;
        if (same) return reply(res, 200, {});
        return reply(res, 409, { error: `shard ${index} already said hello (pid ${shard.hello.pid})` });
      }
      shard.hello = hello;
      reply(res, 200, {});
    } else if (verb === 'ready') {
      const ready = parse(readyMessage, body, res);
      if (!ready) return;
      // Asked again after its iteration started (its hold expired as everyone got ready): the
      // instant the others got, even once the run is stopping, so this shard runs (and ends,
      // and says done) the iteration the others are in rather than ending without its done.
      const startedAtUs = this.startedAtUs.get(ready.iteration);
      if (startedAtUs !== undefined) {
        shard.readyFor = null;
        return reply(res, 200, { start_at_us: startedAtUs });
      }
      if (this.stopReason !== null) return reply(res, 200, { stop: this.stopReason });
      // A second `ready` from one shard replaces the first (its connection was retried).
      this.take(index)?.res.destroy();
      const hold = setTimeout(() => this.holdExpired(index), this.limits.readyHoldMs);
      this.pending.set(index, { res, iteration: ready.iteration, hold });
      shard.readyFor = ready.iteration;
      res.once('close', () => {
        if (this.pending.get(index)?.res === res) {
          this.take(index);
          shard.readyFor = null;
          this.changed();
        }
      });
    } else if (verb === 'progress') {
      const parsed = parse(progressMessage, body, res);
      if (!parsed) return;
      const { hot, ...progress } = parsed;
      shard.progress = progress;
      // Totals only grow: one that counts fewer requests than the kept one is an earlier message, late.
      const kept = hot ? shard.hot.get(hot.bucket) : undefined;
      if (hot && (!kept || requestsCounted(hot) >= requestsCounted(kept))) shard.hot.set(hot.bucket, hot);
      if (progress.fail_fast && !this.failedFast.has(progress.iteration))
        this.failedFast.set(progress.iteration, index);
      if (!this.failedFast.has(progress.iteration) && this.watchesTripped(progress.iteration))
        this.failedFast.set(progress.iteration, ACROSS_SHARDS);
      // Fail fast across shards: the others end the iteration as the tripping shard did.
      const tripped = this.failedFast.get(progress.iteration);
      reply(
        res,
        200,
        tripped === undefined || tripped === index
          ? {}
          : tripped === ACROSS_SHARDS
            ? { end_iteration: 'fail_fast' }
            : { end_iteration: 'fail_fast', by_shard: tripped },
      );
    } else if (verb === 'done') {
      const done = parse(doneMessage, body, res);
      if (!done) return;
      shard.done.set(done.iteration, done);
      // Its fail-fast progress message was lost: its done says it (an ended shard's comes later).
      if (done.fail_fast && !this.failedFast.has(done.iteration)) this.failedFast.set(done.iteration, index);
      reply(res, 200, {});
    } else {
      const end = parse(endMessage, body, res);
      if (!end) return;
      shard.end = end;
      reply(res, 200, {});
    }
    this.changed();
  }

  /**
   * One file of a shipped shard folder (answer.ship_files): written under a temporary name
   * and renamed, so a reader never sees half a file; bounded by SHIPPED_FILE_LIMIT_BYTES and
   * by the length announced; a path outside the shard's folder is refused.
   */
  private async receiveFile(
    index: number,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const shard = this.shards[index];
    // A lost or ended shard's folder is what it was then: nothing more is taken into it.
    if (shard && (shard.lost !== null || shard.end !== null)) {
      return reply(res, 409, { stop: shard.lost !== null ? `lost: ${shard.lost}` : 'ended' });
    }
    const answer = this.options.jobFor(index);
    if (!answer.ship_files)
      return reply(res, 404, { error: 'this coordinator shares its file system with its workers' });
    const path = url.searchParams.get('path') ?? '';
    if (!isSafeRelativePath(path))
      return reply(res, 400, {
        error: `path: "${path.slice(0, 200)}" is not a relative path inside the shard folder`,
      });
    const length = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(length) || length < 0 || length > SHIPPED_FILE_LIMIT_BYTES) {
      return reply(res, 413, { error: `content-length: expected 0..${SHIPPED_FILE_LIMIT_BYTES} bytes` });
    }
    const target = join(answer.dir, ...path.split('/'));
    // Half-received files wait beside the run folder, never in it: whatever reads the shard
    // folder meanwhile (a merge, verify) sees whole files or none.
    const incoming = join(dirname(dirname(dirname(answer.dir))), '.infermark-incoming');
    const part = join(incoming, `${index}-${randomBytes(6).toString('hex')}`);
    await mkdir(incoming, { recursive: true });
    await mkdir(dirname(target), { recursive: true });
    let received = 0;
    const { fileIdleTimeoutMs } = this.limits;
    const idle = new AbortController();
    const idleTimer = setTimeout(() => idle.abort(), fileIdleTimeoutMs);
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        idleTimer.refresh();
        received += chunk.length;
        callback(received > length ? new Error(`more than the ${length} bytes announced`) : null, chunk);
      },
    });
    try {
      await pipeline(req, counted, createWriteStream(part), { signal: idle.signal });
      if (received !== length) throw new Error(`${received} of the ${length} bytes announced`);
      await rename(part, target);
    } catch (error) {
      await rm(part, { force: true });
      if (idle.signal.aborted)
        return refuse(
          res,
          408,
          `${path}: no byte for ${fileIdleTimeoutMs} ms (${received} of ${length} received)`,
        );
      return reply(res, 400, { error: `${path}: ${(error as Error).message}` });
    } finally {
      clearTimeout(idleTimer);
    }
    reply(res, 200, {});
  }

  private authorized(req: IncomingMessage, index: number): boolean {
    const given = Buffer.from(String(req.headers.authorization ?? ''));
    const wanted = Buffer.from(`Bearer ${this.tokenFor(index)}`);
    return given.length === wanted.length && timingSafeEqual(given, wanted);
  }
}

/** A message's body as JSON (unparseable JSON reads as undefined), or why it was refused. */
type Body = { json: unknown } | { refused: 408 | 413 };

/**
 * Reads a message's body within `deadlineMs`. One over MESSAGE_LIMIT_BYTES is refused, but
 * read on (and dropped) up to OVERSIZE_DRAIN_BYTES: its sender has finished sending when
 * the 413 comes, so it reads the 413 rather than a reset.
 */
function readBody(req: IncomingMessage, deadlineMs: number): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const settle = (body: Body): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(body);
    };
    const timer = setTimeout(() => settle({ refused: 408 }), deadlineMs);
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= MESSAGE_LIMIT_BYTES) chunks.push(chunk);
      else if (bytes > MESSAGE_LIMIT_BYTES + OVERSIZE_DRAIN_BYTES) settle({ refused: 413 });
    });
    req.once('end', () => {
      if (bytes > MESSAGE_LIMIT_BYTES) return settle({ refused: 413 });
      try {
        settle({ json: bytes === 0 ? {} : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) });
      } catch {
        settle({ json: undefined });
      }
    });
    // Cut off mid-body: nobody is left to answer; the reply finds the response destroyed.
    req.once('close', () => settle({ refused: 408 }));
  });
}

/**
 * Refuses a message with `connection: close`: the socket closes once the answer is flushed,
 * so a keep-alive client does not reuse a connection whose request was not read to its end.
 */
function refuse(res: ServerResponse, status: 408 | 413, error?: string): void {
  const why =
    error ??
    (status === 413
      ? `a message is at most ${MESSAGE_LIMIT_BYTES} bytes`
      : 'the message did not arrive in time');
  reply(res, status, { error: why }, { connection: 'close' });
}

function parse<T>(schema: ZodType<T>, body: unknown, res: ServerResponse): T | null {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  reply(res, 400, {
    error: `bad message: ${first ? `${first.path.join('.') || '(body)'}: ${first.message}` : 'not JSON'}`,
  });
  return null;
}

/**
 * Answers; a request whose body was not read to its end (refused early) gets `connection:
 * close`, so Node closes the socket once the answer is flushed instead of reading on.
 */
function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(unreadBody(res.req) ? { connection: 'close' } : {}),
    ...headers,
  });
  res.end(text);
}

function unreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const { 'content-length': length, 'transfer-encoding': chunked } = req.headers;
  return chunked !== undefined || (length !== undefined && length !== '0');
}
