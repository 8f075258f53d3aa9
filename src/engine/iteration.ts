/**
 * Runs one iteration: prepares its work items off the request path, starts the
 * executor, enforces the time limit and interruption, watches the client's own
 * event-loop delay, and hands every finished record to the sink as it completes.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Backend } from '../backends/backend.js';
import type { RequestRecord } from '../metrics/record.js';
import { itemsDigest } from '../workload/sampler.js';
import type { ItemSource, WorkItem } from '../workload/work-item.js';
import {
  conversationsDigest,
  isConversationSource,
  type Conversation,
  type ConversationPlay,
  type ConversationSource,
} from '../workload/conversations.js';
import type { ConversationCounts } from './conversation.js';
import { nowUs, sleepUs } from '../base/clock.js';
import type { ProgressSnapshot } from '../metrics/run-events.js';
import { Dispatcher, type EndReason } from './dispatcher.js';
import type { Executor } from './executors/executor.js';
import { ACROSS_SHARDS, type FailFastCause } from './fail-fast.js';
import type { IterationPlan } from '../plan/plan.js';
import type { Segment } from '../plan/segments.js';

/** Items are generated before the clock starts up to this many; beyond it, on demand. */
const PREPARED_ITEMS_MAX = 20_000;

// At 1 ms the libuv timer's own granularity reads as ~1.5 ms of p99 "lateness" on an idle loop.
const LOOP_DELAY_RESOLUTION_MS = 10;

export interface IterationDeps {
  backend: Backend;
  items: ItemSource;
  executor: Executor;
  /** The run's id: each request's trace id is derived from it. */
  runId?: string;
  /** Called once per finished request, in completion order; must not block. */
  onRecord: (record: RequestRecord) => void;
  /** Run-level interruption (Ctrl-C): cancels in-flight requests and ends the iteration. */
  signal?: AbortSignal;
  /** Called every `progressIntervalMs` with live counts. */
  onProgress?: (snapshot: ProgressSnapshot) => void;
  progressIntervalMs?: number;
  /** The shard of the iteration to send (plan/segments.ts); the whole of it by default. */
  segment?: Segment;
  /**
   * When the iteration starts, on this process's clock (µs): the instant a coordinator gave
   * every shard, so their schedules share one origin. By default, as soon as it is ready.
   */
  startAtUs?: number;
  /** A shard's line to its coordinator (fail fast across shards); none outside a split run. */
  link?: IterationLink;
}

/** A shard's line to its coordinator during one iteration (docs/shards.md, fail fast across shards). */
export interface IterationLink {
  /**
   * Aborted, with the tripping shard's index as its reason, when another shard failed fast;
   * with ACROSS_SHARDS (−1) when the shards' watches together did.
   */
  ended: AbortSignal;
  /** Called once, as soon as this shard's own fail-fast watch ends the iteration. */
  failedFast(snapshot: ProgressSnapshot): void;
}

export interface IterationOutcome {
  records: RequestRecord[];
  started_at_us: number;
  ended_at_us: number;
  wall_s: number;
  ended_by: EndReason;
  /** Why the iteration failed fast (`ended_by` is `fail_fast`), else null. */
  fail_fast: FailFastCause | null;
  dropped_arrivals: number;
  late_arrivals: number;
  /** The items prepared before the clock started, and their digest (same seed and spec, same digest). */
  workload: { items: number; digest: string };
  /** The client's event-loop delay while the iteration ran. */
  event_loop_delay: { p50_ms: number; p99_ms: number; max_ms: number };
  /** Multi-turn: measured conversations started, completed and cut; absent otherwise. */
  conversations?: ConversationCounts;
  /** The coordinator ended the iteration (`ended_by` fail_fast) because this shard failed fast. */
  ended_by_shard?: number;
}

export async function runIteration(plan: IterationPlan, deps: IterationDeps): Promise<IterationOutcome> {
  const problems = deps.executor.validate();
  if (problems.length > 0) throw new Error(`iteration ${plan.index}: ${problems.join('; ')}`);
  const source = deps.items;
  const play = isConversationSource(source)
    ? preparedPlay(source, plan.warmup.requests + plan.max_requests)
    : null;
  const prepared = play ? [] : prepareItems(source, plan.warmup.requests + plan.max_requests);
  const workload = play?.workload ?? { items: prepared.length, digest: itemsDigest(prepared) };
  const itemAt = (index: number): WorkItem => prepared[index] ?? source.itemAt(index);

  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loopDelay.enable();
  if (deps.startAtUs !== undefined) await untilUs(deps.startAtUs, deps.signal);
  const dispatcher = new Dispatcher(
    plan,
    deps.backend,
    itemAt,
    deps.onRecord,
    deps.startAtUs ?? nowUs(),
    deps.runId ?? null,
    deps.segment,
    play?.play ?? null,
  );
  const deadline = setTimeout(() => dispatcher.end('max_time'), plan.max_time_s * 1000);
  const interrupt = (): void => dispatcher.end('interrupted');
  if (deps.signal?.aborted) interrupt();
  deps.signal?.addEventListener('abort', interrupt, { once: true });
  const endedByShard = linkIteration(dispatcher, deps.link);
  const progress = deps.onProgress
    ? setInterval(() => deps.onProgress?.(dispatcher.progress()), deps.progressIntervalMs ?? 250)
    : undefined;
  try {
    await deps.executor.run(dispatcher);
    // Executors return once nothing they sent is in flight; make the end explicit.
    if (!dispatcher.endedBy) dispatcher.end('max_requests');
    await dispatcher.drain();
  } finally {
    clearTimeout(deadline);
    clearInterval(progress);
    deps.signal?.removeEventListener('abort', interrupt);
    endedByShard.release();
    loopDelay.disable();
  }
  deps.onProgress?.(dispatcher.progress());
  const endedAtUs = nowUs();
  return {
    records: dispatcher.records,
    started_at_us: dispatcher.startUs,
    ended_at_us: endedAtUs,
    wall_s: (endedAtUs - dispatcher.startUs) / 1e6,
    ended_by: dispatcher.endedBy ?? 'max_requests',
    fail_fast: dispatcher.endedBy === 'fail_fast' ? dispatcher.failFast.cause : null,
    dropped_arrivals: dispatcher.dropped,
    late_arrivals: dispatcher.late,
    workload,
    event_loop_delay: {
      p50_ms: lateMs(loopDelay.percentile(50)),
      p99_ms: lateMs(loopDelay.percentile(99)),
      max_ms: lateMs(loopDelay.max),
    },
    ...(play ? { conversations: { ...dispatcher.conversationCounts } } : {}),
    ...(endedByShard.shard !== null ? { ended_by_shard: endedByShard.shard } : {}),
  };
}

/**
 * Fail fast across shards: this shard's own trip is told to the coordinator the moment the
 * dispatcher stops, not at the next progress tick; the coordinator's word that another shard
 * tripped ends the iteration as this shard's own watch would have (in-flight requests are
 * cancelled). An iteration already ending for its own reason keeps it.
 */
function linkIteration(
  dispatcher: Dispatcher,
  link: IterationLink | undefined,
): { shard: number | null; release: () => void } {
  const state = { shard: null as number | null, release: (): void => {} };
  if (!link) return state;
  const stopped = (): void => {
    if (dispatcher.endedBy === 'fail_fast' && dispatcher.failFast.cause)
      link.failedFast(dispatcher.progress());
  };
  const told = (): void => {
    if (dispatcher.endedBy !== null) return;
    const by = Number(link.ended.reason);
    // The shards' watches together tripped: this shard failed fast on its own part of the
    // failures (its cause). One whose part was empty is ended as for another shard's trip.
    if (by !== ACROSS_SHARDS || dispatcher.failFast.tripNow(dispatcher.plan.index) === null) state.shard = by;
    dispatcher.end('fail_fast');
  };
  dispatcher.stopSignal.addEventListener('abort', stopped, { once: true });
  link.ended.addEventListener('abort', told, { once: true });
  if (link.ended.aborted) told();
  state.release = () => {
    dispatcher.stopSignal.removeEventListener('abort', stopped);
    link.ended.removeEventListener('abort', told);
  };
  return state;
}

/**
 * Multi-turn: the first conversations built before the clock starts (tokenizing a dataset's
 * turns is the cost), their digest, and the play the dispatcher runs over them.
 */
function preparedPlay(
  source: ConversationSource,
  wanted: number,
): { play: ConversationPlay; workload: { items: number; digest: string } } {
  const count = Math.min(wanted, source.size);
  const prepared: Conversation[] = [];
  // As many turns as single requests would prepare, whole conversations.
  for (let c = 0, turns = 0; c < count && turns < PREPARED_ITEMS_MAX; c++) {
    const conversation = source.conversationAt(c);
    prepared.push(conversation);
    turns += conversation.turns.length;
  }
  const play: ConversationPlay = {
    conversationAt: (c) => prepared[c] ?? source.conversationAt(c),
    firstRequestIndex: (c) => source.firstRequestIndex(c),
    thinkTimeUs: source.thinkTimeUs,
    assistantTurns: source.assistantTurns,
    countTokens: (text) => source.countTokens(text),
  };
  return { play, workload: { items: prepared.length, digest: conversationsDigest(prepared) } };
}

/** Builds the first items before the clock starts, so prompt synthesis is never on the request path. */
function prepareItems(items: ItemSource, wanted: number): WorkItem[] {
  const count = Math.min(wanted, items.size, PREPARED_ITEMS_MAX);
  return Array.from({ length: count }, (_, index) => items.itemAt(index));
}

/**
 * The histogram records each sampling interval, not its lateness (an idle loop
 * reads ~1 ms at 1 ms resolution), so the resolution is subtracted.
 */
function lateMs(nanos: number): number {
  return Number.isFinite(nanos) ? Math.max(0, nanos / 1e6 - LOOP_DELAY_RESOLUTION_MS) : 0;
}

/**
 * Waits until `targetUs` on the clock. A timer may wake a little early (whole ms), and a
 * request claimed before the start would count as warmup by time: yield to the end.
 */
async function untilUs(targetUs: number, signal?: AbortSignal): Promise<void> {
  await sleepUs(targetUs - nowUs(), signal);
  while (nowUs() < targetUs && !signal?.aborted) await new Promise<void>((resolve) => setImmediate(resolve));
}
