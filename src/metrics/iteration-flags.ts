/**
 * Reasons to distrust some of an iteration's figures, as flags and warnings: a
 * latency p99 from too few samples, a client event loop slow enough to skew
 * stamps, and an offered load that was not fully sent (dropped or late arrivals).
 */
import type { IterationDistributions, IterationFlags, IterationInfo } from './iteration-summary.js';
import type { Distribution } from './percentiles.js';

/**
 * Samples a p99 needs for a distribution-free 95% interval (METRICS.md):
 * 1 − 0.99ⁿ ≥ 0.975 gives n ≥ 368, rounded to the ~370 the guide quotes.
 */
export const MIN_SAMPLES_FOR_P99 = 370;

/**
 * Event-loop delay threshold: the client's p99 event-loop delay (lateness of a
 * timer, not its period) above which stamps may be skewed. A delay shifts a
 * stamp, and ITL is the difference of two stamps, so the bound scales with the
 * median ITL: 10% of it, clamped to [2 ms, 10 ms]. 10 ms alone already skews TTFTs
 * of a few hundred ms by a few percent; the 2 ms floor is there because on a shared
 * 2-core host an idle Node loop already shows 1–2 ms of p99 timer lateness (OS
 * scheduling, GC), and a flag that is always on is a flag nobody reads. Without ITL samples the bound is 10 ms.
 */
export const EVENT_LOOP_MAX_THRESHOLD_MS = 10;
export const EVENT_LOOP_MIN_THRESHOLD_MS = 2;
export const EVENT_LOOP_ITL_FRACTION = 0.1;

/** Distributions whose p99 users read as a latency tail (the low-sample warning covers these). */
const LATENCY_FIELDS: ReadonlySet<string> = new Set([
  'ttfb_ms',
  'ttft_ms',
  'ttfo_ms',
  'e2e_latency_ms',
  'e2e_done_ms',
  'e2e_plus_queue_ms',
  'tpot_ms',
  'itl_ms',
]);

/** The event-loop threshold for an iteration whose pooled ITL has this median (ms). */
export function eventLoopThresholdMs(median_itl_ms: number | null): number {
  if (median_itl_ms === null) return EVENT_LOOP_MAX_THRESHOLD_MS;
  return Math.min(
    EVENT_LOOP_MAX_THRESHOLD_MS,
    Math.max(EVENT_LOOP_MIN_THRESHOLD_MS, EVENT_LOOP_ITL_FRACTION * median_itl_ms),
  );
}

/** The flags of an iteration, with a warning for each raised one (and for late arrivals), in summary order. */
export function iterationFlags(
  distributions: IterationDistributions,
  info: IterationInfo,
): { flags: IterationFlags; warnings: string[] } {
  const lowSampleMetrics = lowSampleFields(distributions);
  const eventLoop: IterationFlags['event_loop'] = info.event_loop_delay
    ? { ...info.event_loop_delay, threshold_ms: eventLoopThresholdMs(distributions.itl_ms.p50) }
    : null;
  const eventLoopFlag = eventLoop !== null && eventLoop.p99_ms > eventLoop.threshold_ms;
  const dropped = info.dropped_arrivals ?? 0;
  const late = info.late_arrivals ?? 0;

  const warnings: string[] = [];
  if (lowSampleMetrics.length > 0) {
    const counts = lowSampleMetrics.map(
      (f) => `${f} n=${distributions[f as keyof IterationDistributions]?.count}`,
    );
    warnings.push(
      `p99 from fewer than ${MIN_SAMPLES_FOR_P99} samples (no distribution-free 95% interval): ${counts.join(', ')}`,
    );
  }
  if (eventLoop !== null && eventLoopFlag)
    warnings.push(
      `client event-loop delay p99 ${eventLoop.p99_ms.toFixed(2)} ms exceeds ${eventLoop.threshold_ms.toFixed(2)} ms: timestamps may be skewed`,
    );
  if (dropped > 0)
    warnings.push(`${dropped} arrivals dropped (no free slot): the offered load was not fully sent`);
  if (late > 0) warnings.push(`${late} arrivals sent late: see client_queue_ms`);
  return {
    flags: {
      low_samples: lowSampleMetrics.length > 0,
      low_sample_metrics: lowSampleMetrics,
      event_loop_flag: eventLoopFlag,
      event_loop: eventLoop,
      dropped_arrivals: dropped > 0,
    },
    warnings,
  };
}

/** Latency distributions whose p99 came from 1..MIN_SAMPLES_FOR_P99 − 1 samples, in summary order. */
function lowSampleFields(distributions: IterationDistributions): string[] {
  const fields: string[] = [];
  for (const [field, dist] of Object.entries(distributions) as Array<[string, Distribution | null]>) {
    if (dist === null || !LATENCY_FIELDS.has(field)) continue;
    if (dist.count > 0 && dist.count < MIN_SAMPLES_FOR_P99) fields.push(field);
  }
  return fields;
}
