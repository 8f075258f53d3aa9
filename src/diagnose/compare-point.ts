/**
 * One workload point, current against baseline: which statistics moved (judged with the
 * registry's direction), whether the change is in the tail only or the whole
 * distribution, a request-level test per latency with its sample sizes (Mann–Whitney,
 * with the Hodges–Lehmann shift and its interval), the decomposition of TTFT and E2E,
 * and the telemetry that moved with it, scope by scope.
 */
import { METRICS } from '../metrics/definitions.js';
import { hodgesLehmannShift } from '../gate/stats/hodges-lehmann.js';
import { holmAdjust } from '../gate/stats/holm.js';
import { mannWhitneyU } from '../gate/stats/mann-whitney.js';
import type {
  ChangeShape,
  ChangeTest,
  Decomposition,
  EvidencePointer,
  OutlierRequest,
  StatChange,
  TelemetryMove,
} from './diagnosis.js';
import {
  familyMean,
  POINT_STATS,
  type PointRow,
  type RequestSample,
  type ScopedSeries,
} from './point-data.js';

/** A relative change below this is noise for a diagnosis, whatever its p-value. */
export const MIN_RELATIVE_CHANGE = 0.1;
/** Family-wise error rate of the request-level tests of one point (Holm). */
export const ALPHA = 0.001;
/** A telemetry move smaller than this (relative) is not reported. */
export const MIN_TELEMETRY_CHANGE = 0.2;
/** Requests per side the shift interval is computed from (pairwise differences grow as n·m). */
const MAX_TEST_SAMPLES = 1500;

/** The latencies a point is judged on, by registry name. */
const JUDGED = ['ttft', 'tpot', 'e2e_latency'] as const;
const SHOWN = ['ttft', 'tpot', 'itl', 'e2e_latency'] as const;

export function relativeChange(baseline: number | null, current: number | null): number | null {
  if (baseline === null || current === null || baseline === 0) return null;
  return current / baseline - 1;
}

function verdictOf(direction: string, change: number | null): StatChange['verdict'] {
  if (change === null || Math.abs(change) < MIN_RELATIVE_CHANGE || direction === 'neutral') return 'same';
  return change > 0 === (direction === 'lower') ? 'worse' : 'better';
}

/** The stat changes of the shown latencies. */
export function statChanges(current: PointRow, baseline: PointRow | null): StatChange[] {
  const out: StatChange[] = [];
  for (const name of SHOWN) {
    const def = METRICS[name];
    for (const stat of POINT_STATS) {
      const cur = current.latency[`${def.field}.${stat}`] ?? null;
      const base = baseline ? (baseline.latency[`${def.field}.${stat}`] ?? null) : null;
      const change = relativeChange(base, cur);
      out.push({
        metric: def.name,
        field: def.field,
        unit: def.unit,
        stat,
        baseline: base,
        current: cur,
        relative_change: change,
        verdict: verdictOf(def.direction, change),
      });
    }
  }
  return out;
}

/** Every k-th value, so a test's cost stays bounded while the sample keeps its shape. */
function thin(values: number[]): number[] {
  if (values.length <= MAX_TEST_SAMPLES) return values;
  const step = values.length / MAX_TEST_SAMPLES;
  return Array.from({ length: MAX_TEST_SAMPLES }, (_, i) => values[Math.floor(i * step)] as number);
}

/** A two-sided request-level test per judged latency, Holm-adjusted over the three. */
export function requestTests(current: RequestSample[], baseline: RequestSample[]): ChangeTest[] {
  const tests: ChangeTest[] = [];
  for (const name of JUDGED) {
    const field = METRICS[name].field as 'ttft_ms' | 'tpot_ms' | 'e2e_latency_ms';
    const x = current.map((r) => r[field]).filter((v): v is number => v !== null && Number.isFinite(v));
    const y = baseline.map((r) => r[field]).filter((v): v is number => v !== null && Number.isFinite(v));
    if (x.length < 2 || y.length < 2) {
      tests.push({
        method: 'requests',
        metric: name,
        samples_baseline: y.length,
        samples_current: x.length,
        shift: null,
        shift_low: null,
        shift_high: null,
        p_value: null,
        significant: false,
      });
      continue;
    }
    const p = mannWhitneyU(x, y, 'two-sided').p;
    const shift = hodgesLehmannShift(thin(x), thin(y), 0.99);
    tests.push({
      method: 'requests',
      metric: name,
      samples_baseline: y.length,
      samples_current: x.length,
      shift: shift.estimate,
      shift_low: Number.isFinite(shift.lower) ? shift.lower : null,
      shift_high: Number.isFinite(shift.upper) ? shift.upper : null,
      p_value: p,
      significant: false,
    });
  }
  const measured = tests.filter((t) => t.p_value !== null);
  const adjusted = holmAdjust(measured.map((t) => t.p_value as number));
  measured.forEach((t, i) => {
    t.p_value = adjusted[i] as number;
    t.significant = t.p_value < ALPHA;
  });
  return tests;
}

/** log P(X = i) for X ~ Binomial(n, q). */
function logBinomialTerm(i: number, n: number, q: number): number {
  let logC = 0;
  for (let j = 0; j < i; j++) logC += Math.log(n - j) - Math.log(j + 1);
  return logC + i * Math.log(q) + (n - i) * Math.log1p(-q);
}

/**
 * P(X ≥ k) for X ~ Binomial(n, q). Below the mean it is 1 − P(X < k), summed over the few
 * terms under k; above it the terms only fall, so the sum stops once they no longer count.
 */
export function binomialUpperTail(k: number, n: number, q: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  const ratio = (i: number): number => Math.log(n - i) - Math.log(i + 1) + Math.log(q) - Math.log1p(-q);
  if (k <= n * q) {
    let below = 0;
    let logTerm = logBinomialTerm(0, n, q);
    for (let i = 0; i < k; i++) {
      below += Math.exp(logTerm);
      logTerm += ratio(i);
    }
    return Math.max(0, Math.min(1, 1 - below));
  }
  let logTerm = logBinomialTerm(k, n, q);
  let sum = 0;
  for (let i = k; i <= n; i++) {
    sum += Math.exp(logTerm);
    if (logTerm < Math.log(sum) - 40) break;
    logTerm += ratio(i);
  }
  return Math.min(1, sum);
}

/** Requests a side needs before its p99 is a threshold worth testing against. */
export const MIN_TAIL_SAMPLES = 50;

/**
 * A tail test per judged latency: how many current requests exceed the baseline's p99,
 * against what no change predicts. A new value exceeds the r-th smallest of m baseline
 * values with probability (m − r + 1) / (m + 1) (about 1 % for a p99 of many; 1/6 for the
 * max of 5), so the count is tested as a binomial tail with that share. A rank test over
 * every request cannot see a change in a few percent of them; this one can.
 */
export function tailTests(current: RequestSample[], baseline: RequestSample[]): ChangeTest[] {
  const tests: ChangeTest[] = [];
  for (const name of JUDGED) {
    const field = METRICS[name].field as 'ttft_ms' | 'tpot_ms' | 'e2e_latency_ms';
    const x = current.map((r) => r[field]).filter((v): v is number => v !== null && Number.isFinite(v));
    const y = baseline
      .map((r) => r[field])
      .filter((v): v is number => v !== null && Number.isFinite(v))
      .sort((a, b) => a - b);
    if (x.length < MIN_TAIL_SAMPLES || y.length < MIN_TAIL_SAMPLES) continue;
    const rank = Math.min(y.length, Math.ceil(0.99 * y.length));
    const p99 = y[rank - 1] as number;
    const share = (y.length - rank + 1) / (y.length + 1);
    const above = x.filter((v) => v > p99).length;
    const p = binomialUpperTail(above, x.length, share);
    tests.push({
      method: 'requests',
      metric: `${name}.tail`,
      samples_baseline: y.length,
      samples_current: x.length,
      shift: null,
      shift_low: null,
      shift_high: null,
      p_value: p,
      significant: p < ALPHA,
    });
  }
  return tests;
}

const changeOf = (stats: StatChange[], metric: string, stat: string): number | null =>
  stats.find((s) => s.metric === metric && s.stat === stat)?.relative_change ?? null;

/**
 * Whether the point changed (a judged latency moved by at least MIN_RELATIVE_CHANGE at its
 * median, tail or mean, and its test says so; or throughput moved that much), and how.
 */
export function judgeChange(
  stats: StatChange[],
  tests: ChangeTest[],
  throughputChange: number | null,
): { changed: boolean; shape: ChangeShape } {
  let worseTail = false;
  let worseWhole = false;
  let better = false;
  for (const name of JUDGED) {
    const p50 = changeOf(stats, name, 'p50') ?? 0;
    const p99 = changeOf(stats, name, 'p99') ?? 0;
    const mean = changeOf(stats, name, 'mean') ?? 0;
    const whole = tests.find((t) => t.metric === name)?.significant ?? false;
    const tail = tests.find((t) => t.metric === `${name}.tail`)?.significant ?? false;
    // The median moved: the whole distribution shifted.
    if (whole && p50 >= MIN_RELATIVE_CHANGE) worseWhole = true;
    // The median held, the p99 rose far more than the mean: a few requests got much slower.
    else if (
      tail &&
      p50 < MIN_RELATIVE_CHANGE &&
      p99 >= MIN_RELATIVE_CHANGE * 3 &&
      p99 >= 3 * Math.max(0, mean)
    ) {
      worseTail = true;
    } else if (whole && mean >= MIN_RELATIVE_CHANGE * 1.5) worseWhole = true;
    else if (whole && Math.max(p50, p99, mean) <= -MIN_RELATIVE_CHANGE) better = true;
  }
  // A throughput drop counts where some latency test says the point really changed.
  const throughputDropped =
    throughputChange !== null && throughputChange <= -MIN_RELATIVE_CHANGE && tests.some((t) => t.significant);
  if (worseWhole || (throughputDropped && !worseTail)) return { changed: true, shape: 'whole-distribution' };
  if (worseTail) return { changed: true, shape: 'tail-only' };
  if (better) return { changed: true, shape: 'improved' };
  return { changed: false, shape: 'unchanged' };
}

const meanOf = (values: (number | null)[]): number | null => {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
};

/** TTFT and E2E in parts: client queue, server queue, prefill, decode (means, ms). */
export function decompose(
  point: PointRow,
  requests: RequestSample[],
  telemetry: ScopedSeries[],
): Decomposition {
  const ttft = meanOf(requests.map((r) => r.ttft_ms)) ?? point.latency['ttft_ms.mean'] ?? null;
  const e2e = meanOf(requests.map((r) => r.e2e_latency_ms)) ?? point.latency['e2e_latency_ms.mean'] ?? null;
  const serverQueueS = familyMean(telemetry, 'server_queue_time', 'server');
  const prefillS = familyMean(telemetry, 'server_prefill_time', 'server');
  const server_queue_ms = serverQueueS === null ? null : serverQueueS * 1000;
  let prefill_ms = prefillS === null ? null : prefillS * 1000;
  if (prefill_ms === null && ttft !== null && server_queue_ms !== null)
    prefill_ms = Math.max(0, ttft - server_queue_ms);
  return {
    client_queue_ms: meanOf(requests.map((r) => r.client_queue_ms)),
    server_queue_ms,
    prefill_ms,
    decode_ms: ttft !== null && e2e !== null ? e2e - ttft : null,
    ttft_ms: ttft,
    e2e_latency_ms: e2e,
  };
}

/** A pointer to a window's raw scrape. */
function scrapePointer(runId: string, series: ScopedSeries, path: string): EvidencePointer {
  return {
    run_id: runId,
    path,
    label: `scrape of ${series.family} at ${series.scope === series.scope_id ? series.scope : `${series.scope} ${series.scope_id}`}`,
  };
}

/** The most telling windows' scrapes: the highest and lowest value, at most 2 pointers. */
function windowEvidence(series: ScopedSeries): EvidencePointer[] {
  const withPath = series.windows.filter((w) => w.source_path !== null);
  if (withPath.length === 0) return [];
  const sorted = [...withPath].sort((a, b) => a.value - b.value);
  const picks = [sorted[sorted.length - 1], sorted[0]].filter((w, i, all) => w && all.indexOf(w) === i);
  return picks.map((w) => scrapePointer(series.run_id, series, w!.source_path as string));
}

/** Telemetry series of the current point that moved against the baseline's same family and scope. */
export function telemetryMoves(current: ScopedSeries[], baseline: ScopedSeries[] | null): TelemetryMove[] {
  const moves: TelemetryMove[] = [];
  for (const series of current) {
    const sameId =
      baseline === null
        ? null
        : baseline.filter(
            (b) => b.family === series.family && b.scope === series.scope && b.scope_id === series.scope_id,
          );
    // Another GPU, node or pod name in the baseline (a new deployment): its scope's mean over all of them.
    const base =
      baseline !== null && sameId !== null && sameId.length === 0
        ? baseline.filter((b) => b.family === series.family && b.scope === series.scope)
        : sameId;
    const baseMean = base && base.length > 0 ? base.reduce((a, b) => a + b.mean, 0) / base.length : null;
    const change = relativeChange(baseMean, series.mean);
    const appeared = baseMean === 0 && series.mean > 0;
    const moved =
      baseline === null ? false : appeared || (change !== null && Math.abs(change) >= MIN_TELEMETRY_CHANGE);
    if (!moved) continue;
    moves.push({
      family: series.family,
      unit: series.unit,
      scope: series.scope,
      scope_id: series.scope_id,
      node_name: series.node_name,
      baseline: baseMean,
      current: series.mean,
      relative_change: change,
      windows: series.windows.map((w) => ({ start_us: w.start_us, end_us: w.end_us, value: w.value })),
      evidence: windowEvidence(series),
    });
  }
  // Biggest moves first; the list is for people.
  return moves.sort((a, b) => Math.abs(b.relative_change ?? 1e9) - Math.abs(a.relative_change ?? 1e9));
}

/** The slowest requests of the current point (by E2E, then TTFT), past its p99, at most `limit`. */
export function outliers(point: PointRow, requests: RequestSample[], limit = 5): OutlierRequest[] {
  const p99 = point.latency['e2e_latency_ms.p99'] ?? null;
  const ranked = requests
    .filter((r) => r.e2e_latency_ms !== null && (p99 === null || (r.e2e_latency_ms as number) >= p99))
    .sort((a, b) => (b.e2e_latency_ms as number) - (a.e2e_latency_ms as number))
    .slice(0, limit);
  return ranked.map((r) => ({
    request_id: r.request_id,
    trace_id: r.trace_id,
    ttft_ms: r.ttft_ms,
    e2e_latency_ms: r.e2e_latency_ms,
    evidence: requestPointer(r),
  }));
}

/** The request's record: its iteration's requests.jsonl at its line. */
export function requestPointer(r: RequestSample): EvidencePointer {
  return {
    run_id: r.run_id,
    path: `iterations/${String(r.iteration).padStart(3, '0')}/requests.jsonl`,
    line: r.line,
    label: `request ${r.request_id}${r.trace_id ? ` (trace ${r.trace_id})` : ''}`,
  };
}
