/**
 * The saturation knee, defined once (the diagnosis' playbook and the report's views read
 * it): per scenario, the first concurrency level after which output throughput gains less
 * than a quarter of the ideal (linear) gain while the median TTFT grows by half or more —
 * beyond it the server adds queueing, not throughput. A throughput that merely keeps
 * rising a little (the demo's 1 → 4 → 16 streams) is not scaling when TTFT climbs tenfold.
 */

/** Throughput gained less than this share of the ideal (linear) gain between two levels… */
export const KNEE_GAIN = 0.25;
/** …while the median TTFT grew at least this much. */
export const KNEE_TTFT_GROWTH = 1.5;

/** What the knee reads of a point. */
export interface KneeLevel<T> {
  scenario: string;
  concurrency: number;
  output_throughput_tokens_per_s: number | null;
  ttft_p50_ms: number | null;
  point: T;
}

/** The knee of each scenario (the level before the one that stopped scaling), and that next level. */
export function knees<T>(
  levels: readonly KneeLevel<T>[],
): { scenario: string; knee: KneeLevel<T>; next: KneeLevel<T> }[] {
  const out: { scenario: string; knee: KneeLevel<T>; next: KneeLevel<T> }[] = [];
  for (const scenario of new Set(levels.map((l) => l.scenario))) {
    const sorted = levels
      .filter((l) => l.scenario === scenario)
      .sort((a, b) => a.concurrency - b.concurrency);
    for (let i = 0; i + 1 < sorted.length; i++) {
      const a = sorted[i] as KneeLevel<T>;
      const b = sorted[i + 1] as KneeLevel<T>;
      const ta = a.output_throughput_tokens_per_s;
      const tb = b.output_throughput_tokens_per_s;
      if (ta === null || tb === null || a.ttft_p50_ms === null || b.ttft_p50_ms === null) continue;
      if (ta <= 0 || a.ttft_p50_ms <= 0 || b.concurrency <= a.concurrency) continue;
      const ideal = b.concurrency / a.concurrency - 1;
      if (tb / ta - 1 < KNEE_GAIN * ideal && b.ttft_p50_ms / a.ttft_p50_ms >= KNEE_TTFT_GROWTH) {
        out.push({ scenario, knee: a, next: b });
        break;
      }
    }
  }
  return out;
}
