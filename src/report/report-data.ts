/**
 * The report's evidence, read from the warehouse once as plain JSON: who ran what
 * where (provenance, digests, raw artifacts), every point's outcome (the median
 * over repeats when the subject is a run group), the chart series built from those
 * points, per-request distributions and one iteration's time series from
 * request_fact, and the deltas against a baseline. Every renderer (HTML, Markdown,
 * xlsx, the three views) works from this object and nothing else, and the HTML
 * embeds it, so a test can check any chart against the warehouse.
 */
import { ExitCode, InfermarkError } from '../base/errors.js';
import { columnMetric, COMPARED_COLUMNS, REPORT_POINT_COLUMNS } from '../metrics/definitions.js';
import { compareRuns, resolveRunId } from '../warehouse/queries.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import type { Row } from '../warehouse/sql.js';
import type { Asset, Tolerances } from '../gate/assets.js';
import type { Verdict } from '../gate/checks.js';
import { diagnose } from '../diagnose/diagnose.js';
import type { Diagnosis } from '../diagnose/diagnosis.js';
import { loadPrefixCache, type PointPrefixCache } from './report-prefix-cache.js';
import { gateKeyOf, gateVerdicts, type GateVerdicts } from './report-verdicts.js';
import { perTurnRows, type TurnRow } from './report-turns.js';

/** The point metrics a report shows (the registry's); the median over repeats for a run group. */
export const POINT_METRICS = REPORT_POINT_COLUMNS;
export type PointMetric = (typeof POINT_METRICS)[number];

/** One (scenario × concurrency|rate) point of a subject. */
export interface Point {
  scenario: string;
  mode: string;
  concurrency: number | null;
  rate_rps: number | null;
  /** How many runs (repeats) the medians come from. */
  repeats: number;
  /** The iteration of the subject's first run at this point (for drill-down). */
  iteration: number;
  metrics: Record<PointMetric, number | null>;
  /** Each SLO as written, checked at its percentile; empty when the runs had none. */
  slos: PointSlo[];
  /** TTFT by prefix-cache state and the hit rate; absent when no request had a prefix group or cached count. */
  prefix_cache?: PointPrefixCache;
}

/** One SLO at one point: the measured percentile (median over repeats) against its target. */
export interface PointSlo {
  /** Canonical text: `p99_ttft_ms<=500`. */
  slo: string;
  percentile: number | null;
  /** The percentile read (100 or 0 for an SLO without one: every request). */
  at_percentile: number;
  op: string;
  threshold: number;
  measured: number | null;
  repeats: number;
  /** Repeats in which it was met. */
  met_repeats: number;
  /** Met in every repeat; null when nothing was measured. */
  met: boolean | null;
}

/** What a report is about: one run, or every run of a run group. */
export interface Subject {
  label: string;
  kind: 'run' | 'run_group';
  id: string;
  run_ids: string[];
  runs: Row[];
  software: Row[];
  hardware: Row[];
  cluster: Row[];
  workloads: Row[];
  lineage: Row[];
  artifacts: Row[];
  points: Point[];
}

export type XY = [number, number | null];

export interface ChartSeries {
  label: string;
  points: XY[];
  /** Pareto charts: the points on the frontier (higher throughput, lower latency), in x order. */
  frontier?: XY[];
}

export interface Chart {
  id: string;
  title: string;
  scenario: string | null;
  x: string;
  y: string;
  kind: 'line' | 'scatter' | 'step';
  /** How the series were derived, in words (shown under the chart). */
  note?: string;
  series: ChartSeries[];
}

export interface Distribution {
  run_id: string;
  iteration: number;
  scenario: string;
  concurrency: number | null;
  rate_rps: number | null;
}

export interface Delta {
  scenario: string;
  mode: string;
  concurrency: number | null;
  rate_rps: number | null;
  metric: string;
  a: number | null;
  b: number | null;
  change_pct: number | null;
  /** 'better' | 'worse' | 'same' (within 5 %) for the direction that is good for the metric. */
  verdict: 'better' | 'worse' | 'same' | 'n/a';
  /** The gate's verdict for this delta's key (`gate.rows`), when the report has gate verdicts. */
  gate_verdict?: Verdict | null;
}

export interface ReportData {
  format_version: 1;
  generated_at: string;
  subject: Subject;
  baseline: Subject | null;
  charts: Chart[];
  /** The point the distributions and the time series are drawn for. */
  drilldown: Distribution | null;
  deltas: Delta[];
  /** Where the deltas came from: warehouse compareRuns (two runs) or medians of groups. */
  deltas_source: 'compareRuns' | 'group-medians' | null;
  /** With a baseline: the gate's verdicts per key (B against A), or why there are none. */
  gate: GateVerdicts | null;
  /** The drill-down point's slowest requests by TTFT (with trace ids), and its failed ones. */
  slow_requests: Row[];
  /** The subject diagnosed (against the baseline when given); null for a run group, absent in older data. */
  diagnosis?: Diagnosis | null;
  /** Multi-turn runs: TTFT by turn index (report-turns.ts); absent for other runs. */
  per_turn?: TurnRow[];
}

const ID_PATTERN = /^[0-9a-zA-Z._:-]{4,80}$/;

function badInput(code: string, message: string): InfermarkError {
  return new InfermarkError(code, message, ExitCode.badInput);
}

/** A run_id (or unique prefix) → that run; a run_group_id → all its runs. */
export async function resolveSubject(
  warehouse: Warehouse,
  id: string,
): Promise<{ kind: 'run' | 'run_group'; id: string; run_ids: string[] }> {
  if (!ID_PATTERN.test(id)) {
    throw badInput(
      'E_BAD_RUN_ID',
      `run or run group "${id.slice(0, 80)}": expected a run_id, a run_group_id or a prefix of at least 4 characters (letters, digits, . _ : -)`,
    );
  }
  const exact = await warehouse.all('SELECT run_id FROM benchmark_run_fact WHERE run_id = $1', [id]);
  if (exact.length === 0) {
    const group = await warehouse.all(
      'SELECT run_id FROM benchmark_run_fact WHERE run_group_id = $1 ORDER BY started_at, run_id',
      [id],
    );
    if (group.length > 0) return { kind: 'run_group', id, run_ids: group.map((r) => String(r.run_id)) };
  }
  const runId = await resolveRunId(warehouse, id);
  return { kind: 'run', id: runId, run_ids: [runId] };
}

async function loadSubject(warehouse: Warehouse, id: string, label: string): Promise<Subject> {
  const resolved = await resolveSubject(warehouse, id);
  const ids = resolved.run_ids;
  const inList = `(${ids.map((_, i) => `$${i + 1}`).join(', ')})`;
  const q = async (sql: string): Promise<Row[]> => (await warehouse.json(sql, ids)).rows;
  const runs = await q(
    `SELECT * FROM benchmark_run_fact WHERE run_id IN ${inList} ORDER BY started_at, run_id`,
  );
  const dim = async (table: string, key: string): Promise<Row[]> =>
    q(
      `SELECT DISTINCT d.* FROM ${table} d JOIN benchmark_run_fact r ON r.${key} = d.${key}
       WHERE r.run_id IN ${inList} ORDER BY d.${key}`,
    );
  const points = await loadPoints(warehouse, ids);
  return {
    label,
    ...resolved,
    runs,
    software: await dim('software_version_dim', 'software_version_id'),
    hardware: await dim('hardware_topology_dim', 'hardware_topology_id'),
    cluster: await dim('cluster_region_dim', 'cluster_region_id'),
    workloads: await q(
      `SELECT DISTINCT w.workload_spec_digest, w.kind, w.task, w.tokenizer, w.seed, w.model, w.protocol, w.description
       FROM workload_dim w JOIN serving_outcome_fact o USING (workload_spec_digest)
       WHERE o.run_id IN ${inList} ORDER BY w.workload_spec_digest`,
    ),
    lineage: await q(`SELECT * FROM artifact_lineage_dim WHERE run_id IN ${inList} ORDER BY run_id`),
    artifacts: await q(
      `SELECT run_id, path, size_bytes, sha256 FROM run_artifact WHERE run_id IN ${inList} ORDER BY run_id, path`,
    ),
    points,
  };
}

/** The SQL of a subject's points: each metric's median over the runs (one run: its value). */
export function pointsSql(runCount: number): string {
  const inList = Array.from({ length: runCount }, (_, i) => `$${i + 1}`).join(', ');
  return `SELECT scenario, mode, concurrency, rate_rps, count(*) AS repeats, min(iteration) AS iteration,
    ${POINT_METRICS.map((m) => `median(${m})::DOUBLE AS ${m}`).join(',\n    ')}
  FROM serving_outcome_fact WHERE run_id IN (${inList})
  GROUP BY scenario, mode, concurrency, rate_rps
  ORDER BY min(iteration), scenario, mode, concurrency, rate_rps`;
}

/** The SQL of a subject's SLO checks per point and SLO: the median measured value, and in how many repeats it was met. */
export function sloChecksSql(runCount: number): string {
  const inList = Array.from({ length: runCount }, (_, i) => `$${i + 1}`).join(', ');
  return `SELECT o.scenario, o.mode, o.concurrency, o.rate_rps, c.slo,
    any_value(c.percentile) AS percentile, any_value(c.at_percentile) AS at_percentile,
    any_value(c.op) AS op, any_value(c.threshold) AS threshold,
    median(c.measured)::DOUBLE AS measured, count(*) AS repeats,
    count_if(c.met) AS met_repeats, count_if(c.met IS NULL) AS unmeasured
  FROM slo_check_fact c JOIN serving_outcome_fact o USING (run_id, iteration)
  WHERE c.run_id IN (${inList})
  GROUP BY o.scenario, o.mode, o.concurrency, o.rate_rps, c.slo
  ORDER BY min(c.iteration), c.slo`;
}

const pointKey = (r: Row): string =>
  JSON.stringify([r.scenario, r.mode, num(r.concurrency), num(r.rate_rps)]);

async function loadPoints(warehouse: Warehouse, runIds: string[]): Promise<Point[]> {
  const { rows } = await warehouse.json(pointsSql(runIds.length), runIds);
  const slos = new Map<string, PointSlo[]>();
  for (const r of (await warehouse.json(sloChecksSql(runIds.length), runIds)).rows) {
    const repeats = Number(r.repeats);
    const metRepeats = Number(r.met_repeats);
    const list = slos.get(pointKey(r)) ?? [];
    list.push({
      slo: String(r.slo),
      percentile: num(r.percentile),
      at_percentile: Number(r.at_percentile),
      op: String(r.op),
      threshold: Number(r.threshold),
      measured: num(r.measured),
      repeats,
      met_repeats: metRepeats,
      met: Number(r.unmeasured) === repeats ? null : metRepeats === repeats,
    });
    slos.set(pointKey(r), list);
  }
  const prefixCache = await loadPrefixCache(warehouse, runIds, pointKey);
  return rows.map((r) => ({
    ...(prefixCache.has(pointKey(r)) ? { prefix_cache: prefixCache.get(pointKey(r))! } : {}),
    scenario: String(r.scenario),
    mode: String(r.mode),
    concurrency: num(r.concurrency),
    rate_rps: num(r.rate_rps),
    repeats: Number(r.repeats),
    iteration: Number(r.iteration),
    metrics: Object.fromEntries(POINT_METRICS.map((m) => [m, num(r[m])])) as Record<
      PointMetric,
      number | null
    >,
    slos: slos.get(pointKey(r)) ?? [],
  }));
}

function num(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** The load axis of a point: concurrency for closed loop, the request rate for open loop. */
export function loadOf(p: Pick<Point, 'concurrency' | 'rate_rps'>): number {
  return p.concurrency ?? p.rate_rps ?? 0;
}

export function scenariosOf(subjects: Subject[]): string[] {
  return [...new Set(subjects.flatMap((s) => s.points.map((p) => p.scenario)))];
}

/** Points on the Pareto frontier: no other point has at least the throughput at no more latency. */
export function paretoFrontier(points: XY[]): XY[] {
  const valid = points.filter((p): p is [number, number] => p[1] !== null);
  return valid
    .filter(([x, y]) => !valid.some(([x2, y2]) => x2 >= x && y2 <= y && (x2 > x || y2 < y)))
    .sort((a, b) => a[0] - b[0]);
}

function pointSeries(subject: Subject, scenario: string, metric: PointMetric, label: string): ChartSeries {
  return {
    label,
    points: subject.points
      .filter((p) => p.scenario === scenario)
      .map((p): XY => [loadOf(p), p.metrics[metric]])
      .sort((a, b) => a[0] - b[0]),
  };
}

/** The per-scenario charts; series are "<subject label> <metric>" for each subject. */
export function pointCharts(subjects: Subject[]): Chart[] {
  const charts: Chart[] = [];
  scenariosOf(subjects).forEach((scenario, i) => {
    const mode = subjects.flatMap((s) => s.points).find((p) => p.scenario === scenario)?.mode;
    const x = mode === 'rate' ? 'request rate (req/s)' : 'concurrency';
    const of = (metrics: [PointMetric, string][]): ChartSeries[] =>
      subjects.flatMap((s) => metrics.map(([m, name]) => pointSeries(s, scenario, m, `${s.label} ${name}`)));
    // The y axis is in the registry's unit of the chart's metrics (one unit per chart).
    const chart = (id: string, title: string, metrics: [PointMetric, string][], y?: string): Chart => ({
      id: `${id}-${i}`,
      title: `${title} — ${scenario}`,
      scenario,
      x,
      y: y ?? [...new Set(metrics.map(([m]) => columnMetric(m).unit))].join(', '),
      kind: 'line',
      series: of(metrics),
    });
    charts.push(
      chart('throughput', 'Output tokens/s', [['output_throughput_tokens_per_s', 'output tokens/s']]),
      chart('ttft', 'TTFT', [
        ['ttft_ms_p50', 'TTFT p50'],
        ['ttft_ms_p99', 'TTFT p99'],
      ]),
      chart('tpot', 'TPOT and ITL', [
        ['tpot_ms_p50', 'TPOT p50'],
        ['tpot_ms_p99', 'TPOT p99'],
        ['itl_ms_p99', 'ITL p99'],
      ]),
      chart('errors', 'Error rate', [['error_rate', 'error rate']], 'fraction of requests'),
      chart('goodput', 'Goodput (requests/s meeting the SLOs)', [
        ['goodput_rps', 'goodput'],
        ['request_throughput_rps', 'request throughput'],
      ]),
    );
    charts.push({
      id: `pareto-${i}`,
      title: `Latency vs throughput — ${scenario}`,
      scenario,
      x: 'output tokens/s',
      y: 'E2E latency p50 (ms)',
      kind: 'scatter',
      note: 'Each point is one concurrency/rate level; the frontier joins the points no other point beats on both throughput and latency.',
      series: subjects.map((s) => {
        const points = s.points
          .filter((p) => p.scenario === scenario && p.metrics.output_throughput_tokens_per_s !== null)
          .map((p): XY => [p.metrics.output_throughput_tokens_per_s as number, p.metrics.e2e_latency_ms_p50])
          .sort((a, b) => a[0] - b[0]);
        return { label: `${s.label}`, points, frontier: paretoFrontier(points) };
      }),
    });
  });
  return charts;
}

/** Measured requests of one iteration, in send order. */
export async function iterationRequests(
  warehouse: Warehouse,
  runId: string,
  iteration: number,
): Promise<Row[]> {
  return (
    await warehouse.json(
      `SELECT request_id, trace_id, status, error_class, sent_at_us::DOUBLE AS sent_at_us, ttft_ms, tpot_ms, itl_max_ms,
         e2e_latency_ms, output_tokens::DOUBLE AS output_tokens
       FROM request_fact WHERE run_id = $1 AND iteration = $2 AND phase = 'measured'
       ORDER BY sent_at_us, request_id`,
      [runId, iteration],
    )
  ).rows;
}

/**
 * An empirical CDF: each distinct value once, with the fraction of values ≤ it.
 * Ties are one point because a chart keys its points by x: a repeated x would
 * overwrite the earlier fraction (and the fraction ≤ x is the tie's last index).
 */
export function cdf(values: number[]): XY[] {
  const sorted = [...values].sort((a, b) => a - b);
  const points: XY[] = [];
  sorted.forEach((v, i) => {
    if (sorted[i + 1] !== v) points.push([v, (i + 1) / sorted.length]);
  });
  return points;
}

function finite(rows: Row[], key: string, ok = true): number[] {
  return rows
    .filter((r) => !ok || r.status === 'ok')
    .map((r) => r[key])
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}

/**
 * One iteration over time, in buckets from the first send: requests in flight at
 * each bucket's start (sent ≤ t < sent + e2e), output tokens of requests that
 * finished in the bucket per second, and errors sent in the bucket.
 */
export function timeSeries(rows: Row[], buckets = 40): { in_flight: XY[]; tokens_per_s: XY[]; errors: XY[] } {
  const spans = rows.map((r) => {
    const start = Number(r.sent_at_us) / 1000;
    const e2e = typeof r.e2e_latency_ms === 'number' ? r.e2e_latency_ms : null;
    return {
      start,
      end: e2e === null ? null : start + e2e,
      error: r.status !== 'ok',
      tokens: Number(r.output_tokens ?? 0),
    };
  });
  if (spans.length === 0) return { in_flight: [], tokens_per_s: [], errors: [] };
  const t0 = Math.min(...spans.map((s) => s.start));
  const t1 = Math.max(...spans.map((s) => s.end ?? s.start));
  const width = Math.max((t1 - t0) / buckets, 1e-3);
  const in_flight: XY[] = [];
  const tokens_per_s: XY[] = [];
  const errors: XY[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = t0 + b * width;
    const to = from + width;
    const x = round(from - t0);
    in_flight.push([x, spans.filter((s) => s.end !== null && s.start <= from && from < s.end).length]);
    const tokens = spans
      .filter((s) => !s.error && s.end !== null && s.end >= from && (s.end < to || b === buckets - 1))
      .reduce((sum, s) => sum + s.tokens, 0);
    tokens_per_s.push([x, round(tokens / (width / 1000))]);
    errors.push([
      x,
      spans.filter((s) => s.error && s.start >= from && (s.start < to || b === buckets - 1)).length,
    ]);
  }
  return { in_flight, tokens_per_s, errors };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The drill-down point: the given iteration of the subject's first run, else its highest load point. */
function pickDrilldown(subject: Subject, iteration?: number): Distribution | null {
  const runId = subject.run_ids[0];
  if (runId === undefined || subject.points.length === 0) return null;
  const point =
    iteration === undefined
      ? [...subject.points].sort((a, b) => loadOf(b) - loadOf(a) || a.iteration - b.iteration)[0]
      : subject.points.find((p) => p.iteration === iteration);
  if (!point) {
    throw badInput(
      'E_NO_ITERATION',
      `--iteration ${iteration}: run ${runId} has iterations ${subject.points.map((p) => p.iteration).join(', ')}`,
    );
  }
  return {
    run_id: runId,
    iteration: point.iteration,
    scenario: point.scenario,
    concurrency: point.concurrency,
    rate_rps: point.rate_rps,
  };
}

const SAME_WITHIN_PCT = 5;

/** A change judged by the metric's direction in the registry; a neutral metric has no better or worse. */
export function verdictOf(metric: string, changePct: number | null): Delta['verdict'] {
  if (changePct === null) return 'n/a';
  if (Math.abs(changePct) <= SAME_WITHIN_PCT) return 'same';
  const { direction } = columnMetric(metric);
  if (direction === 'neutral') return 'n/a';
  return changePct > 0 === (direction === 'higher') ? 'better' : 'worse';
}

/** compareRuns' wide rows (metric_a, metric_b, metric_change_pct) → one delta per metric. */
function deltasFromCompare(columns: string[], rows: Row[]): Delta[] {
  const metrics = columns
    .filter((c) => c.endsWith('_change_pct'))
    .map((c) => c.slice(0, -'_change_pct'.length));
  return rows.flatMap((r) =>
    metrics.map((metric) => {
      const change = num(r[`${metric}_change_pct`]);
      return {
        scenario: String(r.scenario),
        mode: String(r.mode),
        concurrency: num(r.concurrency),
        rate_rps: num(r.rate_rps),
        metric,
        a: num(r[`${metric}_a`]),
        b: num(r[`${metric}_b`]),
        change_pct: change,
        verdict: verdictOf(metric, change),
      };
    }),
  );
}

/** The metrics compared point by point: the same as `warehouse compare`. */
const COMPARED_METRICS: readonly PointMetric[] = COMPARED_COLUMNS;

/** The same deltas as compareRuns, from the medians of two subjects' points. */
function deltasFromPoints(a: Subject, b: Subject): Delta[] {
  const key = (p: Point): string => JSON.stringify([p.scenario, p.mode, p.concurrency, p.rate_rps]);
  const bByKey = new Map(b.points.map((p) => [key(p), p]));
  const keys = [...new Set([...a.points.map(key), ...b.points.map(key)])];
  const aByKey = new Map(a.points.map((p) => [key(p), p]));
  return keys.flatMap((k) => {
    const pa = aByKey.get(k);
    const pb = bByKey.get(k);
    const p = (pa ?? pb) as Point;
    return COMPARED_METRICS.map((metric) => {
      const va = pa?.metrics[metric] ?? null;
      const vb = pb?.metrics[metric] ?? null;
      const change =
        va === null || vb === null || va === 0 ? null : Math.round((10000 * (vb - va)) / va) / 100;
      return {
        scenario: p.scenario,
        mode: p.mode,
        concurrency: p.concurrency,
        rate_rps: p.rate_rps,
        metric,
        a: va,
        b: vb,
        change_pct: change,
        verdict: verdictOf(metric, change),
      };
    });
  });
}

export interface BuildOptions {
  vs?: string;
  /** The iteration of the subject's first run to draw distributions and the time series for. */
  iteration?: number;
  now?: Date;
  /** Tolerances for the gate verdicts of `--vs` (default: relative 0.05, alpha 0.01, min_repeats 5). */
  tolerances?: Asset<Tolerances>;
}

/** Everything a report shows, read from an open warehouse. */
export async function buildReportData(
  warehouse: Warehouse,
  id: string,
  options: BuildOptions = {},
): Promise<ReportData> {
  const subject = await loadSubject(warehouse, id, options.vs === undefined ? 'run' : 'B');
  const baseline = options.vs === undefined ? null : await loadSubject(warehouse, options.vs, 'A');
  if (baseline) subject.label = 'B';
  const subjects = baseline ? [baseline, subject] : [subject];
  const charts = pointCharts(subjects);
  const drilldown = pickDrilldown(subject, options.iteration);
  let slowRequests: Row[] = [];
  if (drilldown) {
    const where = `${drilldown.scenario} @ ${drilldown.concurrency ?? `${drilldown.rate_rps} req/s`} (run ${drilldown.run_id}, iteration ${drilldown.iteration})`;
    const rows = await iterationRequests(warehouse, drilldown.run_id, drilldown.iteration);
    charts.push(
      {
        id: 'ttft-cdf',
        title: `TTFT CDF — ${where}`,
        scenario: drilldown.scenario,
        x: 'TTFT (ms)',
        y: 'fraction of requests',
        kind: 'step',
        note: 'request_fact.ttft_ms of the measured, successful requests.',
        series: [{ label: 'TTFT', points: cdf(finite(rows, 'ttft_ms')) }],
      },
      {
        id: 'itl-cdf',
        title: `ITL CDF — ${where}`,
        scenario: drilldown.scenario,
        x: 'ms',
        y: 'fraction of requests',
        kind: 'step',
        note: 'Per-request ITL: request_fact.tpot_ms (mean gap after the first token) and itl_max_ms (largest gap); single gaps are not stored per request.',
        series: [
          { label: 'TPOT (mean ITL per request)', points: cdf(finite(rows, 'tpot_ms')) },
          { label: 'max ITL per request', points: cdf(finite(rows, 'itl_max_ms')) },
        ],
      },
    );
    slowRequests = [
      ...rows.filter((r) => r.status !== 'ok'),
      ...rows
        .filter((r) => r.status === 'ok' && typeof r.ttft_ms === 'number')
        .sort((a, b) => Number(b.ttft_ms) - Number(a.ttft_ms)),
    ].slice(0, 5);
    const ts = timeSeries(rows);
    charts.push({
      id: 'timeseries',
      title: `Over time — ${where}`,
      scenario: drilldown.scenario,
      x: 'ms since the first send',
      y: 'count, tokens/s',
      kind: 'line',
      note: 'In flight: requests whose [sent, sent + e2e] holds the bucket start; tokens/s: output tokens of requests finishing in the bucket; errors: failed requests sent in the bucket.',
      series: [
        { label: 'requests in flight', points: ts.in_flight },
        { label: 'output tokens/s', points: ts.tokens_per_s },
        { label: 'errors', points: ts.errors },
      ],
    });
  }
  let deltas: Delta[] = [];
  let deltasSource: ReportData['deltas_source'] = null;
  let gate: GateVerdicts | null = null;
  if (baseline) {
    if (baseline.kind === 'run' && subject.kind === 'run') {
      const compared = await compareRuns(warehouse, baseline.id, subject.id);
      deltas = deltasFromCompare(compared.columns, compared.rows);
      deltasSource = 'compareRuns';
    } else {
      deltas = deltasFromPoints(baseline, subject);
      deltasSource = 'group-medians';
    }
    gate = await gateVerdicts(warehouse, baseline, subject, options.tolerances);
    if (gate.status === 'ok') {
      const byKey = new Map(gate.rows.map((r) => [r.key, r.verdict]));
      for (const d of deltas) d.gate_verdict = byKey.get(gateKeyOf(d)) ?? null;
    }
  }
  // diagnose() compares runs: a run group (either side) gets none, and the report says why.
  const diagnosis =
    subject.kind === 'run' && (baseline === null || baseline.kind === 'run')
      ? await diagnose(warehouse, { runId: subject.id, ...(baseline ? { baselineRunId: baseline.id } : {}) })
      : null;
  const perTurn = await perTurnRows(warehouse, subject);
  return {
    format_version: 1,
    generated_at: (options.now ?? new Date()).toISOString(),
    subject,
    baseline,
    charts,
    drilldown,
    deltas,
    deltas_source: deltasSource,
    gate,
    slow_requests: slowRequests,
    diagnosis,
    ...(perTurn.length > 0 ? { per_turn: perTurn } : {}),
  };
}
