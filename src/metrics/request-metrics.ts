/**
 * Per-request derived metrics: the formulas of METRICS.md applied to one
 * request record. Stamps are integer microseconds; results are float
 * milliseconds (or tokens/s). A metric whose stamps are missing is `null`,
 * never 0, so it drops out of distributions instead of pulling them down.
 */
import type { RequestRecord } from './record.js';

const US_PER_MS = 1000;

/** One request's derived values. */
export interface RequestMetrics {
  /** headers_at − sent_at */
  ttfb_ms: number | null;
  /** first_token_at − sent_at */
  ttft_ms: number | null;
  /** first_output_at − sent_at */
  ttfo_ms: number | null;
  /** last_token_at − sent_at */
  e2e_latency_ms: number | null;
  /** done_at − sent_at */
  e2e_done_ms: number | null;
  /** sent_at − scheduled_at */
  client_queue_ms: number;
  /** e2e_latency + client_queue (= last_token_at − scheduled_at) */
  e2e_plus_queue_ms: number | null;
  /** (e2e_latency − ttft) / (output_tokens − 1), only when output_tokens ≥ 2 */
  tpot_ms: number | null;
  /** 1 / tpot in tokens/s; null when tpot is null or 0 (all output in one event) */
  decode_speed_tokens_per_s: number | null;
  /** Every gap between consecutive chunk times (chunks − 1 values). */
  itl_ms: number[];
}

function spanMs(from_us: number | null, to_us: number | null): number | null {
  return from_us === null || to_us === null ? null : (to_us - from_us) / US_PER_MS;
}

/** TTFT in ms: ends at the first real token (content or reasoning), not at a role-only chunk. */
export function ttftMs(r: RequestRecord): number | null {
  return spanMs(r.sent_at_us, r.first_token_at_us);
}

/**
 * TPOT in ms, or null when fewer than 2 output tokens (one token has no per-token time) or
 * fewer than 2 content events: output that arrived at once (non-streamed) shows no decoding,
 * and a TPOT of 0 would pass every TPOT SLO for free.
 */
export function tpotMs(r: RequestRecord): number | null {
  if (r.output_tokens < 2 || r.chunk_times_us.length < 2) return null;
  if (r.first_token_at_us === null || r.last_token_at_us === null) return null;
  return (r.last_token_at_us - r.first_token_at_us) / US_PER_MS / (r.output_tokens - 1);
}

/** Every consecutive chunk gap in ms (one sample per gap). */
export function itlGapsMs(r: RequestRecord): number[] {
  const times = r.chunk_times_us;
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++)
    gaps.push(((times[i] as number) - (times[i - 1] as number)) / US_PER_MS);
  return gaps;
}

/** All per-request metrics of one record (whatever its status; callers choose which records count). */
export function requestMetrics(r: RequestRecord): RequestMetrics {
  const e2e = spanMs(r.sent_at_us, r.last_token_at_us);
  const queue = (r.sent_at_us - r.scheduled_at_us) / US_PER_MS;
  const tpot = tpotMs(r);
  return {
    ttfb_ms: spanMs(r.sent_at_us, r.headers_at_us),
    ttft_ms: ttftMs(r),
    ttfo_ms: spanMs(r.sent_at_us, r.first_output_at_us),
    e2e_latency_ms: e2e,
    e2e_done_ms: spanMs(r.sent_at_us, r.done_at_us),
    client_queue_ms: queue,
    e2e_plus_queue_ms: e2e === null ? null : e2e + queue,
    tpot_ms: tpot,
    // tpot 0 means the output arrived in one event: speed is unobservable, not infinite.
    decode_speed_tokens_per_s: tpot === null || tpot <= 0 ? null : 1000 / tpot,
    itl_ms: itlGapsMs(r),
  };
}
