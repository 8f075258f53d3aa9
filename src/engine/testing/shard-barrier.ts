/**
 * Test support: an in-process gate for shards run side by side in one process. It
 * stands in for the HTTP coordinator (docs/shards.md: `ready` is answered when every
 * live shard is ready for the iteration, with a start instant a few hundred ms ahead),
 * so shard folders can be made by tests without worker processes. It keeps the
 * protocol's rule and nothing else: no clock offsets (one process, one clock), no HTTP.
 */
import { nowUs } from '../../base/clock.js';
import type { IterationSummary } from '../../metrics/iteration-summary.js';
import type { IterationGate } from '../run.js';

/** How far ahead of the last `ready` each iteration starts, as the coordinator's START_LEAD_MS. */
export const BARRIER_LEAD_MS = 200;

export class ShardBarrier {
  private readonly waiting = new Map<number, ((go: { startAtUs: number } | { stop: string }) => void)[]>();
  /** Each shard's summaries as it reported them in `done`, by shard index. */
  readonly done = new Map<number, IterationSummary[]>();
  private stopReason: string | null = null;

  constructor(
    readonly of: number,
    private readonly leadMs = BARRIER_LEAD_MS,
  ) {}

  /** The gate shard `index` runs through. */
  gate(index: number): IterationGate {
    return {
      ready: (iteration) => this.ready(iteration),
      done: async (_iteration, summary) => {
        this.done.set(index, [...(this.done.get(index) ?? []), summary]);
      },
    };
  }

  /** Every shard's next `ready` (and those waiting) is answered with `{ stop }`. */
  stop(reason: string): void {
    this.stopReason = reason;
    for (const [iteration, resolvers] of this.waiting) {
      for (const resolve of resolvers) resolve({ stop: reason });
      this.waiting.delete(iteration);
    }
  }

  private ready(iteration: number): Promise<{ startAtUs: number } | { stop: string }> {
    if (this.stopReason !== null) return Promise.resolve({ stop: this.stopReason });
    return new Promise((resolve) => {
      const resolvers = [...(this.waiting.get(iteration) ?? []), resolve];
      this.waiting.set(iteration, resolvers);
      if (resolvers.length < this.of) return;
      this.waiting.delete(iteration);
      const startAtUs = nowUs() + this.leadMs * 1000;
      for (const go of resolvers) go({ startAtUs });
    });
  }
}
