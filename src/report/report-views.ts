/**
 * Stakeholder views (performance-warehouse.md): the same evidence rendered for
 * engineering (traces, metrics, a narrow hypothesis, a minimal repro, a proposed
 * experiment), product (impact on latency, throughput, reliability and cost,
 * confidence, next step) and partners (what is ours and what is upstream, the
 * smallest repro and change). Each view is a list of sections of plain text that
 * the HTML and Markdown renderers lay out; nothing here reads the warehouse.
 */
import type { Row } from '../warehouse/sql.js';
import { knees } from '../diagnose/knee.js';
import {
  loadOf,
  type Delta,
  type Point,
  type PointSlo,
  type ReportData,
  type Subject,
} from './report-data.js';

export const VIEWS = ['engineering', 'product', 'partner'] as const;
export type View = (typeof VIEWS)[number];

export interface ViewSection {
  heading: string;
  items: string[];
  /** A shell command to show as code (the repro). */
  code?: string;
}

const fmt = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(digits);

export function pointName(p: Pick<Point, 'scenario' | 'concurrency' | 'rate_rps'>): string {
  return p.concurrency !== null
    ? `${p.scenario} @ concurrency ${p.concurrency}`
    : `${p.scenario} @ ${p.rate_rps} req/s`;
}

/** The SLO table's columns: each SLO as written, at each point, met or not. */
export const SLO_HEADERS = ['point', 'SLO', 'measured', 'target', 'result'];

/** `p99`, or `max` / `min` for an SLO without a percentile (every request must meet it). */
function sloPercentileLabel(s: PointSlo): string {
  if (s.percentile === null) return s.at_percentile === 0 ? 'min' : 'max';
  return `p${s.percentile}`;
}

/** `met`, `NOT MET`, or for a run group how many repeats met it. */
export function sloResult(s: PointSlo): string {
  const verdict = s.met === null ? 'not measured' : s.met ? 'met' : 'NOT MET';
  return s.repeats > 1 ? `${verdict} (met in ${s.met_repeats} of ${s.repeats} repeats)` : verdict;
}

/** One row per point and SLO (SLO_HEADERS); the measured value is the median over repeats. */
export function sloRows(subject: Subject): Array<{ cells: string[]; slo: PointSlo }> {
  return subject.points.flatMap((p) =>
    p.slos.map((s) => ({
      slo: s,
      cells: [
        pointName(p),
        s.slo,
        `${sloPercentileLabel(s)} ${fmt(s.measured, 2)} ms`,
        `${s.op} ${s.threshold} ms`,
        sloResult(s),
      ],
    })),
  );
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** `infermark run ...` for one point of a subject, rebuilt from the warehouse's facts. */
export function reproCommand(subject: Subject, point?: Point): string {
  const run = subject.runs[0] ?? {};
  const workload = subject.workloads.find((w) => w.kind === 'iteration') ?? {};
  const points = point ? [point] : subject.points;
  const args = ['infermark', 'run'];
  if (run.endpoint_base_url) args.push('--url', String(run.endpoint_base_url));
  if (run.model) args.push('--model', String(run.model));
  const api = String(run.backend ?? '');
  if (api === 'openai-chat') args.push('--api', 'chat');
  else if (api === 'openai-completions') args.push('--api', 'completions');
  // An OCI run also needs its signing flags (--oci-compartment ...), which the warehouse does not keep.
  else if (api.startsWith('oci-cohere-')) args.push('--api-format', 'oci-cohere');
  else if (api.startsWith('cohere-')) args.push('--api-format', 'cohere');
  if (run.task && run.task !== 'text-to-text') args.push('--task', String(run.task));
  for (const scenario of new Set(points.map((p) => p.scenario))) args.push('--scenario', scenario);
  const concurrency = [...new Set(points.filter((p) => p.concurrency !== null).map((p) => p.concurrency))];
  const rates = [...new Set(points.filter((p) => p.concurrency === null).map((p) => p.rate_rps))];
  if (concurrency.length > 0) args.push('--concurrency', concurrency.join(','));
  if (rates.length > 0) args.push('--rate', rates.join(','));
  const measured = Math.max(...points.map((p) => p.metrics.requests_measured ?? 0));
  if (measured > 0) args.push('--max-requests', String(measured));
  if (workload.seed !== null && workload.seed !== undefined) args.push('--seed', String(workload.seed));
  if (workload.tokenizer) args.push('--tokenizer', String(workload.tokenizer));
  if (subject.kind === 'run_group') args.push('--repeats', String(subject.run_ids.length));
  return args.map(shellQuote).join(' ');
}

/**
 * The subject's run status as a person reads it: `complete`, `failed`, or for a group
 * with mixed statuses `complete ×2, failed ×1`. A failed run's figures are what it
 * measured before it failed, and must not pass for a whole run's.
 */
export function subjectStatus(subject: Pick<Subject, 'runs'>): string {
  const counts = new Map<string, number>();
  for (const run of subject.runs) {
    const status = String(run.status ?? 'unknown');
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  if (counts.size <= 1) return [...counts.keys()][0] ?? 'unknown';
  return [...counts].map(([status, n]) => `${status} ×${n}`).join(', ');
}

/** Where the raw evidence of a subject lies: each run's folders and uploads. */
export function rawLocations(subject: Subject): string[] {
  return subject.lineage.flatMap((l) =>
    (Array.isArray(l.raw_uris) ? (l.raw_uris as string[]) : []).map((uri) => `${String(l.run_id)}: ${uri}`),
  );
}

function worstDelta(deltas: Delta[]): Delta | undefined {
  return deltas
    .filter((d) => d.verdict === 'worse' && d.change_pct !== null)
    .sort((a, b) => Math.abs(b.change_pct as number) - Math.abs(a.change_pct as number))[0];
}

function bestDelta(deltas: Delta[]): Delta | undefined {
  return deltas
    .filter((d) => d.verdict === 'better' && d.change_pct !== null)
    .sort((a, b) => Math.abs(b.change_pct as number) - Math.abs(a.change_pct as number))[0];
}

/** The first point (by load) where errors appear, per scenario. */
function errorOnset(subject: Subject): Point | undefined {
  return [...subject.points]
    .sort((a, b) => loadOf(a) - loadOf(b))
    .find((p) => (p.metrics.error_rate ?? 0) > 0);
}

/** The saturation knee (diagnose/knee.ts, the one definition the diagnosis uses too). */
function knee(subject: Subject): Point | undefined {
  const levels = subject.points
    .filter((p) => p.mode === 'concurrency' && p.concurrency !== null)
    .map((p) => ({
      scenario: p.scenario,
      concurrency: p.concurrency as number,
      output_throughput_tokens_per_s: p.metrics.output_throughput_tokens_per_s ?? null,
      ttft_p50_ms: p.metrics.ttft_ms_p50 ?? null,
      point: p,
    }));
  return knees(levels)[0]?.knee.point;
}

function peak(subject: Subject): Point | undefined {
  return [...subject.points].sort(
    (a, b) =>
      (b.metrics.output_throughput_tokens_per_s ?? 0) - (a.metrics.output_throughput_tokens_per_s ?? 0),
  )[0];
}

function deltaPoint(subject: Subject, d: Delta): Point | undefined {
  return subject.points.find(
    (p) => p.scenario === d.scenario && p.concurrency === d.concurrency && p.rate_rps === d.rate_rps,
  );
}

function describeDelta(d: Delta): string {
  return `${d.metric} at ${pointName(d)}: ${fmt(d.a, 2)} → ${fmt(d.b, 2)} (${d.change_pct !== null && d.change_pct > 0 ? '+' : ''}${fmt(d.change_pct, 2)} %, ${d.verdict})`;
}

/** What describes upstream (engine, its version and image, GPU, driver) vs ours (deployment, client, job). */
export const UPSTREAM_FIELDS: [string, (s: Subject) => unknown][] = [
  ['engine', (s) => s.runs[0]?.engine],
  ['engine version', (s) => s.runs[0]?.engine_version],
  ['server engine (probed)', (s) => s.software[0]?.server_engine],
  ['server version (probed)', (s) => s.software[0]?.server_version],
  ['image digest', (s) => s.software[0]?.image_digest],
  ['GPU', (s) => s.runs[0]?.gpu_type ?? s.hardware[0]?.gpu_model],
  ['GPU count', (s) => s.runs[0]?.gpu_count ?? s.hardware[0]?.gpu_count],
  ['driver', (s) => s.software[0]?.driver_version],
  ['CUDA', (s) => s.software[0]?.cuda_version],
];
export const OURS_FIELDS: [string, (s: Subject) => unknown][] = [
  ['model', (s) => s.runs[0]?.model],
  ['endpoint', (s) => s.runs[0]?.endpoint_base_url],
  ['protocol', (s) => s.runs[0]?.backend],
  ['job', (s) => s.runs[0]?.job_name],
  ['job commit', (s) => s.runs[0]?.job_file_commit],
  ['workload digest', (s) => s.runs[0]?.workload_spec_digest],
  ['cluster', (s) => s.cluster[0]?.cluster],
  ['infermark', (s) => s.software[0]?.infermark_version],
  ['client CPU', (s) => s.hardware[0]?.client_cpu_model],
];

const show = (v: unknown): string => (v === null || v === undefined || v === '' ? 'unknown' : String(v));

function changedFields(fields: [string, (s: Subject) => unknown][], a: Subject, b: Subject): string[] {
  return fields
    .filter(([, get]) => show(get(a)) !== show(get(b)))
    .map(([name, get]) => `${name}: ${show(get(a))} → ${show(get(b))}`);
}

function confidence(data: ReportData): string {
  const subjects = [data.baseline, data.subject].filter((s): s is Subject => s !== null);
  const repeats = Math.min(...subjects.map((s) => s.run_ids.length));
  if (repeats < 3) {
    return `Low: ${repeats === 1 ? 'a single run' : `${repeats} repeats`} per side, so no confidence interval; differences under ~10 % may be noise.`;
  }
  if (data.gate?.status === 'ok') {
    const decided = data.gate.rows.filter((r) => r.verdict !== 'INCONCLUSIVE').length;
    return `Measured: medians of ${repeats} repeats per side, with the gate's verdicts and confidence intervals below (${decided} of ${data.gate.rows.length} keys decided).`;
  }
  return `Medium: medians of ${repeats} repeats per side; run the gate for confidence intervals before acting on small differences.`;
}

function engineering(data: ReportData): ViewSection[] {
  const { subject, baseline } = data;
  const sections: ViewSection[] = [];
  const worst = worstDelta(data.deltas);
  const hypothesis: string[] = [];
  if (baseline && worst) {
    const changed = [
      ...changedFields(UPSTREAM_FIELDS, baseline, subject),
      ...changedFields(OURS_FIELDS, baseline, subject),
    ];
    hypothesis.push(`Largest regression: ${describeDelta(worst)}.`);
    hypothesis.push(
      changed.length > 0
        ? `Between A and B these changed: ${changed.join('; ')}. Test them one at a time, starting with the first.`
        : 'Nothing recorded about the deployment changed between A and B: suspect noise or an unrecorded change; repeat both.',
    );
  } else if (baseline) {
    hypothesis.push('No metric got worse by more than 5 % at any common point.');
  } else {
    const onset = errorOnset(subject);
    const k = knee(subject);
    if (k)
      hypothesis.push(
        `Throughput stops scaling after ${pointName(k)}: the server saturates there (queueing, not compute, drives latency beyond it).`,
      );
    if (onset)
      hypothesis.push(
        `Errors begin at ${pointName(onset)} (error rate ${fmt(onset.metrics.error_rate, 3)}).`,
      );
    if (hypothesis.length === 0)
      hypothesis.push(
        'No saturation knee and no errors within the measured range: extend the concurrency range.',
      );
  }
  sections.push({ heading: 'Narrow hypothesis', items: hypothesis });
  const metrics = subject.points.map(
    (p) =>
      `${pointName(p)}: ${fmt(p.metrics.output_throughput_tokens_per_s)} tok/s, TTFT p50/p99 ${fmt(p.metrics.ttft_ms_p50)}/${fmt(p.metrics.ttft_ms_p99)} ms, TPOT p99 ${fmt(p.metrics.tpot_ms_p99, 2)} ms, errors ${fmt(p.metrics.error_rate, 3)}`,
  );
  sections.push({ heading: 'Metrics', items: metrics });
  const traces = data.slow_requests.map(
    (r: Row) =>
      `${String(r.request_id)} trace ${show(r.trace_id)}: ${String(r.status)}${r.error_class ? ` (${String(r.error_class)})` : ''}, TTFT ${fmt(r.ttft_ms as number | null, 2)} ms, e2e ${fmt(r.e2e_latency_ms as number | null, 2)} ms`,
  );
  if (data.drilldown) {
    sections.push({
      heading: `Traces (slowest and failed requests at ${pointName(data.drilldown)})`,
      items: traces.length > 0 ? traces : ['no measured requests'],
    });
  }
  sections.push({ heading: 'Raw evidence', items: rawLocations(subject) });
  const target =
    (worst && deltaPoint(subject, worst)) ?? knee(subject) ?? errorOnset(subject) ?? subject.points[0];
  sections.push({
    heading: `Minimal repro${target ? ` (${pointName(target)})` : ''}`,
    items: [],
    code: reproCommand(subject, target),
  });
  sections.push({
    heading: 'Proposed experiment',
    items: [
      target
        ? `Repeat ${pointName(target)} with --repeats 5 ${baseline ? 'on both A and B' : 'and one level above and below it'}, then run the gate for confidence intervals.`
        : 'Run the job with --repeats 5.',
    ],
  });
  return sections;
}

/**
 * The SLO-meeting knee of each scenario and mode: its highest load at which every SLO was checked
 * and met (an SLA search's knee, or a sweep's best point within SLO), with what it cost there.
 */
export function sloKnees(subject: Subject): Point[] {
  const knees = new Map<string, Point>();
  for (const p of subject.points) {
    if (p.slos.length === 0 || !p.slos.every((s) => s.met === true)) continue;
    const key = `${p.scenario}\u0000${p.concurrency === null ? 'rate' : 'concurrency'}`;
    const load = (q: Point): number => q.rate_rps ?? q.concurrency ?? 0;
    const best = knees.get(key);
    if (!best || load(p) > load(best)) knees.set(key, p);
  }
  return [...knees.values()];
}

/** "Cost per million tokens within SLO" at each SLO-meeting knee that has a price. */
function costWithinSlo(subject: Subject): string[] {
  return sloKnees(subject)
    .filter((p) => p.metrics.cost_per_million_output_tokens_usd !== null)
    .map(
      (p) =>
        `Cost within SLO: at ${pointName(p)}, the highest load meeting every SLO, ` +
        `$${fmt(p.metrics.cost_per_million_output_tokens_usd, 2)} per million output tokens, ` +
        `$${fmt(p.metrics.cost_per_million_input_tokens_usd, 2)} per million input tokens, ` +
        `$${fmt(p.metrics.cost_per_request_usd, 5)} per request.`,
    );
}

function product(data: ReportData): ViewSection[] {
  const { subject, baseline } = data;
  const impact: string[] = [];
  const p = peak(subject);
  if (p) {
    impact.push(
      `Peak output throughput: ${fmt(p.metrics.output_throughput_tokens_per_s)} tokens/s at ${pointName(p)}, where users wait ${fmt(p.metrics.ttft_ms_p99)} ms (p99) for the first token.`,
    );
    if (p.metrics.cost_per_million_output_tokens_usd !== null) {
      impact.push(
        `Cost at that point: $${fmt(p.metrics.cost_per_million_output_tokens_usd, 2)} per million output tokens.`,
      );
    }
  }
  impact.push(...costWithinSlo(subject));
  const checks = sloRows(subject);
  if (checks.length > 0) {
    const missed = checks.filter((c) => c.slo.met === false);
    impact.push(
      missed.length === 0
        ? `SLOs: all ${checks.length} checks met (${[...new Set(checks.map((c) => c.slo.slo))].join(', ')}).`
        : `SLOs: ${missed.length} of ${checks.length} checks not met: ${missed
            .slice(0, 3)
            .map((c) => `${c.slo.slo} at ${c.cells[0]} (${c.cells[2]})`)
            .join('; ')}${missed.length > 3 ? '; …' : ''}.`,
    );
  }
  const onset = errorOnset(subject);
  impact.push(
    onset
      ? `Reliability: errors start at ${pointName(onset)} (${fmt((onset.metrics.error_rate ?? 0) * 100)} % of requests).`
      : 'Reliability: no errors at any measured load.',
  );
  if (baseline) {
    const worst = worstDelta(data.deltas);
    const best = bestDelta(data.deltas);
    impact.unshift(
      worst ? `Got worse: ${describeDelta(worst)}.` : 'Nothing got worse by more than 5 %.',
      best ? `Got better: ${describeDelta(best)}.` : 'Nothing got better by more than 5 %.',
    );
  }
  const worst = worstDelta(data.deltas);
  const next = baseline
    ? worst
      ? 'Hold the change until engineering confirms or rules out the regression with repeats (see the engineering view).'
      : 'No regression beyond 5 %: safe to proceed, subject to the gate.'
    : checks.length === 0
      ? 'Set latency SLOs for goodput and compare against the current production baseline with --vs.'
      : 'Compare against the current production baseline with --vs.';
  return [
    { heading: 'Impact on latency, throughput, reliability and cost', items: impact },
    { heading: 'Confidence', items: [confidence(data)] },
    { heading: 'Next step', items: [next] },
  ];
}

function partner(data: ReportData): ViewSection[] {
  const { subject, baseline } = data;
  const list = (fields: [string, (s: Subject) => unknown][]): string[] =>
    fields.map(
      ([name, get]) => `${name}: ${show(get(subject))}${baseline ? ` (A: ${show(get(baseline))})` : ''}`,
    );
  const sections: ViewSection[] = [
    { heading: 'Upstream (engine, version, GPU, driver)', items: list(UPSTREAM_FIELDS) },
    { heading: 'Ours (deployment, workload, client)', items: list(OURS_FIELDS) },
  ];
  const worst = worstDelta(data.deltas);
  const target = (worst && deltaPoint(subject, worst)) ?? knee(subject) ?? subject.points[0];
  sections.push({ heading: 'Smallest repro', items: [], code: reproCommand(subject, target) });
  let change: string;
  if (baseline) {
    const upstream = changedFields(UPSTREAM_FIELDS, baseline, subject);
    const ours = changedFields(OURS_FIELDS, baseline, subject);
    change = !worst
      ? 'No regression to act on.'
      : upstream.length > 0 && ours.length === 0
        ? `Only upstream changed (${upstream.join('; ')}): report upstream with the repro above.`
        : ours.length > 0 && upstream.length === 0
          ? `Only our side changed (${ours.join('; ')}): the fix is ours, not upstream's.`
          : `Both sides changed (upstream: ${upstream.join('; ') || 'none'}; ours: ${ours.join('; ') || 'none'}): bisect by changing one at a time.`;
  } else {
    change = 'Compare against a known-good run with --vs to tell an upstream regression from ours.';
  }
  sections.push({ heading: 'Smallest actionable change', items: [change] });
  return sections;
}

export function viewSections(data: ReportData, view: View): ViewSection[] {
  switch (view) {
    case 'engineering':
      return engineering(data);
    case 'product':
      return product(data);
    case 'partner':
      return partner(data);
  }
}
