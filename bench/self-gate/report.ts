/**
 * The self-gate's report for people: a table of every metric (value, the budget
 * that applies, the verdict, and the checked-in baseline for reference), then a
 * block per failure in the harness document's verbose style: the failing metric
 * and threshold, and the context that explains it (client CPU and event loop,
 * timing truth, RSS, retention, rollover and prune counts), with what to tune.
 */
import { median, type BudgetCheck } from '../../src/gate/checks.js';
import type { MetricDef, Measurements } from './metrics.js';
import type { OverheadRow } from './overhead.js';
import type { SoakConfig } from './soak.js';

export interface ReportInput {
  profile: string;
  values: Map<string, number[]>;
  defs: Map<string, MetricDef>;
  checks: BudgetCheck[];
  measurements: Measurements;
  soakConfig: SoakConfig;
  budgetsPath: string;
  /** Baseline medians by key, shown for reference (not gated). */
  baseline: Map<string, number> | null;
  machine: string;
}

export interface FailureDiagnostic {
  key: string;
  message: string;
  context: string[];
  tune: string;
}

const MIB = 2 ** 20;

/** A value in its unit, for people: bytes in MiB, counts with separators, times to a useful precision. */
export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return String(value);
  // Two decimals under 100 MiB: a retained total just under its limit must not read as on it.
  if (unit === 'bytes') return `${(value / MIB).toFixed(Math.abs(value) < 100 * MIB ? 2 : 1)} MiB`;
  if (['requests', 'records', 'segments', 'files', 'rollovers'].includes(unit))
    return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
  if (unit === 'records/s') return `${Math.round(value).toLocaleString('en-US')} records/s`;
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
  return `${value.toFixed(digits)} ${unit}`;
}

function formatBudget(check: BudgetCheck, unit: string): string {
  if (check.min !== null && check.max !== null)
    return `${formatValue(check.min, unit)} … ${formatValue(check.max, unit)}`;
  if (check.max !== null) return `≤ ${formatValue(check.max, unit)}`;
  return `≥ ${formatValue(check.min as number, unit)}`;
}

/** The metrics table: every metric, budgeted or not (those without a budget are marked `-`). */
export function renderTable(input: ReportInput): string {
  const byKey = new Map(input.checks.map((c) => [c.key, c]));
  const header = ['metric', 'value', 'budget', 'verdict', ...(input.baseline ? ['baseline'] : [])];
  const rows = [...input.values.keys()].map((key) => {
    const unit = input.defs.get(key)?.unit ?? '';
    const samples = input.values.get(key) as number[];
    const check = byKey.get(key);
    const value = check?.value ?? median(samples);
    const spread =
      samples.length > 1
        ? ` (${samples.length}×: ${samples.map((s) => formatValue(s, unit).split(' ')[0]).join(', ')})`
        : '';
    const base = input.baseline?.get(key);
    return [
      key,
      `${formatValue(value, unit)}${spread}`,
      check ? formatBudget(check, unit) : '-',
      check ? (check.verdict === 'PASS' ? 'pass' : 'FAIL') : '-',
      ...(input.baseline ? [base === undefined ? '-' : formatValue(base, unit)] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 1 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number): string => formatValue(bytes, 'bytes');
const ms = (v: number | null, digits = 2): string => (v === null ? '-' : v.toFixed(digits));

function clientContext(rows: OverheadRow[]): string[] {
  const levels = [...new Set(rows.map((r) => r.streams))].sort((a, b) => a - b);
  const per = levels.map((level) => {
    const at = rows.filter((r) => r.streams === level);
    const med = (f: (r: OverheadRow) => number): number => median(at.map(f));
    const systemPct =
      (100 * med((r) => r.cpu_system_us)) /
      Math.max(
        1,
        med((r) => r.cpu_user_us + r.cpu_system_us),
      );
    return [
      `c${level}: ${ms(med((r) => r.cpu_us_per_token))} µs/token (undici floor ${ms(
        med((r) => r.floor_cpu_us_per_token),
      )})`,
      `${ms(
        med((r) => r.cpu_us_per_request),
        0,
      )} µs/request (${systemPct.toFixed(0)}% system)`,
      `${ms(
        med((r) => r.wall_ms_per_request),
        3,
      )} ms wall/request`,
      `event-loop p99 ${ms(
        med((r) => r.event_loop_p99_ms ?? Number.NaN),
        1,
      )} ms`,
    ].join(', ');
  });
  const requests = rows.reduce((t, r) => t + r.requests, 0);
  const errored = rows.reduce((t, r) => t + r.errored, 0);
  return [
    `client CPU (median of repeats) ${per.join('; ')}`,
    `client: ${count(requests)} requests over ${rows.length} iterations, ${errored} errored`,
  ];
}

function timingContext(m: Measurements): string[] {
  const t = m.timing;
  const { ttft_ms_p50, ttft_ms_p99, tpot_ms_p50, tpot_ms_p99 } = t.measured;
  return [
    `timing: simulator TTFT ${t.ttft_ms} ms, ITL ${t.itl_ms} ms (no jitter, no batch slowdown); ` +
      `c${t.concurrency}, ${t.requests} measured requests, ${t.errored} errored`,
    `timing: measured TTFT p50 ${ms(ttft_ms_p50)} / p99 ${ms(ttft_ms_p99)} ms, ` +
      `TPOT p50 ${ms(tpot_ms_p50)} / p99 ${ms(tpot_ms_p99)} ms; client event-loop p99 ${ms(t.event_loop_p99_ms)} ms`,
  ];
}

function soakContext(m: Measurements, config: SoakConfig): string[] {
  const { soak: s } = m;
  const { rss } = s;
  return [
    `soak: ${count(s.records_written)} records = ${s.equivalent_hours.toFixed(1)} h at ${config.referenceRps} req/s ` +
      `(24h-equivalent ${count(s.records_24h_equiv)}) in ${s.wall_s.toFixed(1)} s, ` +
      `${count(s.records_per_s)} records/s, ${s.errored_records} errored`,
    `RSS: before soak ${mib(rss.before_soak_bytes)}, baseline ${mib(rss.baseline_bytes)}, end ${mib(rss.end_bytes)}, ` +
      `peak Δ ${mib(rss.max_delta_bytes)}; growth ${mib(rss.growth_per_24h_equiv_bytes)} per 24h-equivalent ` +
      `(heap ${mib(rss.heap_growth_per_24h_equiv_bytes)}), end − baseline ${mib(rss.growth_bytes)} ` +
      `over ${count(rss.records_after_baseline)} records`,
    `retention: kept ${s.final_retained_segments} segments, ${s.final_retained_files} files, ` +
      `${mib(s.final_retained_bytes)} (limits ${config.retentionMaxSegments} segments / ${mib(config.retentionMaxBytes)}); ` +
      `${s.unverified_segments} kept segments fail verification`,
    `churn: ${s.segments_written} segments of ≤ ${count(config.rolloverRecords)} records written ` +
      `(${mib(s.written_bytes)}), ${s.rollover_count} rollovers, ${s.pruned_segment_count} pruned (${mib(s.pruned_bytes)})`,
  ];
}

const TUNE: Record<string, string> = {
  client:
    'tune: the request path (npm run bench:client compares it with parse-nothing floors); check the machine is idle and not CPU-throttled',
  timing:
    'tune: a late stamp is client delay: event-loop stalls (GC, synchronous work on the request path) or CPU contention with the simulator',
  'soak.rss':
    'tune: look for state kept per record or per segment (records held after an iteration, listeners, caches); the heap figure separates JS objects from native memory',
  'soak.retention':
    'tune in this order: rollover records per segment, retention segment and byte limits (the soak profile), then the record size',
  soak: 'tune: a slow or failing sink: disk speed, the records writer, the simulator at zero delay',
};

function tuneFor(key: string): string {
  if (key.startsWith('client.')) return TUNE.client as string;
  if (key.startsWith('timing.')) return TUNE.timing as string;
  if (/rss|heap/.test(key)) return TUNE['soak.rss'] as string;
  if (/retained|rollover|pruned|unverified/.test(key)) return TUNE['soak.retention'] as string;
  return TUNE.soak as string;
}

/** Each failing check with its threshold, the context that explains it, and what to tune. */
export function failureDiagnostics(input: ReportInput): FailureDiagnostic[] {
  return input.checks
    .filter((c) => c.verdict === 'FAIL')
    .map((c) => {
      const unit = input.defs.get(c.key)?.unit ?? '';
      const bound =
        c.max !== null && c.value > c.max
          ? `> max ${formatValue(c.max, unit)}`
          : `< min ${formatValue(c.min as number, unit)}`;
      const context = [`profile ${input.profile}; ${input.machine}`];
      if (c.key.startsWith('client.')) context.push(...clientContext(input.measurements.overhead.rows));
      else if (c.key.startsWith('timing.')) context.push(...timingContext(input.measurements));
      else context.push(...soakContext(input.measurements, input.soakConfig));
      const base = input.baseline?.get(c.key);
      if (base !== undefined)
        context.push(`baseline (reference machine, not gated): ${formatValue(base, unit)}`);
      return {
        key: c.key,
        message: `FAIL ${c.key} = ${formatValue(c.value, unit)} ${bound} (budget "${c.budget}" in ${input.budgetsPath}): ${input.defs.get(c.key)?.description ?? ''}`,
        context,
        tune: tuneFor(c.key),
      };
    });
}

/** Failure blocks as text. */
export function renderFailures(failures: FailureDiagnostic[]): string {
  return failures
    .map((f) => [f.message, ...f.context.map((line) => `  ${line}`), `  ${f.tune}`].join('\n'))
    .join('\n\n');
}

/** The context of every phase, printed under the table whatever the verdict. */
export function renderContext(input: ReportInput): string {
  return [
    ...clientContext(input.measurements.overhead.rows),
    ...timingContext(input.measurements),
    ...soakContext(input.measurements, input.soakConfig),
  ].join('\n');
}
