/**
 * Seeded randomness for the simulator: a small fast PRNG (mulberry32), string
 * hashing to derive per-request streams, and the latency distributions. Nothing
 * here reads Math.random, so a seed fixes a run.
 */

/** A stream of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32: 32-bit state, good enough for latency jitter and word choice, and very cheap. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over a string, folded with a seed; derives independent streams from one seed. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mixes two 32-bit numbers into one seed (splitmix-style finalizer). */
export function mixSeeds(a: number, b: number): number {
  let h = (a ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Standard normal variate (Box–Muller; one of the pair is discarded for simplicity). */
export function standardNormal(rng: Rng): number {
  const u = 1 - rng(); // (0, 1]: log stays finite
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Normal(mean, sd) truncated at 0 by clamping; exactly `mean` when sd is 0. */
export function normalAtLeastZero(rng: Rng, mean: number, sd: number): number {
  if (sd <= 0) return Math.max(0, mean);
  return Math.max(0, mean + sd * standardNormal(rng));
}

/** Lognormal with the given mean and standard deviation (not those of the underlying normal). */
export function lognormalWithMoments(rng: Rng, mean: number, sd: number): number {
  if (mean <= 0) return 0;
  if (sd <= 0) return mean;
  const sigma2 = Math.log(1 + (sd * sd) / (mean * mean));
  const mu = Math.log(mean) - sigma2 / 2;
  return Math.exp(mu + Math.sqrt(sigma2) * standardNormal(rng));
}
