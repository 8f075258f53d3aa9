/**
 * The SLA search's choice of the next load (docs/search.md): an exponential ramp from the
 * lowest load until a probe fails, then bisection between the highest passing and the
 * lowest failing load until the bracket is narrower than the precision. Loads are assumed
 * monotone: no load above a failing one can pass. A probe overloaded enough to show the
 * server's capacity (an open loop whose completed rate fell well short of the offered one)
 * caps the bracket at that capacity, so no probe is spent above it. Pure: the results so far
 * in, the next step out.
 */

export interface SearchBounds {
  /** The first load probed (req/s or concurrency). */
  min: number;
  /** No load above this is probed. */
  max: number;
  /** Done once the bracket's width is at most this fraction of its lower end (0.1: 10%). */
  precision: number;
  /** Probes (distinct loads) at most. */
  maxProbes: number;
  /** Concurrency: loads are whole numbers. */
  integer: boolean;
}

/** One probe's outcome: its load, whether every SLO held, and the load it proved unreachable. */
export interface ProbeResult {
  load: number;
  pass: boolean;
  /** No load above this can pass (the capacity an overloaded probe showed); null when it showed none. */
  ceiling: number | null;
}

export type SearchPhase = 'ramp' | 'bisect';

export type StopReason =
  | 'precision' // the bracket is narrower than the precision
  | 'max_passes' // the highest load allowed passed
  | 'min_fails' // the lowest load failed
  | 'max_probes'; // the probe budget is spent

export type SearchStep =
  | { kind: 'probe'; load: number; phase: SearchPhase }
  | {
      kind: 'done';
      reason: StopReason;
      /** The highest passing load below every failure: the knee; null when none passed. */
      knee: number | null;
      /** The lowest failing load (or proven ceiling) above the knee; null when none failed. */
      upper: number | null;
    };

/**
 * The bracket the results give: the lowest failing load, the highest pass below it, and the
 * upper end brought down to the lowest ceiling above that pass. A pass at or above a failing
 * load is noise against the monotone assumption (the failure wins); a ceiling at or below a
 * pass is contradicted by that pass (a host slower for a moment), and ignored.
 */
export function bracket(results: readonly ProbeResult[]): { lower: number | null; upper: number | null } {
  let upper: number | null = null;
  for (const r of results) if (!r.pass) upper = upper === null ? r.load : Math.min(upper, r.load);
  let lower: number | null = null;
  for (const r of results) {
    if (r.pass && (upper === null || r.load < upper))
      lower = lower === null ? r.load : Math.max(lower, r.load);
  }
  for (const r of results) {
    if (r.ceiling !== null && upper !== null && (lower === null || r.ceiling > lower))
      upper = Math.min(upper, r.ceiling);
  }
  return { lower, upper };
}

/** The next load to probe, or why the search is done and where the knee is. */
export function nextStep(bounds: SearchBounds, results: readonly ProbeResult[]): SearchStep {
  if (results.length === 0) return { kind: 'probe', load: roundLoad(bounds.min, bounds), phase: 'ramp' };
  const { lower, upper } = bracket(results);
  const done = (reason: StopReason): SearchStep => ({ kind: 'done', reason, knee: lower, upper });
  if (lower === null) return done('min_fails');
  if (upper === null) {
    if (lower >= bounds.max) return done('max_passes');
    if (results.length >= bounds.maxProbes) return done('max_probes');
    return { kind: 'probe', load: roundLoad(Math.min(lower * 2, bounds.max), bounds), phase: 'ramp' };
  }
  if (upper - lower <= bounds.precision * lower || (bounds.integer && upper - lower <= 1))
    return done('precision');
  if (results.length >= bounds.maxProbes) return done('max_probes');
  const mid = roundLoad((lower + upper) / 2, bounds);
  // Rounding met an end of the bracket: nothing between them is left to probe.
  if (mid <= lower || mid >= upper || results.some((r) => r.load === mid)) return done('precision');
  return { kind: 'probe', load: mid, phase: 'bisect' };
}

/** Whole numbers for concurrency; rates to 0.01 req/s (finer is noise, and reads badly). */
function roundLoad(load: number, bounds: SearchBounds): number {
  if (bounds.integer) return Math.max(1, Math.floor(load));
  // Never 0: a --min below 0.005 req/s would round to a probe at 0 req/s, doubled forever.
  return Math.max(0.01, Math.round(load * 100) / 100);
}

/** Probes the search takes at most on a monotone server: the ramp's doublings, then the bisection's halvings. */
export function probeBound(bounds: SearchBounds): number {
  const ramp = Math.ceil(Math.log2(bounds.max / bounds.min)) + 1;
  const halvings = Math.ceil(Math.log2(1 / bounds.precision)) + 1;
  return Math.min(bounds.maxProbes, ramp + halvings);
}
