/**
 * One iteration of a split run merged from its shard folders, in memory: the union of
 * every shard's whole records on the coordinator's clock, in the order they finished,
 * and the summary recomputed from those records (never from the shards' percentiles).
 * A shard that did not finish the iteration (lost, or not there while others are) is
 * named in `shards.lost`; whatever it finished is kept all the same.
 */
import { summarizeIteration } from '../metrics/aggregate.js';
import type { IterationEndReason, IterationInfo, IterationSummary } from '../metrics/iteration-summary.js';
import { measuredWindowUs } from '../metrics/measured-window.js';
import type { IterationPlan } from '../plan/plan.js';
import { validateJob } from '../spec/job-validate.js';
import type { BenchmarkJob } from '../spec/job-schema.js';
import type { Slo } from '../spec/slo-types.js';
import { plannedShare } from '../plan/segments.js';
import { describeFailFast } from './fail-fast.js';
import { END_GRAVITY, finishedAt } from './merge-shards.js';
import {
  mergeRefused,
  readShardFolders,
  readShardIteration,
  type MergedRecord,
  type ReadShardsOptions,
  type ShardFolder,
  type ShardIteration,
  type WorkloadFile,
} from './shard-folders.js';

/** Why a shard is lost for an iteration, when the coordinator gave no reason. */
export const NOT_SEALED_REASON = 'its folder is not sealed';

/** A shard's own summary of the iteration, and its clock offset. */
interface ShardSummary {
  index: number;
  summary: IterationSummary;
  offsetUs: number;
}

export interface LostShard {
  index: number;
  reason: string;
}

export interface MergedIteration {
  iteration: number;
  /** In the order they finished on the coordinator's clock. */
  records: MergedRecord[];
  summary: IterationSummary;
  /** The items every shard prepared (their digests agree), as the first shard wrote them. */
  workload: WorkloadFile | null;
  lost: LostShard[];
  /** The lowest shard that finished the iteration, whose server scrapes the merged run keeps; null when none did. */
  scrapesFrom: ShardFolder | null;
  /** The measured window of the merged records on the coordinator's clock, null without any. */
  window: { start_us: number; end_us: number } | null;
}

export interface MergeIterationOptions extends ReadShardsOptions {
  /** The job's SLOs, parsed (the coordinator's ValidatedJob has them); by default, run.json's job validated again. */
  slos?: readonly Slo[];
}

/**
 * Merges plan iteration `iteration` of the coordinated run folder `dir` from its shards,
 * without writing anything (the coordinator calls it after each iteration for progress).
 */
export async function mergeIterationFromShards(
  dir: string,
  iteration: number,
  options: MergeIterationOptions = {},
): Promise<MergedIteration> {
  const shards = await readShardFolders(dir, options);
  return mergeIterationOf(dir, shards, iteration, options);
}

/** Merges one iteration from shard folders already read (readShardFolders). */
export async function mergeIterationOf(
  dir: string,
  shards: readonly ShardFolder[],
  iteration: number,
  options: MergeIterationOptions = {},
): Promise<MergedIteration> {
  const reference = shards.find((s) => s.run !== null)?.run;
  const plan = reference?.plan.find((p) => p.index === iteration);
  if (!reference || !plan) throw mergeRefused(dir, `iteration ${iteration} is not in the run's plan`);
  const parts: { shard: ShardFolder; part: ShardIteration | null }[] = [];
  for (const shard of shards) parts.push({ shard, part: await readShardIteration(shard, iteration) });

  const lost: LostShard[] = [];
  for (const { shard, part } of parts) {
    if (part?.sealed) continue;
    const given = options.lostReasons?.get(shard.index);
    const label = String(iteration).padStart(3, '0');
    lost.push({
      index: shard.index,
      reason: given ?? (part === null ? `it has no iteration ${label}` : NOT_SEALED_REASON),
    });
  }
  const present = parts.filter((p): p is { shard: ShardFolder; part: ShardIteration } => p.part !== null);
  const digests = new Set(present.flatMap(({ part }) => (part.workload ? [part.workload.items_digest] : [])));
  if (digests.size > 1)
    throw mergeRefused(
      dir,
      `iteration ${iteration}: the shards prepared different items (workload.json items_digest differ: ${[...digests].join(', ')})`,
    );

  const records = present
    .flatMap(({ part }) => part.records)
    .sort((a, b) => finishedAt(a) - finishedAt(b) || a.shard_index - b.shard_index || a.index - b.index);
  const summaries = present.flatMap(({ shard, part }) =>
    part.summary
      ? [{ index: shard.index, summary: part.summary, offsetUs: shard.run?.shard.clock_offset_us ?? 0 }]
      : [],
  );
  const workload = present.find(({ part }) => part.workload !== null)?.part.workload ?? null;
  const of = shards[0]?.of ?? shards.length;
  const info = iterationInfo(plan, records, summaries, of, workload);
  const failedFast = failedFastShards(shards, summaries, iteration);
  const summary: IterationSummary = {
    ...summarizeIteration(records, info, options.slos ?? slosOf(dir, reference.job)),
    shards: { of, lost, ...(failedFast.length > 0 ? { failed_fast: failedFast } : {}) },
  };
  const live = present.find(({ part }) => part.sealed);
  return {
    iteration,
    records,
    summary,
    workload,
    lost,
    scrapesFrom: live?.shard ?? null,
    window: measuredWindowUs(records),
  };
}

/**
 * What the aggregation needs besides the records: the plan's point, the window the shards
 * ran in on the coordinator's clock, and what each shard's loop counted (summed, or the worst).
 */
function iterationInfo(
  plan: IterationPlan,
  records: readonly MergedRecord[],
  summaries: readonly ShardSummary[],
  of: number,
  workload: WorkloadFile | null,
): IterationInfo {
  const starts: number[] = [];
  const ends: number[] = [];
  for (const { summary, offsetUs } of summaries) {
    if (!summary.shard) continue;
    starts.push(summary.shard.started_at_us - offsetUs);
    ends.push(summary.shard.ended_at_us - offsetUs);
  }
  // A shard lost mid-iteration wrote no summary: its records still bound the window.
  for (const r of records) {
    starts.push(r.scheduled_at_us);
    ends.push(finishedAt(r));
  }
  const wall_s = starts.length > 0 ? (Math.max(...ends) - Math.min(...starts)) / 1e6 : 0;
  const sum = (pick: (s: IterationSummary) => number): number =>
    summaries.reduce((n, { summary }) => n + pick(summary), 0);
  const loops = summaries.flatMap(({ summary }) =>
    summary.flags.event_loop ? [summary.flags.event_loop] : [],
  );
  const endedBy: IterationEndReason =
    END_GRAVITY.find((reason) => summaries.some(({ summary }) => summary.ended_by === reason)) ??
    (summaries.length > 0 ? 'max_requests' : 'interrupted');
  const planned = plannedRequests(plan, summaries, of, workload);
  return {
    iteration: plan.index,
    scenario: plan.scenario,
    mode: plan.mode,
    ...(plan.concurrency !== undefined ? { concurrency: plan.concurrency } : {}),
    ...(plan.rate_rps !== undefined ? { rate_rps: plan.rate_rps } : {}),
    wall_s,
    planned_requests: planned,
    dropped_arrivals: sum((s) => s.requests.dropped_arrivals),
    late_arrivals: sum((s) => s.requests.late_arrivals),
    warmup_requests: plan.warmup.requests,
    ...(loops.length > 0
      ? {
          event_loop_delay: {
            p99_ms: Math.max(...loops.map((l) => l.p99_ms)),
            max_ms: Math.max(...loops.map((l) => l.max_ms)),
          },
        }
      : {}),
    ended_by: endedBy,
    // Multi-turn: each shard counted the conversations it played.
    ...(summaries.some(({ summary }) => summary.conversations)
      ? {
          conversations: {
            started: sum((s) => s.conversations?.started ?? 0),
            completed: sum((s) => s.conversations?.completed ?? 0),
            cut: sum((s) => s.conversations?.cut ?? 0),
          },
        }
      : {}),
  };
}

/**
 * The iteration's planned measured requests: each shard's own figure, and for a shard without
 * a summary (lost mid-iteration) its share computed from its segment as it would have (run.ts),
 * once the shards that did write one agree with that computation. Multi-turn over a dataset,
 * a share counts the turns of the conversations dealt to it, which only the dataset says (its
 * conversations' lengths are not in the folder); there, and wherever the items' count is not
 * in workload.json, the plan's own count stands, as it did before.
 */
function plannedRequests(
  plan: IterationPlan,
  summaries: readonly ShardSummary[],
  of: number,
  workload: WorkloadFile | null,
): number {
  const written = new Map(summaries.map(({ index, summary }) => [index, summary.requests.planned]));
  const perClaim = workload ? requestsPerClaim(workload.description) : null;
  const share = (index: number): number | null =>
    perClaim === null ? null : plannedShare({ index, of }, plan, perClaim.sourceSize) * perClaim.requests;
  let planned = 0;
  for (let index = 0; index < of; index++) {
    const own = written.get(index);
    const computed = share(index);
    if (own !== undefined && own !== null) {
      // A shard's own figure disagrees with the computation: it is not to be trusted for the others.
      if (computed !== null && computed !== own) return plan.max_requests;
      planned += own;
    } else if (computed !== null) planned += computed;
    else return plan.max_requests;
  }
  return planned;
}

/**
 * What a shard's planned share is computed from, read from the iteration's workload
 * description: how many items the source has (a trace's requests, a dataset's entries;
 * Infinity for a synthetic scenario) and how many requests one claim sends (a synthetic
 * conversation's turns); null when the description does not say (a dataset's conversations).
 */
function requestsPerClaim(description: unknown): { sourceSize: number; requests: number } | null {
  const d = (description ?? {}) as Record<string, unknown>;
  if (d.generator === 'conversations') {
    const base = requestsPerClaim(d.base);
    const turns = (d.multiTurn as { turns?: unknown } | undefined)?.turns;
    if (base === null || base.sourceSize !== Infinity || typeof turns !== 'number') return null;
    return { sourceSize: Infinity, requests: turns };
  }
  const count = d.generator === 'trace' ? d.requests : d.generator === 'dataset' ? d.entries : undefined;
  if (d.generator === 'synthetic') return { sourceSize: Infinity, requests: 1 };
  return typeof count === 'number' && Number.isSafeInteger(count) ? { sourceSize: count, requests: 1 } : null;
}

/**
 * The shards whose own fail-fast watch ended the iteration (ended_by fail_fast, not ended by
 * the coordinator for another shard), with the cause their run recorded when it is there yet.
 */
function failedFastShards(
  shards: readonly ShardFolder[],
  summaries: readonly ShardSummary[],
  iteration: number,
): { index: number; reason: string }[] {
  return summaries
    .filter(({ summary }) => summary.ended_by === 'fail_fast' && summary.shard?.ended_by_shard === undefined)
    .map(({ index }) => {
      const cause = shards.find((s) => s.index === index)?.failure?.fail_fast;
      return {
        index,
        reason:
          cause && cause.iteration === iteration
            ? describeFailFast(cause)
            : `its first measured requests of iteration ${iteration} all failed alike`,
      };
    });
}

/** The job's SLOs, from run.json's job validated again (as it was when the run started). */
export function slosOf(dir: string, job: BenchmarkJob): readonly Slo[] {
  if ((job.spec.slos ?? []).length === 0) return [];
  const validation = validateJob(job);
  if (!validation.ok)
    throw mergeRefused(
      dir,
      `run.json's job no longer validates, so its SLOs cannot be read (${validation.issues.length} issues)`,
    );
  return validation.job.parsed.slos;
}
