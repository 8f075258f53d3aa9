/**
 * The throughput–latency Pareto frontier of everything a search measured: the points no
 * other point beats on both output tokens/s (more is better) and latency at the SLO's
 * percentile (less is better). A point with a missing figure is on no frontier.
 */

export interface FrontierCandidate {
  /** The iteration the point comes from. */
  iteration: number;
  load: number;
  output_tokens_per_s: number | null;
  latency_ms: number | null;
}

export interface FrontierPoint extends FrontierCandidate {
  output_tokens_per_s: number;
  latency_ms: number;
}

/** The non-dominated points, by throughput ascending (latency ascends with it). */
export function paretoFrontier(points: readonly FrontierCandidate[]): FrontierPoint[] {
  const known = points.filter(
    (p): p is FrontierPoint =>
      p.output_tokens_per_s !== null &&
      p.latency_ms !== null &&
      Number.isFinite(p.output_tokens_per_s) &&
      Number.isFinite(p.latency_ms),
  );
  // Highest throughput first (the lower latency first among equals): a point joins when it is faster than all before it.
  const sorted = [...known].sort(
    (a, b) => b.output_tokens_per_s - a.output_tokens_per_s || a.latency_ms - b.latency_ms,
  );
  const frontier: FrontierPoint[] = [];
  let best = Infinity;
  for (const p of sorted) {
    if (p.latency_ms < best) {
      frontier.push(p);
      best = p.latency_ms;
    }
  }
  return frontier.reverse();
}
