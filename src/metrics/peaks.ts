/**
 * Peak figures of an iteration: the most requests in flight at once, and the most
 * output tokens in any one-second bucket (METRICS.md, peak_concurrency and
 * peak_output_throughput).
 */
import type { RequestRecord } from './record.js';

/** Width of a peak-throughput bucket. */
const PEAK_BUCKET_US = 1_000_000;

/** The latest stamp a request has: where its in-flight interval ends. */
function endOfRequestUs(r: RequestRecord): number {
  return r.done_at_us ?? r.last_token_at_us ?? r.first_token_at_us ?? r.headers_at_us ?? r.sent_at_us;
}

/**
 * Most requests in flight at once. Intervals are half-open [sent_at, end), so a
 * closed-loop slot whose next request is sent the microsecond the previous one
 * ends counts once, not twice.
 */
export function peakConcurrency(records: readonly RequestRecord[]): number {
  const events: Array<[number, number]> = [];
  for (const r of records) {
    const end = endOfRequestUs(r);
    if (end <= r.sent_at_us) continue;
    events.push([r.sent_at_us, 1], [end, -1]);
  }
  // Ends before starts at the same instant (half-open intervals).
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let peak = 0;
  for (const [, delta] of events) {
    current += delta;
    if (current > peak) peak = current;
  }
  return peak;
}

/**
 * Most output tokens in any 1-s bucket, per second. Buckets start at `origin_us`
 * (the measured window's start). Tokens are placed at their chunk times; each
 * request's chunks are scaled so they add up to its `output_tokens` (the
 * server's count, which the throughput figures use), and chunks with unknown
 * token counts share the request's tokens evenly. So the buckets sum exactly to
 * Σ output_tokens and the peak is comparable with `output_throughput`.
 * A bucket is always divided by a full second, so a window shorter than 1 s
 * gives a lower bound.
 */
export function peakOutputThroughput(records: readonly RequestRecord[], origin_us: number): number | null {
  const buckets = new Map<number, number>();
  for (const r of records) {
    const times = r.chunk_times_us;
    if (times.length === 0 || r.output_tokens <= 0) continue;
    let weightSum = 0;
    const usable = r.chunk_tokens.length === times.length;
    if (usable) for (const t of r.chunk_tokens) weightSum += t;
    const even = !usable || weightSum <= 0;
    const scale = even ? r.output_tokens / times.length : r.output_tokens / weightSum;
    for (let i = 0; i < times.length; i++) {
      const tokens = even ? scale : (r.chunk_tokens[i] as number) * scale;
      const bucket = Math.floor(((times[i] as number) - origin_us) / PEAK_BUCKET_US);
      buckets.set(bucket, (buckets.get(bucket) ?? 0) + tokens);
    }
  }
  if (buckets.size === 0) return null;
  let peak = 0;
  for (const tokens of buckets.values()) if (tokens > peak) peak = tokens;
  return peak / (PEAK_BUCKET_US / 1_000_000);
}
