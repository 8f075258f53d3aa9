/**
 * The simulator's randomness: seed derivation and the latency distributions, drawn
 * from base/prng's seeded generator (xoshiro128**, the workload's too). Nothing here
 * reads Math.random, so a seed fixes a run.
 */
import type { Prng } from '../base/prng.js';

/** FNV-1a over a string, folded with a seed: a cheap 32-bit key for a per-prompt stream. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Normal(mean, sd) truncated at 0 by clamping; exactly `mean` when sd is 0. */
export function normalAtLeastZero(rng: Prng, mean: number, sd: number): number {
  if (sd <= 0) return Math.max(0, mean);
  return Math.max(0, mean + sd * rng.nextNormal());
}

/** Lognormal with the given mean and standard deviation (not those of the underlying normal). */
export function lognormalWithMoments(rng: Prng, mean: number, sd: number): number {
  if (mean <= 0) return 0;
  if (sd <= 0) return mean;
  const sigma2 = Math.log(1 + (sd * sd) / (mean * mean));
  const mu = Math.log(mean) - sigma2 / 2;
  return Math.exp(mu + Math.sqrt(sigma2) * rng.nextNormal());
}

/** Uniform index in [0, n) from one 32-bit draw (n ≤ 2^21 keeps the product exact). */
export function indexBelow(rng: Prng, n: number): number {
  return ((rng.nextU32() * n) / 0x100000000) | 0;
}
