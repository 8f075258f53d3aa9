/**
 * Shards of one iteration (k6's execution segments, in their simplest exact form): shard
 * `index` of `of` owns the requests whose run-wide index j has `j mod of = index`. Every
 * share below is "how many of these indexes fall to the shard", so the shares of all
 * shards sum to the whole exactly, request j carries the same item on any shard, and the
 * one seeded arrival schedule is partitioned without being drawn again.
 */

export interface Segment {
  /** This shard, from 0. */
  index: number;
  /** How many shards the iteration is split into. */
  of: number;
}

/** The whole iteration: today's single-client run. */
export const WHOLE: Segment = Object.freeze({ index: 0, of: 1 });

/** Problems with a segment, empty when it is one. */
export function segmentProblems(segment: Segment): string[] {
  if (!Number.isSafeInteger(segment.of) || segment.of < 1)
    return [`shard count must be an integer ≥ 1, got ${segment.of}`];
  if (!Number.isSafeInteger(segment.index) || segment.index < 0 || segment.index >= segment.of)
    return [`shard index must be an integer from 0 to ${segment.of - 1}, got ${segment.index}`];
  return [];
}

/** True when request j belongs to the segment. */
export function owns(segment: Segment, j: number): boolean {
  return j % segment.of === segment.index;
}

/** How many of the indexes 0 … total−1 fall to the segment (total may be Infinity). */
export function shareOf(segment: Segment, total: number): number {
  if (total === Infinity) return Infinity;
  return total <= segment.index ? 0 : Math.floor((total - 1 - segment.index) / segment.of) + 1;
}

/** How many of the indexes from … from+count−1 fall to the segment. */
export function shareOfRange(segment: Segment, from: number, count: number): number {
  if (count === Infinity) return Infinity;
  return shareOf(segment, from + count) - shareOf(segment, from);
}

/**
 * Which request indexes a shard sends: requests are dealt in cycles of `cycle`, residue r
 * of each cycle to shard `r mod of`. Open loop and trace replay deal one by one (cycle =
 * of: request j to shard j mod of, the arrival schedule's partition). Closed loop deals by
 * slot (cycle = concurrency c, so residue r is slot r's): a shard with k of the c slots
 * gets k of every c requests, so its requests last as long as the others', and a shard
 * with no slot owns no request (none is left unsent).
 */
export class Dealing {
  /** The residues of each cycle this shard owns, ascending. */
  private readonly residues: number[];

  constructor(
    readonly segment: Segment,
    readonly cycle: number,
  ) {
    this.residues = [];
    for (let r = segment.index; r < cycle; r += segment.of) this.residues.push(r);
  }

  /** The k-th index (from 0) the shard owns; Infinity when it owns none. */
  at(k: number): number {
    const m = this.residues.length;
    if (m === 0) return Infinity;
    return Math.floor(k / m) * this.cycle + (this.residues[k % m] as number);
  }

  /** How many of the indexes 0 … n−1 the shard owns (n may be Infinity). */
  below(n: number): number {
    if (n === Infinity) return this.residues.length === 0 ? 0 : Infinity;
    const rest = n % this.cycle;
    return Math.floor(n / this.cycle) * this.residues.length + this.residues.filter((r) => r < rest).length;
  }

  /** How many of the indexes from … from+count−1 the shard owns. */
  inRange(from: number, count: number): number {
    if (count === Infinity) return this.below(Infinity);
    return this.below(from + count) - this.below(from);
  }
}

/** How an iteration's requests are dealt to the segment: by slot in closed loop, one by one otherwise. */
export function dealingFor(
  segment: Segment,
  plan: { mode: string; concurrency?: number | undefined },
): Dealing {
  const cycle = plan.mode === 'concurrency' ? Math.max(1, plan.concurrency ?? 1) : segment.of;
  return new Dealing(segment, cycle);
}

/**
 * The measured requests a shard plans, when each claim is one request: its part of the
 * measured indexes warmup … warmup+K−1, where K is max_requests capped by the item source's
 * size (a trace's length; Infinity for a synthetic scenario). A shard computes its own
 * this way, and a merge computes a lost shard's, so the shares sum to one client's figure.
 */
export function plannedShare(
  segment: Segment,
  plan: {
    mode: string;
    concurrency?: number | undefined;
    max_requests: number;
    warmup: { requests: number };
  },
  sourceSize: number,
): number {
  return dealingFor(segment, plan).inRange(plan.warmup.requests, Math.min(plan.max_requests, sourceSize));
}

/**
 * The segment's part of a schedule of offsets: draws the whole schedule in order (so every
 * shard sees the same draws as a single client) and returns only the arrivals it owns.
 * `null` from the schedule (its end) passes through.
 */
export function segmentSchedule(
  segment: Segment,
  next: () => number | null,
  /** Sees every arrival drawn, the shard's or not, in order (how a shard learns where the warmup ends). */
  onDraw?: (j: number, offsetUs: number) => void,
): () => number | null {
  if (segment.of === 1) return next;
  let j = 0;
  return () => {
    for (;;) {
      const offset = next();
      if (offset === null) return null;
      onDraw?.(j, offset);
      if (owns(segment, j++)) return offset;
    }
  };
}
