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

export interface CoordinatorOptions {
  of: number;
  /** The job each shard is served (its own segment and folder). */
  jobFor: (index: number) => ShardJobAnswer;
  /** The bearer token workers present; made here when not given. */
  token?: string;
}

interface Pending {
  res: ServerResponse;
  iteration: number;
}

export class Coordinator {
  readonly shards: ShardState[];
  readonly token: string;
  private readonly pending = new Map<number, Pending>();
  /** Plan iteration → the first shard that said it failed fast in it (progress or done), or ACROSS_SHARDS. */
  private readonly failedFast = new Map<number, number>();
  private stopReason: string | null = null;
  private listeners = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: CoordinatorOptions,
    token: string,
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
    let coordinator: Coordinator | null = null;
    const server = createServer((req, res) => {
      coordinator?.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) reply(res, 500, { error: (error as Error).message });
      });
    });
    // A long-poll `ready` may wait a whole iteration: no request timeout on it.
    server.requestTimeout = 0;
    server.headersTimeout = 10_000;
    // Each worker holds a long poll and sends short messages; nothing else needs a connection.
    server.maxConnections = options.of * 4 + 16;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    coordinator = new Coordinator(server, `http://${shown}:${address.port}`, options, token);
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
    const pending = this.pending.get(index);
    if (!pending) return;
    this.pending.delete(index);
    const shard = this.shards[index];
    if (shard) shard.readyFor = null;
    reply(pending.res, 200, answer);
  }

  /** Shard `index`'s own bearer token (shardToken of the run's). */
  tokenFor(index: number): string {
    return shardToken(this.token, index);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://coordinator');
    const routed = /^\/v1\/shards\/(\d+)\//.exec(url.pathname);
    // The clock answers any shard; a shard's own routes only that shard.
    const allowed = routed ? [Number(routed[1])] : this.shards.map((s) => s.index);
    if (!allowed.some((index) => index < this.shards.length && this.authorized(req, index)))
      return reply(res, 401, { error: 'missing or wrong bearer token' });
    if (req.method === 'POST' && url.pathname === '/v1/clock') {
      const received_us = nowUs();
      await readBody(req);
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
    const body = await readBody(req);
    if (body === null) return reply(res, 413, { error: `a message is at most ${MESSAGE_LIMIT_BYTES} bytes` });
    if (shard.lost !== null) return reply(res, 409, { stop: `lost: ${shard.lost}` });
    if (verb === 'hello') {
      // One worker per shard: a second (a restarted or mistaken one) would write into its folder.
      if (shard.hello !== null)
        return reply(res, 409, { error: `shard ${index} already said hello (pid ${shard.hello.pid})` });
      const hello = parse(helloMessage, body, res);
      if (!hello) return;
      shard.hello = hello;
      reply(res, 200, {});
    } else if (verb === 'ready') {
      const ready = parse(readyMessage, body, res);
      if (!ready) return;
      if (this.stopReason !== null) return reply(res, 200, { stop: this.stopReason });
      // A second `ready` from one shard replaces the first (its connection was retried).
      this.pending.get(index)?.res.destroy();
      this.pending.set(index, { res, iteration: ready.iteration });
      shard.readyFor = ready.iteration;
      res.once('close', () => {
        if (this.pending.get(index)?.res === res) {
          this.pending.delete(index);
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
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        callback(received > length ? new Error(`more than the ${length} bytes announced`) : null, chunk);
      },
    });
    try {
      await pipeline(req, counted, createWriteStream(part));
      if (received !== length) throw new Error(`${received} of the ${length} bytes announced`);
      await rename(part, target);
    } catch (error) {
      await rm(part, { force: true });
      return reply(res, 400, { error: `${path}: ${(error as Error).message}` });
    }
    reply(res, 200, {});
  }

  private authorized(req: IncomingMessage, index: number): boolean {
    const given = Buffer.from(String(req.headers.authorization ?? ''));
    const wanted = Buffer.from(`Bearer ${this.tokenFor(index)}`);
    return given.length === wanted.length && timingSafeEqual(given, wanted);
  }
}

/** The body as parsed JSON; null when it is over the limit. Unparseable JSON reads as undefined. */
async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MESSAGE_LIMIT_BYTES) return null;
    chunks.push(chunk);
  }
  try {
    return bytes === 0 ? {} : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
  } catch {
    return undefined;
  }
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

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
