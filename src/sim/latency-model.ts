/**
 * The latency model: how long a request waits for its first token once in the batch
 * (fixed part, prefill per input token, normal jitter) and how long each decode step
 * takes (normal or lognormal around `itlMs`, slower as the batch fills), both stretched
 * by the node's slowdown (a throttled or straggling GPU). Pure numbers from the request's
 * seeded stream; the stream writer turns them into deadlines.
 */
import type { Prng } from '../base/prng.js';
import type { SimulatorOptions } from './options.js';
import { lognormalWithMoments, normalAtLeastZero } from './random.js';

export type LatencyOptions = Pick<
  SimulatorOptions,
  | 'ttftMs'
  | 'ttftPerInputTokenMs'
  | 'ttftJitterMs'
  | 'itlMs'
  | 'itlJitterMs'
  | 'itlDistribution'
  | 'batchSlowdown'
  | 'capacity'
>;

export class LatencyModel {
  /** Every delay is 0: the server streams as fast as it can write. */
  readonly zeroDelay: boolean;

  /** `slowdown` multiplies every prefill and decode time (1: a healthy node). */
  constructor(
    private readonly options: LatencyOptions,
    private readonly slowdown = 1,
  ) {
    this.zeroDelay =
      options.ttftMs === 0 &&
      options.ttftPerInputTokenMs === 0 &&
      options.ttftJitterMs === 0 &&
      options.itlMs === 0;
  }

  /**
   * Time to first token (ms), counted from admission into the batch; `promptTokens` are the
   * tokens the prefill computes (those the prefix cache did not hold).
   */
  ttft(rng: Prng, promptTokens: number): number {
    const { ttftMs, ttftPerInputTokenMs, ttftJitterMs } = this.options;
    const base = ttftMs + ttftPerInputTokenMs * promptTokens;
    const ttft = ttftJitterMs > 0 ? Math.max(0, base + ttftJitterMs * rng.nextNormal()) : base;
    return ttft * this.slowdown;
  }

  /** Gap (ms) before the next content event, with `running` sequences in the batch. */
  gap(rng: Prng, running: number): number {
    const { itlMs, itlJitterMs, itlDistribution, batchSlowdown, capacity } = this.options;
    if (itlMs === 0) return 0;
    const base =
      itlDistribution === 'lognormal'
        ? lognormalWithMoments(rng, itlMs, itlJitterMs)
        : normalAtLeastZero(rng, itlMs, itlJitterMs);
    return base * (1 + (batchSlowdown * running) / capacity) * this.slowdown;
  }
}
