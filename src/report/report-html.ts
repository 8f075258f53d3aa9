/**
 * The report as one self-contained HTML file: inline CSS, uPlot (read from
 * node_modules and inlined, so the file works offline), the report data as JSON in
 * `<script type="application/json" id="report-data">`, and a small script that
 * draws every `[data-chart]` figure from it. Each figure also carries its points
 * as a table, so the numbers are there without JavaScript; once drawn, a figure
 * gets `data-rendered="true"` and `<body data-charts-rendered=N>` (for browser tests).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Row } from '../warehouse/sql.js';
import type { Chart, ReportData, Subject } from './report-data.js';
import {
  pointName,
  rawLocations,
  SLO_HEADERS,
  sloRows,
  subjectStatus,
  viewSections,
  type View,
} from './report-views.js';
import { VERDICT_HEADERS, verdictCells, verdictLegend } from './report-verdicts.js';
import { TURN_HEADERS, TURN_NOTE, turnCells } from './report-turns.js';
import { escapeHtml } from './escape-html.js';
import { PREFIX_CACHE_HEADERS, PREFIX_CACHE_NOTE, prefixCacheRows } from './report-prefix-cache-table.js';
import { DIAGNOSIS_CSS, diagnosisHtml, fileEvidenceLinker, type EvidenceLinker } from './report-diagnosis.js';

const require = createRequire(import.meta.url);

/** uPlot's script and stylesheet; its licence header keeps the project name, not a URL to fetch. */
export function uplotAssets(): { js: string; css: string } {
  const read = (file: string): string => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
  return { js: read('uPlot.iife.min.js').replace(/https?:\/\//g, ''), css: read('uPlot.min.css') };
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

const CSS = `
:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #fff; }
body { margin: 0 auto; max-width: 1200px; padding: 1rem 2rem 4rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; margin-top: 2rem; }
.meta { color: #57606a; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .2rem .5rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.worse td { background: #ffebe9; } tr.better td { background: #dafbe1; }
tr.gate-fail td { background: #ffebe9; } tr.gate-pass td { background: #dafbe1; } tr.gate-inconclusive td { background: #fff8c5; }
code, pre { font-family: ui-monospace, monospace; font-size: .8rem; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
figure .note { color: #57606a; font-size: .8rem; }
details { font-size: .8rem; }
.view { background: #f6f8fa; border-left: 4px solid #0969da; padding: .3rem 1rem; }
`;

function table(headers: string[], rows: unknown[][], rowClass?: (i: number) => string): string {
  const cell = (v: unknown): string =>
    typeof v === 'number'
      ? `<td class="num">${escapeHtml(round(v))}</td>`
      : `<td>${escapeHtml(v ?? '—')}</td>`;
  return `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r, i) => `<tr class="${rowClass?.(i) ?? ''}">${r.map(cell).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function round(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
}

function keyValues(row: Row, keys?: string[]): string {
  const entries = (keys ?? Object.keys(row)).filter(
    (k) => row[k] !== null && row[k] !== undefined && row[k] !== '',
  );
  return table(
    ['field', 'value'],
    entries.map((k) => [k, typeof row[k] === 'object' ? JSON.stringify(row[k]) : row[k]]),
  );
}

const RUN_KEYS = [
  'run_id',
  'run_group_id',
  'status',
  'started_at',
  'source',
  'intent',
  'job_name',
  'job_namespace',
  'job_file_commit',
  'benchmark_case_id',
  'workload_spec_digest',
  'artifact_manifest_digest',
  'model',
  'task',
  'backend',
  'endpoint_base_url',
  'engine',
  'engine_version',
  'gpu_type',
  'gpu_count',
  'iterations_planned',
  'iterations_completed',
  'price_per_hour_usd',
];

function provenance(subject: Subject): string {
  const runs = table(
    ['run_id', 'started_at', 'status', 'artifact_manifest_digest', 'benchmark_case_id'],
    subject.runs.map((r) => [
      r.run_id,
      r.started_at,
      r.status,
      r.artifact_manifest_digest,
      r.benchmark_case_id,
    ]),
  );
  const first = subject.runs[0] ?? {};
  const artifacts = table(
    ['run_id', 'artifact', 'bytes', 'sha256'],
    subject.artifacts.map((a) => [a.run_id, a.path, Number(a.size_bytes), a.sha256]),
  );
  const raw = rawLocations(subject);
  return `<section data-subject="${escapeHtml(subject.label)}">
<h3>${escapeHtml(subject.label)}: ${subject.kind === 'run_group' ? `run group ${escapeHtml(subject.id)} (${subject.run_ids.length} repeats; points are medians)` : `run ${escapeHtml(subject.id)}`}, <span data-testid="run-status">${escapeHtml(subjectStatus(subject))}</span></h3>
${runs}
<details open><summary>Run facts</summary>${keyValues(first, RUN_KEYS)}</details>
<details><summary>Software versions</summary>${subject.software.map((s) => keyValues(s)).join('')}</details>
<details><summary>Hardware</summary>${subject.hardware.map((s) => keyValues(s)).join('')}</details>
<details><summary>Cluster and region</summary>${subject.cluster.map((s) => keyValues(s)).join('')}</details>
<details><summary>Workloads (${subject.workloads.length})</summary>${table(
    ['workload_spec_digest', 'kind', 'tokenizer', 'seed', 'description'],
    subject.workloads.map((w) => [w.workload_spec_digest, w.kind, w.tokenizer, w.seed, w.description]),
  )}</details>
<p>Raw evidence: ${raw.length === 0 ? 'no location recorded' : raw.map((r) => `<code>${escapeHtml(r)}</code>`).join('<br>')}</p>
<details><summary>Raw artifacts (${subject.artifacts.length}, paths relative to the run folder)</summary>${artifacts}</details>
</section>`;
}

function chartFigure(chart: Chart): string {
  const rows = chart.series.flatMap((s) => s.points.map(([x, y]) => [s.label, x, y]));
  const frontier = chart.series.flatMap((s) =>
    (s.frontier ?? []).map(([x, y]) => [`${s.label} frontier`, x, y]),
  );
  return `<figure data-chart="${escapeHtml(chart.id)}">
<figcaption>${escapeHtml(chart.title)}</figcaption>
<div class="plot"></div>
${chart.note ? `<p class="note">${escapeHtml(chart.note)}</p>` : ''}
<details><summary>data points</summary>${table(['series', chart.x, chart.y], [...rows, ...frontier])}</details>
</figure>`;
}

function deltasTable(data: ReportData): string {
  if (!data.baseline) return '';
  const withGate = data.gate?.status === 'ok';
  const rows = data.deltas.map((d) => [
    pointName(d),
    d.metric,
    d.a,
    d.b,
    d.change_pct,
    d.verdict,
    ...(withGate ? [d.gate_verdict ?? '—'] : []),
  ]);
  return `<h2 id="deltas">B vs A: deltas</h2>
<p>A = ${escapeHtml(data.baseline.id)}, B = ${escapeHtml(data.subject.id)}; source: ${escapeHtml(data.deltas_source)}; a change within ±5 % is "same".${withGate ? ' "gate" is the verdict of the same key in the gate verdicts below.' : ''}</p>
${table(['point', 'metric', 'A', 'B', 'change %', 'verdict', ...(withGate ? ['gate'] : [])], rows, (i) => data.deltas[i]?.verdict ?? '')}
${gateTable(data)}`;
}

function gateTable(data: ReportData): string {
  const gate = data.gate;
  if (!gate) return '';
  const head = `<h2 id="gate-verdicts">Gate verdicts and confidence intervals</h2>
<p data-gate-status="${escapeHtml(gate.status)}">${escapeHtml(gate.message)}</p>`;
  if (gate.status !== 'ok') return head;
  return `${head}
<p class="note">${escapeHtml(verdictLegend(gate).replaceAll('`', ''))}</p>
${table(VERDICT_HEADERS, gate.rows.map(verdictCells), (i) => `gate-${(gate.rows[i]?.verdict ?? '').toLowerCase()}`)}`;
}

/** Each SLO as written, at its percentile, met or not, per subject; nothing when the runs had none. */
function sloSection(subjects: Subject[]): string {
  const blocks = subjects
    .map((subject) => ({ subject, rows: sloRows(subject) }))
    .filter((b) => b.rows.length > 0)
    .map(
      ({ subject, rows }) =>
        `<h3>${escapeHtml(subject.label)}${subject.kind === 'run_group' ? ' (medians over repeats)' : ''}</h3>${table(
          SLO_HEADERS,
          rows.map((r) => r.cells),
          (i) => (rows[i]?.slo.met === false ? 'worse' : rows[i]?.slo.met === true ? 'better' : ''),
        )}`,
    );
  if (blocks.length === 0) return '';
  return `<h2 id="slos">SLOs</h2>
<p>Each SLO checked as written: the metric's measured percentile against its target (goodput applies the same SLOs per request).</p>
${blocks.join('\n')}`;
}

/** Multi-turn runs: TTFT by turn index at each point. */
function turnsSection(data: ReportData): string {
  if (!data.per_turn || data.per_turn.length === 0) return '';
  return `<h2 id="turns">TTFT by turn</h2>
<p>${escapeHtml(TURN_NOTE)}</p>
${table(
  TURN_HEADERS,
  data.per_turn.map((r) => turnCells(r, pointName(r))),
)}`;
}

/** TTFT by prefix-cache state and the hit rate, per subject; nothing when no point has them. */
function prefixCacheSection(subjects: Subject[]): string {
  const blocks = subjects
    .map((subject) => ({ subject, rows: prefixCacheRows(subject) }))
    .filter((b) => b.rows.length > 0)
    .map(({ subject, rows }) => `<h3>${escapeHtml(subject.label)}</h3>${table(PREFIX_CACHE_HEADERS, rows)}`);
  if (blocks.length === 0) return '';
  return `<h2 id="prefix-cache">Prefix cache</h2>
<p>${escapeHtml(PREFIX_CACHE_NOTE)}</p>
${blocks.join('\n')}`;
}

function viewHtml(data: ReportData, view: View): string {
  return `<section class="view" data-view="${view}"><h2>${escapeHtml(view[0]?.toUpperCase() + view.slice(1))} view</h2>${viewSections(
    data,
    view,
  )
    .map(
      (s) =>
        `<h3>${escapeHtml(s.heading)}</h3>${s.items.length > 0 ? `<ul>${s.items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>` : ''}${s.code ? `<pre data-repro>${escapeHtml(s.code)}</pre>` : ''}`,
    )
    .join('')}</section>`;
}

/** Draws each figure from the embedded data; series of different x are aligned on the union of x. */
const SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var colors = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700', '#57606a', '#e16f24', '#1b7c83'];
  var rendered = 0;
  data.charts.forEach(function (chart) {
    var fig = document.querySelector('[data-chart="' + chart.id + '"]');
    if (!fig || typeof uPlot === 'undefined') return;
    var lines = [];
    chart.series.forEach(function (s) {
      lines.push({ label: s.label, points: s.points, scatter: chart.kind === 'scatter' });
      if (s.frontier) lines.push({ label: s.label + ' frontier', points: s.frontier, scatter: false });
    });
    var xs = [];
    lines.forEach(function (l) { l.points.forEach(function (p) { if (xs.indexOf(p[0]) < 0) xs.push(p[0]); }); });
    xs.sort(function (a, b) { return a - b; });
    var aligned = [xs];
    lines.forEach(function (l) {
      var ys = xs.map(function () { return null; });
      l.points.forEach(function (p) { ys[xs.indexOf(p[0])] = p[1]; });
      aligned.push(ys);
    });
    var series = [{ label: chart.x }];
    lines.forEach(function (l, i) {
      var c = colors[i % colors.length];
      var s = { label: l.label, stroke: c, spanGaps: true, points: { show: true, size: 6, fill: c } };
      if (l.scatter) s.paths = function () { return null; };
      if (chart.kind === 'step' && uPlot.paths && uPlot.paths.stepped) s.paths = uPlot.paths.stepped({ align: 1 });
      series.push(s);
    });
    var plot = fig.querySelector('.plot');
    new uPlot({
      width: Math.max(480, plot.clientWidth || 520), height: 280,
      scales: { x: { time: false } },
      axes: [{ label: chart.x }, { label: chart.y }],
      series: series,
    }, aligned, plot);
    fig.setAttribute('data-rendered', 'true');
    rendered++;
  });
  document.body.setAttribute('data-charts-rendered', String(rendered));
})();
`;

export interface HtmlOptions {
  /** Where evidence links lead: the raw files of local run folders by default (the dashboard: its evidence page). */
  evidence?: EvidenceLinker;
}

/** The diagnosis section, when the data has one (older data and hand-made data may not). */
function diagnosisSection(data: ReportData, options: HtmlOptions): string {
  if (data.diagnosis === undefined) return '';
  const lineage = [...(data.baseline?.lineage ?? []), ...data.subject.lineage];
  return diagnosisHtml(data.diagnosis, options.evidence ?? fileEvidenceLinker(lineage));
}

export function renderHtml(data: ReportData, view: View, options: HtmlOptions = {}): string {
  const { js, css } = uplotAssets();
  const subjects = [data.baseline, data.subject].filter((s): s is Subject => s !== null);
  const title = data.baseline
    ? `infermark report: ${data.subject.id} vs ${data.baseline.id}`
    : `infermark report: ${data.subject.id}`;
  const pointCharts = data.charts.filter(
    (c) => c.scenario !== null && !['ttft-cdf', 'itl-cdf', 'timeseries'].includes(c.id),
  );
  const scenarios = [...new Set(pointCharts.map((c) => c.scenario as string))];
  const drill = data.charts.filter((c) => ['ttft-cdf', 'itl-cdf', 'timeseries'].includes(c.id));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
<style>${CSS}${DIAGNOSIS_CSS}</style>
</head>
<body data-view="${view}">
<h1>${escapeHtml(title)}</h1>
<p class="meta">Generated ${escapeHtml(data.generated_at)} from the infermark warehouse. Works offline: everything is in this file.</p>
${viewHtml(data, view)}
${diagnosisSection(data, options)}
${sloSection(subjects)}
${turnsSection(data)}
${prefixCacheSection(subjects)}
<h2 id="provenance">Identity and provenance</h2>
${subjects.map(provenance).join('\n')}
${deltasTable(data)}
${scenarios
  .map(
    (s) =>
      `<h2>Scenario ${escapeHtml(s)}</h2><div class="charts">${pointCharts
        .filter((c) => c.scenario === s)
        .map(chartFigure)
        .join('\n')}</div>`,
  )
  .join('\n')}
${drill.length > 0 && data.drilldown ? `<h2 id="drilldown">Drill-down: ${escapeHtml(pointName(data.drilldown))}, run ${escapeHtml(data.drilldown.run_id)} iteration ${data.drilldown.iteration}</h2><div class="charts">${drill.map(chartFigure).join('\n')}</div>` : ''}
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${js}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
