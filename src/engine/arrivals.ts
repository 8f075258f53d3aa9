/**
 * Open-loop arrival schedules: offsets from the iteration's start, never from the
 * previous response (k6's rule; no coordinated omission). Constant, Poisson
 * (exponential gaps) or gamma gaps with a shape ("burstiness") as vLLM defines it.
 */
import type { ArrivalSpec } from '../plan/plan.js';

/** Uniform [0,1) source; seeded by the caller so schedules repeat. */
export type Random = () => number;

/** Returns a generator of the next arrival offset in microseconds. */
export function arrivalOffsets(rateRps: number, spec: ArrivalSpec, random: Random): () => number {
  const meanGapUs = 1e6 / rateRps;
  let offsetUs = 0;
  let count = 0;
  if (spec.distribution === 'constant') {
    // i * period, computed by multiplication so rounding does not accumulate.
    return () => Math.round(count++ * meanGapUs);
  }
  const shape = spec.distribution === 'poisson' ? 1 : spec.burstiness;
  return () => {
    // The first arrival is at the start, as in vLLM and k6.
    if (count++ === 0) return 0;
    offsetUs += gammaSample(shape, random) * (meanGapUs / shape);
    return Math.round(offsetUs);
  };
}

/** Gamma(shape, 1) by Marsaglia–Tsang; shape < 1 boosted as usual. Shape 1 is exponential. */
export function gammaSample(shape: number, random: Random): number {
  if (shape === 1) return -Math.log(1 - random());
  if (shape < 1) return gammaSample(shape + 1, random) * Math.pow(1 - random(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

function standardNormal(random: Random): number {
  const u1 = 1 - random();
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
