/**
 * The coordinator protocol (docs/shards.md): HTTP/1.1, JSON bodies, a bearer token.
 * Every message is parsed with these schemas on arrival, on both sides: a worker of
 * another version, or anything else that reaches the port, gets a clear refusal, not
 * a half-understood message.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { hotSeriesWire } from '../telemetry/hot-totals.js';
import { MAX_TELEMETRY_TARGETS } from '../spec/job-limits.js';

export const SHARD_PROTOCOL_VERSION = 1;

/** The worker's bearer token travels in its environment, never on its command line (ps shows that). */
export const COORDINATOR_TOKEN_ENV = 'INFERMARK_COORDINATOR_TOKEN';

/**
 * Shard `index`'s own bearer token, derived from the run's: a worker can speak only for its
 * own shard, so a stray or duplicated worker cannot answer, end or replace another's. Whoever
 * starts the workers (the coordinator, or the Kubernetes controller writing its Secret) derives
 * them alike.
 */
export function shardToken(runToken: string, index: number): string {
  return createHmac('sha256', runToken).update(`shard:${index}`).digest('base64url');
}

/** A worker's messages are small; the job it is sent may carry a long scenario list. */
export const MESSAGE_LIMIT_BYTES = 64 * 1024;
export const JOB_ANSWER_LIMIT_BYTES = 8 * 1024 * 1024;

/** One shipped file of a shard folder, at most (records of a long run are the big ones). */
export const SHIPPED_FILE_LIMIT_BYTES = 16 * 1024 ** 3;
/** Files in one shard folder, at most: a run has at most a few thousand iterations. */
export const SHIPPED_FILES_LIMIT = 100_000;

/** How far ahead of "everyone is ready" an iteration starts: room for the answers to arrive. */
export const START_LEAD_MS = 300;

const count = z.number().int().min(0);
const micros = z.number().finite();

/** `GET /v1/shards/{i}/job`: what a worker runs and where it writes. */
export const shardJobAnswer = z.object({
  protocol: z.literal(SHARD_PROTOCOL_VERSION),
  /** The coordinated run's id: the merged folder's, recorded in each shard's run.json. */
  run_id: z.string().min(1),
  /** The shard folder, on the worker's file system. */
  dir: z.string().min(1),
  segment: z.object({ index: count, of: z.number().int().min(1) }),
  /** The job document (validated again by the worker: it parses what it runs). */
  job: z.record(z.string(), z.unknown()),
  job_file: z.string().nullable(),
  /** The job file's digest and git state, as the parent read them (the worker may not see the file). */
  job_provenance: z
    .object({ path: z.string(), sha256: z.string(), git: z.record(z.string(), z.unknown()).nullable() })
    .nullable(),
  endpoint: z.object({
    baseUrl: z.string().min(1),
    path: z.enum(['/v1/chat/completions', '/v1/completions', '/v1/embeddings']).nullable(),
    model: z.string().min(1),
  }),
  group: z.object({ runGroupId: z.string().min(1), repeat: count, repeats: z.number().int().min(1) }),
  /** How long a worker may wait for an iteration to start before it gives up on the coordinator. */
  ready_timeout_ms: z.number().int().positive(),
  /**
   * The worker does not share the coordinator's file system (a pod): it writes its shard
   * folder locally and ships each file to `PUT /v1/shards/{i}/files?path=` before every
   * `ready`, `done` and `end`, so the coordinator reads it at the same points as a local one.
   */
  ship_files: z.boolean().optional(),
  /**
   * The coordinator serves hot metrics (`--metrics-port`): the worker keeps hot-metric totals
   * of its records and sends them with its progress messages (`hot`). Without it, it keeps none.
   */
  hot_metrics: z.boolean().optional(),
  /**
   * The coordinator scrapes the job's telemetry targets (the server's /metrics and
   * spec.telemetry) once for the whole run: the shard neither probes nor scrapes them. One
   * entry per target, in the order run.json lists them: whether it answered the coordinator's
   * probe (run.json's `scraped`). Absent: the shard scrapes them itself, as before.
   */
  scraped_by_coordinator: z
    .array(z.boolean())
    // The listed targets, and the server's own.
    .max(MAX_TELEMETRY_TARGETS + 1)
    .optional(),
});
export type ShardJobAnswer = z.infer<typeof shardJobAnswer>;

/** `POST /v1/clock`: the coordinator's clock when the request arrived and when it answered. */
export const clockAnswer = z.object({ received_us: micros, sent_us: micros });

/** `POST /v1/shards/{i}/hello`: who the worker is and how its clock relates to the coordinator's. */
export const helloMessage = z.object({
  host: z.string().min(1).max(255),
  pid: z.number().int().positive(),
  clock_offset_us: micros,
  clock_error_bound_us: z.number().finite().min(0),
});
export type HelloMessage = z.infer<typeof helloMessage>;

/** `POST /v1/shards/{i}/ready`: the worker is ready for plan iteration `iteration`. */
export const readyMessage = z.object({ iteration: count });

/**
 * The answer to `ready`: when to start (coordinator's clock), why to stop, or to ask again
 * (the coordinator holds a `ready` a bounded time, coordinator.ts READY_HOLD_MS).
 */
export const readyAnswer = z.union([
  z.object({ start_at_us: micros }),
  z.object({ stop: z.string().min(1) }),
  z.object({ again: z.literal(true) }),
]);
export type ReadyAnswer = z.infer<typeof readyAnswer>;

/** `POST /v1/shards/{i}/done`: the iteration is sealed in the shard folder. */
export const doneMessage = z.object({
  iteration: count,
  ended_by: z.string().min(1).max(64),
  records: count,
  fail_fast: z.boolean(),
});
export type DoneMessage = z.infer<typeof doneMessage>;

/** `POST /v1/shards/{i}/progress`: the shard's live counts in an iteration (for the view, not evidence). */
export const progressMessage = z.object({
  iteration: count,
  sent: count,
  done: count,
  errors: count,
  in_flight: count,
  measured_done: count,
  /** Infinity has no JSON form: a shard with no request limit sends null. */
  max_requests: count.nullable(),
  elapsed_s: z.number().finite().min(0),
  max_time_s: z.number().finite().min(0),
  /**
   * The shard's hot-metric totals of the iteration's concurrency bucket, cumulative over the
   * run (job answer `hot_metrics`): the coordinator keeps each shard's latest per bucket and
   * sums them at scrape time, so a dropped or late message loses nothing. A few hundred
   * numbers, fixed by the bucket definitions, whatever the plan.
   */
  hot: hotSeriesWire.optional(),
  /** The shard's own fail-fast watch ended the iteration (engine/fail-fast.ts): sent at once, not at the next tick. */
  fail_fast: z.literal(true).optional(),
  /**
   * Where the shard's fail-fast watch stands: the coordinator adds the shards' up, so a split
   * run fails fast on the run's first FAIL_FAST_REQUESTS measured requests, as one process does.
   */
  fail_watch: z
    .object({ failed: count, error_class: z.string().min(1).max(64).nullable(), settled: z.boolean() })
    .optional(),
});
export type ProgressMessage = z.infer<typeof progressMessage>;

/**
 * The answer to `progress`: `{}`, or `{ end_iteration, by_shard }` once another shard failed
 * fast in that iteration: the shard ends its iteration now, as its own fail fast would have.
 * Without `by_shard`, the shards together failed fast (their watches added up): each ends
 * the iteration as failed fast with its own part of the failures as the cause.
 */
export const progressAnswer = z.object({
  end_iteration: z.literal('fail_fast').optional(),
  by_shard: count.optional(),
});
export type ProgressAnswer = z.infer<typeof progressAnswer>;

/** `POST /v1/shards/{i}/end`: the shard's run is sealed. */
export const endMessage = z.object({
  status: z.enum(['complete', 'interrupted', 'failed']),
  artifact_manifest_digest: z.string().min(1),
});
export type EndMessage = z.infer<typeof endMessage>;
