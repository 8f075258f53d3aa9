/**
 * One search probe judged: every SLO as written (the iteration's slo_checks: the measured
 * percentile, errors counted against it) must hold, the offered load must have been sent
 * (no dropped arrivals) and the iteration must have run to its end. A check from fewer
 * samples than its percentile needs is flagged, not failed (the verdict says so). An open
 * loop that completed well below its offered rate shows the server's capacity: its ceiling.
 */
import { minSamplesForPercentile } from '../gate/stats/bootstrap.js';
import type { SloCheck } from '../metrics/goodput.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';

/** Confidence of the distribution-free interval a percentile's samples must allow (METRICS.md: p99 needs ~370). */
export const SAMPLE_CONFIDENCE = 0.95;
/** An open loop completing below this share of its offered rate is overloaded: its completed rate is the capacity. */
export const OVERLOAD_SHARE = 0.8;
/**
 * The ceiling is the completed rate plus this share: an overloaded probe's rate is taken over a
 * window that ends with the queue draining, so it reads a little under the capacity.
 */
export const CEILING_MARGIN = 0.05;

export interface ProbeCheck extends SloCheck {
  /** Samples the percentile needs for a 95% distribution-free interval (1 for a bound on every request). */
  samples_needed: number;
}

export interface ProbeVerdict {
  iteration: number;
  pass: boolean;
  checks: ProbeCheck[];
  /** Why it failed, and what to distrust, in words; empty for a clean pass. */
  reasons: string[];
  /** Some check had fewer samples than its percentile needs. */
  low_samples: boolean;
  /** Open loop: no rate above this can pass (see CEILING_MARGIN); null when the probe showed no capacity. */
  ceiling_rps: number | null;
}

/** Samples an SLO's percentile needs: its distribution-free 95% interval; a bound on every request needs one. */
export function samplesNeeded(atPercentile: number): number {
  if (atPercentile <= 0 || atPercentile >= 100) return 1;
  return minSamplesForPercentile(atPercentile / 100, SAMPLE_CONFIDENCE);
}

/** The most samples any of these SLO percentiles needs. */
export function mostSamplesNeeded(atPercentiles: readonly number[]): number {
  return Math.max(1, ...atPercentiles.map(samplesNeeded));
}

/** Judges one iteration of a probe. */
export function judgeProbe(summary: IterationSummary): ProbeVerdict {
  const reasons: string[] = [];
  const checks: ProbeCheck[] = (summary.slo_checks ?? []).map((check) => ({
    ...check,
    samples_needed: samplesNeeded(check.at_percentile),
  }));
  if (checks.length === 0) reasons.push('no SLO was checked (the job has none)');
  for (const check of checks) {
    if (check.met === null) reasons.push(`${check.slo}: nothing measured`);
    else if (!check.met) {
      const errors = check.errored > 0 ? ` (${check.errored} errored requests count as misses)` : '';
      reasons.push(`${check.slo}: measured ${fmt(check.measured)}${errors}`);
    }
  }
  const low = checks.filter((c) => c.samples < c.samples_needed);
  for (const c of low) {
    reasons.push(`${c.slo}: too few samples (${c.samples} of the ${c.samples_needed} its percentile needs)`);
  }
  const dropped = summary.requests.dropped_arrivals;
  if (dropped > 0) reasons.push(`${dropped} arrivals dropped: the offered load was not sent`);
  const cut = summary.ended_by === 'interrupted' || summary.ended_by === 'fail_fast';
  if (cut) reasons.push(`ended by ${summary.ended_by}`);
  const pass = checks.length > 0 && checks.every((c) => c.met === true) && dropped === 0 && !cut;
  return {
    iteration: summary.iteration,
    pass,
    checks,
    reasons,
    low_samples: low.length > 0,
    ceiling_rps: pass ? null : ceilingOf(summary),
  };
}

/** An overloaded open loop's capacity, with its margin; null when it kept up with its offered rate. */
function ceilingOf(summary: IterationSummary): number | null {
  const offered = summary.rate_rps;
  const completed = summary.request_throughput_rps;
  if (summary.mode !== 'rate' || offered === null || completed === null) return null;
  if (completed >= OVERLOAD_SHARE * offered) return null;
  return completed * (1 + CEILING_MARGIN);
}

function fmt(value: number | null): string {
  return value === null ? 'nothing' : `${Math.round(value * 100) / 100} ms`;
}
