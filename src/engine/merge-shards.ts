/**
 * One iteration from its shards (plan/segments.ts): the union of every shard's raw
 * records, each moved onto one clock by its shard's measured offset, so the summary is
 * computed from the records themselves, never by averaging the shards' percentiles.
 */
import type { RequestRecord } from '../metrics/record.js';
import { segmentProblems, type Segment } from '../plan/segments.js';
import type { EndReason } from './dispatcher.js';
import type { IterationOutcome } from './iteration.js';

export interface ShardOutcome {
  segment: Segment;
  outcome: IterationOutcome;
  /** The shard's clock minus the merged clock (µs), as the coordinator measured it. */
  clock_offset_us: number;
}

/** The reason the merged iteration ended: the gravest any shard gave. */
export const END_GRAVITY: readonly EndReason[] = [
  'interrupted',
  'fail_fast',
  'max_time',
  'trace_end',
  'max_requests',
];

/**
 * Merges the shards of one iteration. Throws when they are not the whole iteration
 * (a shard missing or twice, shard counts that differ) or did not send the same items.
 */
export function mergeShardOutcomes(shards: readonly ShardOutcome[]): IterationOutcome {
  const problems = shardSetProblems(shards);
  if (problems.length > 0) throw new Error(`cannot merge shards: ${problems.join('; ')}`);
  const onMergedClock = shards.map((s) => ({
    ...s.outcome,
    records: s.outcome.records.map((r) => shiftRecord(r, -s.clock_offset_us)),
    started_at_us: s.outcome.started_at_us - s.clock_offset_us,
    ended_at_us: s.outcome.ended_at_us - s.clock_offset_us,
  }));
  const started = Math.min(...onMergedClock.map((o) => o.started_at_us));
  const ended = Math.max(...onMergedClock.map((o) => o.ended_at_us));
  const endedBy =
    END_GRAVITY.find((reason) => onMergedClock.some((o) => o.ended_by === reason)) ?? 'max_requests';
  const sum = (pick: (o: IterationOutcome) => number): number =>
    onMergedClock.reduce((n, o) => n + pick(o), 0);
  const max = (pick: (o: IterationOutcome) => number): number => Math.max(...onMergedClock.map(pick));
  return {
    // In the order they finished on the merged clock, as one client would have recorded them.
    records: onMergedClock
      .flatMap((o) => o.records)
      .sort((a, b) => finishedAt(a) - finishedAt(b) || a.index - b.index),
    started_at_us: started,
    ended_at_us: ended,
    wall_s: (ended - started) / 1e6,
    ended_by: endedBy,
    fail_fast: onMergedClock.find((o) => o.fail_fast !== null)?.fail_fast ?? null,
    dropped_arrivals: sum((o) => o.dropped_arrivals),
    late_arrivals: sum((o) => o.late_arrivals),
    workload: onMergedClock[0]!.workload,
    // Each shard's loop is its own: the merged figure is the worst of them.
    event_loop_delay: {
      p50_ms: max((o) => o.event_loop_delay.p50_ms),
      p99_ms: max((o) => o.event_loop_delay.p99_ms),
      max_ms: max((o) => o.event_loop_delay.max_ms),
    },
  };
}

/** What keeps a set of shard outcomes from being one whole iteration; empty when it is one. */
export function shardSetProblems(shards: readonly ShardOutcome[]): string[] {
  if (shards.length === 0) return ['no shards'];
  const of = shards[0]!.segment.of;
  const problems = shards.flatMap((s) => segmentProblems(s.segment));
  if (shards.some((s) => s.segment.of !== of))
    problems.push('the shards were cut for different shard counts');
  const seen = new Set(shards.map((s) => s.segment.index));
  if (seen.size !== shards.length) problems.push('a shard appears twice');
  const missing = Array.from({ length: of }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) problems.push(`shard ${missing.join(', ')} of ${of} missing`);
  const digests = new Set(shards.map((s) => s.outcome.workload.digest));
  if (digests.size > 1) problems.push('the shards prepared different items (workload digests differ)');
  return problems;
}

/** When a record finished: done, else its last token, else when it was sent. */
export function finishedAt(record: RequestRecord): number {
  return record.done_at_us ?? record.last_token_at_us ?? record.sent_at_us;
}

/** A copy of the record with every time moved by `deltaUs` (durations are unchanged). */
export function shiftRecord<R extends RequestRecord>(record: R, deltaUs: number): R {
  if (deltaUs === 0) return record;
  const shift = (t: number | null): number | null => (t === null ? null : t + deltaUs);
  return {
    ...record,
    scheduled_at_us: record.scheduled_at_us + deltaUs,
    sent_at_us: record.sent_at_us + deltaUs,
    headers_at_us: shift(record.headers_at_us),
    first_token_at_us: shift(record.first_token_at_us),
    first_output_at_us: shift(record.first_output_at_us),
    last_token_at_us: shift(record.last_token_at_us),
    done_at_us: shift(record.done_at_us),
    chunk_times_us: record.chunk_times_us.map((t) => t + deltaUs),
  };
}
