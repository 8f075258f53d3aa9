/**
 * How many repeats would likely turn an inconclusive comparison into a
 * decision: a rough planning figure for the gate's INCONCLUSIVE verdict, not a
 * power analysis. It assumes the shift estimate stays where it is and the
 * interval's half-width shrinks as 1/√n with n repeats per group.
 */

export interface RepeatsNeededInput {
  /** Repeats per group behind the interval now (≥ 1). */
  n: number;
  /** The shift estimate (e.g. Hodges-Lehmann, candidate − baseline). */
  estimate: number;
  /**
   * The interval bound that has to move to the other side of `allowed` (either bound of the
   * interval). Must be finite: an infinite bound (k = 0) has no width to scale; the floor for
   * that case is minSamplesForShiftBound(confidence).
   */
  bound: number;
  /** The allowed shift (e.g. the tolerated regression), in the estimate's units. */
  allowed: number;
}

export interface RepeatsNeeded {
  /** Repeats per group that would likely put the whole interval on the estimate's side of `allowed`. */
  per_group: number;
  /** per_group − n: more repeats to run per group (0 when n already suffices). */
  additional: number;
}

/**
 * Repeats per group n' at which the half-width h = |bound − estimate| scaled
 * to h·√(n/n') is no larger than the distance |allowed − estimate|:
 * n' = ⌈n·(h / |allowed − estimate|)²⌉, at least n (and at least `minPerGroup`,
 * e.g. minSamplesForShiftBound(confidence), when given). Returns null when the
 * estimate sits on the allowed value (no number of repeats would decide it).
 */
export function repeatsNeeded(input: RepeatsNeededInput, minPerGroup = 1): RepeatsNeeded | null {
  const { n, estimate, bound, allowed } = input;
  if (!(Number.isSafeInteger(n) && n >= 1))
    throw new RangeError(`repeatsNeeded: n must be an integer ≥ 1, got ${n}`);
  for (const [name, v] of [
    ['estimate', estimate],
    ['bound', bound],
    ['allowed', allowed],
  ] as const)
    if (!Number.isFinite(v)) throw new RangeError(`repeatsNeeded: ${name} must be finite, got ${v}`);
  const distance = Math.abs(allowed - estimate);
  if (distance === 0) return null;
  const halfWidth = Math.abs(bound - estimate);
  const ratio = halfWidth / distance;
  // The ratio's square can be a hair above an integer from rounding; 1e-9 keeps ⌈⌉ honest.
  const needed = Math.ceil(n * ratio * ratio - 1e-9);
  const per_group = Math.max(n, minPerGroup, needed);
  return { per_group, additional: per_group - n };
}
