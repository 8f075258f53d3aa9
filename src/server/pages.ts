/**
 * The dashboard's pages, rendered on the server from the same functions as the
 * API, so the first screen needs no round trip: the run list, a run (its
 * diagnosis, points, simple inline SVG charts, numbers that open their lineage),
 * and two runs compared (with the diagnosis of B against A). No external URL
 * anywhere; the small scripts carry the CSP nonce of their response. Every
 * element a browser test drives has a `data-testid`.
 */
import { columnMetric, metricOfColumn, TRACEABLE_COLUMNS } from '../metrics/definitions.js';
import type { ComparePair, Comparison, RunDetail, RunFilters, RunPage } from './api.js';
import type { Row } from '../warehouse/sql.js';
import { escapeHtml } from '../report/escape-html.js';
import type { Diagnosis } from '../diagnose/diagnosis.js';
import { DIAGNOSIS_CSS, dashboardEvidenceLinker, diagnosisHtml } from '../report/report-diagnosis.js';

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fafafa}
header{background:#1b1f24;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#fff;text-decoration:none}main{padding:16px}
table{border-collapse:collapse;background:#fff;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f0f0f0}td.t,th.t{text-align:left}form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end}
label{display:flex;flex-direction:column;font-size:12px}button.num{all:unset;cursor:pointer;color:#0550ae;border-bottom:1px dotted}
.better{color:#116329}.worse{color:#cf222e}.charts{display:flex;flex-wrap:wrap;gap:16px}
svg{background:#fff;border:1px solid #ddd}#lineage{background:#fff;border:1px solid #ddd;padding:8px;margin-top:12px}
.report-link{background:#ddf4ff;border:1px solid #54aeff;border-radius:6px;padding:8px 12px}
.err{color:#cf222e}code{font-size:12px}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}
${DIAGNOSIS_CSS}`;

/** A page's diagnosis section, its evidence linked to the evidence page; nothing when not asked for. */
function diagnosisSection(diagnosis: Diagnosis | undefined): string {
  return diagnosis === undefined ? '' : diagnosisHtml(diagnosis, dashboardEvidenceLinker);
}

/** The page frame; `nonce` lets the page's own inline script run under the CSP. */
export function layout(title: string, body: string, nonce: string, script = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · infermark</title><style>${STYLE}</style></head>
<body><header><strong>infermark</strong><a href="/" data-testid="nav-runs">Runs</a><a href="/compare" data-testid="nav-compare">Compare</a><a href="/api/benchmark/contracts" data-testid="nav-contracts">Contracts</a></header>
<main>${body}</main>${script ? `<script nonce="${escapeHtml(nonce)}">${script}</script>` : ''}</body></html>`;
}

export function errorPage(status: number, code: string, message: string, nonce: string): string {
  return layout(
    `Error ${status}`,
    `<h1>Error ${status}</h1><p class="err" data-testid="error" data-code="${escapeHtml(code)}">${escapeHtml(message)}</p><p><a href="/">Back to the runs</a></p>`,
    nonce,
  );
}

function fmt(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(4);
  }
  return String(value);
}

function pageHref(filters: RunFilters, offset: number): string {
  const params = new URLSearchParams();
  for (const key of ['model', 'engine', 'gpu', 'scenario'] as const) {
    const value = filters[key];
    if (value) params.set(key, value);
  }
  if (filters.from) params.set('from', filters.from);
  if (filters.to) params.set('to', filters.to);
  if (filters.limit !== 50) params.set('limit', String(filters.limit));
  if (offset > 0) params.set('offset', String(offset));
  const query = params.toString();
  return query ? `/?${query}` : '/';
}

/** The run list: filters, one page of runs, paging, and picking two runs to compare. */
export function runListPage(
  page: RunPage,
  filters: RunFilters,
  choices: Record<string, string[]>,
  nonce: string,
): string {
  const input = (key: 'model' | 'engine' | 'gpu' | 'scenario', label: string): string =>
    `<label>${label}<input name="${key}" list="choices-${key}" value="${escapeHtml(filters[key] ?? '')}" data-testid="filter-${key}"></label>
<datalist id="choices-${key}">${(choices[key] ?? []).map((v) => `<option value="${escapeHtml(v)}">`).join('')}</datalist>`;
  const day = (iso: string | undefined): string => (iso ? iso.slice(0, 10) : '');
  const rows = page.runs
    .map(
      (r) => `<tr data-testid="run-row" data-run-id="${escapeHtml(r.run_id)}">
<td><input type="checkbox" data-testid="compare-pick" value="${escapeHtml(r.run_id)}" aria-label="pick ${escapeHtml(r.run_id)} to compare"></td>
<td class="t"><a href="/runs/${encodeURIComponent(String(r.run_id))}" data-testid="run-link">${escapeHtml(r.run_id)}</a></td>
<td class="t">${escapeHtml(fmt(r.started_at))}</td><td class="t">${escapeHtml(fmt(r.model))}</td><td class="t">${escapeHtml(fmt(r.engine))} ${escapeHtml(r.engine_version ?? '')}</td>
<td class="t">${escapeHtml(fmt(r.gpu_type))}${r.gpu_count ? ` ×${escapeHtml(r.gpu_count)}` : ''}</td><td class="t">${escapeHtml(fmt(r.scenarios))}</td>
<td>${escapeHtml(fmt(r.iterations))}</td><td class="t">${escapeHtml(fmt(r.status))}</td><td class="t">${escapeHtml(fmt(r.source))}</td></tr>`,
    )
    .join('\n');
  const first = page.total === 0 ? 0 : page.offset + 1;
  const last = page.offset + page.runs.length;
  const prev =
    page.offset > 0
      ? `<a href="${escapeHtml(pageHref(filters, Math.max(0, page.offset - page.limit)))}" data-testid="page-prev">← newer</a>`
      : '';
  const next =
    last < page.total
      ? `<a href="${escapeHtml(pageHref(filters, page.offset + page.limit))}" data-testid="page-next">older →</a>`
      : '';
  const body = `<h1>Runs</h1>
<form class="filters" method="get" action="/" data-testid="filters">
${input('model', 'Model')}${input('engine', 'Engine')}${input('gpu', 'GPU')}${input('scenario', 'Scenario')}
<label>From<input type="date" name="from" value="${escapeHtml(day(filters.from))}" data-testid="filter-from"></label>
<label>To<input type="date" name="to" value="${escapeHtml(day(filters.to))}" data-testid="filter-to"></label>
<button type="submit" data-testid="filter-apply">Filter</button><a href="/" data-testid="filter-clear">clear</a>
</form>
<p><span data-testid="run-count">${page.total}</span> runs; showing <span data-testid="run-range">${first}–${last}</span>. ${prev} ${next}
<button type="button" id="compare-go" data-testid="compare-go" disabled>Compare the two picked</button></p>
<table data-testid="runs-table"><thead><tr><th></th><th class="t">run</th><th class="t">started</th><th class="t">model</th><th class="t">engine</th>
<th class="t">GPU</th><th class="t">scenarios</th><th>points</th><th class="t">status</th><th class="t">source</th></tr></thead>
<tbody>${rows || '<tr><td colspan="10" class="t" data-testid="runs-empty">no runs match</td></tr>'}</tbody></table>`;
  const script = `const go=document.getElementById('compare-go');
const picked=()=>[...document.querySelectorAll('[data-testid=compare-pick]:checked')].map(e=>e.value);
document.addEventListener('change',()=>{go.disabled=picked().length!==2;});
go.addEventListener('click',()=>{const [a,b]=picked();location.href='/compare?a='+encodeURIComponent(a)+'&b='+encodeURIComponent(b);});`;
  return layout('Runs', body, nonce, script);
}

/** Columns of the run's points that the `serving_points` named query also has (the registry's): those numbers have lineage. */
const TRACEABLE: ReadonlySet<string> = new Set(TRACEABLE_COLUMNS);

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

/** A small line chart; each point is a circle carrying its data, for tests and tooltips. */
export function lineChart(
  testid: string,
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
): string {
  const W = 420;
  const H = 240;
  const m = { l: 56, r: 12, t: 24, b: 40 };
  const all = series.flatMap((s) => s.points);
  if (all.length === 0)
    return `<p data-testid="${escapeHtml(testid)}" data-empty="true">${escapeHtml(title)}: no data</p>`;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const y1 = Math.max(...ys) * 1.1 || 1;
  const sx = (x: number): number => m.l + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number): number => H - m.b - (y / y1) * (H - m.t - m.b);
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${m.l - 4}" y="${sy(f * y1) + 4}" text-anchor="end" font-size="10">${escapeHtml(fmt(f * y1))}</text>`,
    )
    .join('');
  const xTicks = [...new Set(xs)]
    .map(
      (x) =>
        `<text x="${sx(x)}" y="${H - m.b + 14}" text-anchor="middle" font-size="10">${escapeHtml(fmt(x))}</text>`,
    )
    .join('');
  const lines = series
    .map((s, i) => {
      const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
      const path = sorted.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      const dots = sorted
        .map(
          ([x, y]) =>
            `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}" data-testid="chart-point" data-series="${escapeHtml(s.name)}" data-x="${x}" data-y="${y}"><title>${escapeHtml(s.name)}: ${escapeHtml(fmt(y))} at ${escapeHtml(fmt(x))}</title></circle>`,
        )
        .join('');
      return `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${path}"/>${dots}
<text x="${W - m.r - 4}" y="${m.t + 12 * i}" text-anchor="end" font-size="11" fill="${s.color}">${escapeHtml(s.name)}</text>`;
    })
    .join('');
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}" data-testid="${escapeHtml(testid)}">
<text x="${m.l}" y="14" font-size="12" font-weight="600">${escapeHtml(title)}</text>
<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#999"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#999"/>
${ticks}${xTicks}<text x="${(W + m.l) / 2}" y="${H - 6}" text-anchor="middle" font-size="11">${escapeHtml(xLabel)}</text>
<text transform="translate(12 ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle" font-size="11">${escapeHtml(yLabel)}</text>${lines}</svg>`;
}

function num(value: unknown): number | null {
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** Per scenario (and mode): TTFT p50/p99 and output tokens/s against concurrency (or request rate). */
function charts(points: Row[]): string {
  const groups = new Map<string, Row[]>();
  for (const p of points) {
    const key = `${String(p.scenario)}\u0000${String(p.mode)}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const out: string[] = [];
  let index = 0;
  for (const [key, rows] of groups) {
    const [scenario, mode] = key.split('\u0000') as [string, string];
    const byRate = rows.every((r) => num(r.concurrency) === null);
    const xOf = (r: Row): number | null => num(byRate ? r.rate_rps : r.concurrency);
    const series = (name: string, color: string, column: string): Series => ({
      name,
      color,
      points: rows.flatMap((r) => {
        const [x, y] = [xOf(r), num(r[column])];
        return x === null || y === null ? [] : [[x, y] as [number, number]];
      }),
    });
    const xLabel = byRate ? 'request rate (req/s)' : 'concurrency';
    out.push(`<section data-testid="scenario-charts" data-scenario="${escapeHtml(scenario)}" data-mode="${escapeHtml(mode)}">
<h3>${escapeHtml(scenario)} · ${escapeHtml(mode)}</h3><div class="charts">
${lineChart(`chart-ttft-${index}`, 'TTFT p50 / p99', xLabel, columnMetric('ttft_ms_p50').unit, [
  series('p50', '#0969da', 'ttft_ms_p50'),
  series('p99', '#cf222e', 'ttft_ms_p99'),
])}
${lineChart(
  `chart-throughput-${index}`,
  'Output tokens/s',
  xLabel,
  columnMetric('output_throughput_tokens_per_s').unit,
  [series('output tokens/s', '#116329', 'output_throughput_tokens_per_s')],
)}</div></section>`);
    index += 1;
  }
  return out.join('\n');
}

const LINEAGE_SCRIPT = `const panel=document.getElementById('lineage');
const el=(tag,text,attrs={})=>{const e=document.createElement(tag);if(text!==undefined)e.textContent=String(text);for(const[k,v]of Object.entries(attrs))e.setAttribute(k,v);return e;};
const item=(list,label,value,testid)=>{list.append(el('dt',label),el('dd',value??'—',{'data-testid':testid}));};
async function showLineage(button){
  panel.hidden=false;panel.replaceChildren(el('p','tracing '+button.dataset.column+'…',{'data-testid':'lineage-loading'}));
  const q=new URLSearchParams({query:'serving_points',column:button.dataset.column,run:button.dataset.run,iteration:button.dataset.iteration});
  let body;
  try{const res=await fetch('/api/lineage?'+q,{credentials:'same-origin'});body=await res.json();
    if(!res.ok){panel.replaceChildren(el('p',body.error.code+': '+body.error.message,{class:'err','data-testid':'lineage-error'}));return;}}
  catch(e){panel.replaceChildren(el('p','lineage failed: '+e,{class:'err','data-testid':'lineage-error'}));return;}
  const h=el('h2','Lineage of '+body.number.column+' = '+body.number.value);
  const steps=el('dl');
  item(steps,'number',body.number.column+' = '+body.number.value+' (row '+body.number.row+')','lineage-number');
  item(steps,'query',body.query.name+' · '+body.query.query_spec_digest,'lineage-query');
  item(steps,'run',body.run.run_id+(body.run.iteration===null?'':' · iteration '+body.run.iteration),'lineage-run');
  item(steps,'benchmark_case_id',body.run.benchmark_case_id,'lineage-case');
  item(steps,'workload_spec_digest',body.run.workload_spec_digest,'lineage-workload-digest');
  item(steps,'artifact_manifest_digest',body.run.artifact_manifest_digest,'lineage-manifest-digest');
  const sql=el('details');sql.append(el('summary','SQL'),el('pre',body.query.sql));
  const ev=el('div',undefined,{'data-testid':'lineage-evidence'});
  if(body.evidence.length===0)ev.append(el('p','no raw evidence recorded'));
  for(const loc of body.evidence){
    ev.append(el('h3',loc.uri+(loc.reachable?'':' — UNREACHABLE: '+loc.error),{'data-testid':'lineage-location'}));
    const t=el('table');t.append(el('tr'));t.rows[0].append(el('th','state'),el('th','artifact',{class:'t'}),el('th','sha256',{class:'t'}));
    for(const a of loc.artifacts.filter(a=>a.source||a.state!=='ok')){const r=t.insertRow();r.setAttribute('data-testid','lineage-artifact');r.setAttribute('data-state',a.state);
      r.append(el('td',a.state),el('td',a.path,{class:'t'}),el('td',a.sha256,{class:'t'}));}
    ev.append(t);
  }
  const safe=el('p',body.publication_safe?'publication-safe: yes':'publication-safe: NO (the chain to raw evidence is broken)',{'data-testid':'lineage-safe','data-safe':String(body.publication_safe),class:body.publication_safe?'better':'worse'});
  panel.replaceChildren(h,steps,sql,ev,safe);
}
document.addEventListener('click',(e)=>{const b=e.target.closest('button[data-lineage]');if(b)showLineage(b);});`;

/** One run: identity, its points (numbers open their lineage), charts, its group and artifacts. */
export function runPage(detail: RunDetail, nonce: string, diagnosis?: Diagnosis): string {
  const { run, points, group, artifacts } = detail;
  const runId = String(run.run_id);
  const facts = [
    'run_id',
    'run_group_id',
    'started_at',
    'status',
    'intent',
    'source',
    'job_name',
    'model',
    'task',
    'backend',
    'endpoint_base_url',
    'engine',
    'engine_version',
    'gpu_type',
    'gpu_count',
    'benchmark_case_id',
    'workload_spec_digest',
    'artifact_manifest_digest',
  ]
    .map(
      (k) =>
        `<dt>${escapeHtml(k)}</dt><dd data-testid="fact-${escapeHtml(k)}">${escapeHtml(fmt(run[k]))}</dd>`,
    )
    .join('');
  const head = points.columns
    .map((c) => `<th${c === 'scenario' || c === 'mode' ? ' class="t"' : ''}>${escapeHtml(c)}</th>`)
    .join('');
  const rows = points.rows
    .map((p) => {
      const cells = points.columns
        .map((c) => {
          const value = p[c];
          if (c === 'scenario' || c === 'mode') return `<td class="t">${escapeHtml(fmt(value))}</td>`;
          if (TRACEABLE.has(c) && value !== null && value !== undefined) {
            return `<td><button class="num" type="button" data-lineage data-testid="metric-value" data-column="${escapeHtml(c)}" data-run="${escapeHtml(runId)}" data-iteration="${escapeHtml(p.iteration)}" data-value="${escapeHtml(value)}" title="where does this number come from?">${escapeHtml(fmt(value))}</button></td>`;
          }
          return `<td>${escapeHtml(fmt(value))}</td>`;
        })
        .join('');
      return `<tr data-testid="point-row" data-iteration="${escapeHtml(p.iteration)}">${cells}</tr>`;
    })
    .join('\n');
  const groupList =
    group.length > 0
      ? `<h2>Run group</h2><ul data-testid="run-group">${group
          .map(
            (g) =>
              `<li><a href="/runs/${encodeURIComponent(String(g.run_id))}">${escapeHtml(g.run_id)}</a> · <a href="/compare?a=${encodeURIComponent(runId)}&amp;b=${encodeURIComponent(String(g.run_id))}">compare</a></li>`,
          )
          .join('')}</ul>`
      : '';
  const artifactRows = artifacts
    .map(
      (a) =>
        `<tr data-testid="artifact-row"><td class="t"><code>${escapeHtml(a.path)}</code></td><td>${escapeHtml(fmt(a.size_bytes))}</td><td class="t"><code>${escapeHtml(a.sha256)}</code></td></tr>`,
    )
    .join('');
  const body = `<h1 data-testid="run-title">Run <code>${escapeHtml(runId)}</code></h1>
<p class="report-link"><a href="/runs/${encodeURIComponent(runId)}/report" data-testid="run-report-link"><strong>Full report: all charts →</strong></a> (throughput, TTFT, TPOT/ITL and the latency–throughput frontier per scenario, distributions, the time series, provenance)${
    typeof run.run_group_id === 'string' && group.length > 0
      ? ` · <a href="/groups/${encodeURIComponent(run.run_group_id)}/report" data-testid="group-report-link">report of its run group (${group.length + 1} runs, medians)</a>`
      : ''
  }</p>
<p><a href="/compare?a=${encodeURIComponent(runId)}" data-testid="compare-this">compare with another run…</a>${
    typeof run.run_group_id === 'string'
      ? ` · <a href="/compare?ga=${encodeURIComponent(run.run_group_id)}" data-testid="compare-group">compare its run group with another…</a>`
      : ''
  }</p>
<dl data-testid="run-facts">${facts}</dl>
${diagnosisSection(diagnosis)}
<h2>Points</h2><p>Click a number for its lineage: query → run → digests → raw artifacts.</p>
<table data-testid="points-table"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>
<section id="lineage" data-testid="lineage-panel" hidden></section>
<h2>Charts</h2>${charts(points.rows) || '<p>no points</p>'}
${groupList}
<h2>Raw artifacts</h2><details><summary>${artifacts.length} artifacts</summary><table data-testid="artifacts-table"><tr><th class="t">path</th><th>bytes</th><th class="t">sha256</th></tr>${artifactRows}</table></details>`;
  return layout(`Run ${runId}`, body, nonce, LINEAGE_SCRIPT);
}

/** Two runs (or run groups) compared point by point; without a pair, just the picker. */
export function comparePage(
  picked: ComparePair,
  comparison: Comparison | null,
  recent: Row[],
  nonce: string,
  diagnosis?: Diagnosis,
): string {
  const groups = picked.kind === 'groups';
  const [nameA, nameB] = groups ? ['ga', 'gb'] : ['a', 'b'];
  const ids = groups
    ? [...new Set(recent.map((r) => r.run_group_id).filter((g) => g))]
    : recent.map((r) => r.run_id);
  const options = ids.map((id) => `<option value="${escapeHtml(id)}">`).join('');
  const form = `<h1>Compare two ${groups ? 'run groups' : 'runs'}</h1>
<p><a href="${groups ? '/compare' : '/compare?ga='}" data-testid="compare-mode">${groups ? 'compare two runs instead' : 'compare two run groups (repeats) instead'}</a></p>
<form class="filters" method="get" action="/compare" data-testid="compare-form" data-kind="${picked.kind}">
<label>A (baseline)<input name="${nameA}" list="recent" value="${escapeHtml(picked.a)}" required data-testid="compare-a" size="40"></label>
<label>B (candidate)<input name="${nameB}" list="recent" value="${escapeHtml(picked.b)}" required data-testid="compare-b" size="40"></label>
<datalist id="recent">${options}</datalist><button type="submit" data-testid="compare-submit">Compare</button></form>`;
  if (!comparison) return layout('Compare', form, nonce);
  const metrics = comparison.columns
    .filter((c) => c.endsWith('_change_pct'))
    .map((c) => c.slice(0, -'_change_pct'.length));
  // Better or worse by the registry's direction; a column it does not know (or a neutral one) is not judged.
  const directionOf = (m: string): string => metricOfColumn(m)?.direction ?? 'neutral';
  const head = `<tr><th class="t">scenario</th><th class="t">mode</th><th>concurrency</th><th>rate</th>${metrics
    .map((m) => `<th colspan="3">${escapeHtml(m)}</th>`)
    .join(
      '',
    )}</tr><tr><th colspan="4"></th>${metrics.map(() => '<th>A</th><th>B</th><th>Δ%</th>').join('')}</tr>`;
  const rows = comparison.rows
    .map((r) => {
      const cells = metrics
        .map((m) => {
          const change = num(r[`${m}_change_pct`]);
          const direction = directionOf(m);
          const cls =
            change === null || change === 0 || direction === 'neutral'
              ? ''
              : change > 0 === (direction === 'higher')
                ? ' class="better"'
                : ' class="worse"';
          return `<td>${escapeHtml(fmt(r[`${m}_a`]))}</td><td>${escapeHtml(fmt(r[`${m}_b`]))}</td><td${cls} data-testid="delta" data-metric="${escapeHtml(m)}">${change === null ? '—' : `${change > 0 ? '+' : ''}${change.toFixed(1)}`}</td>`;
        })
        .join('');
      return `<tr data-testid="compare-row"><td class="t">${escapeHtml(fmt(r.scenario))}</td><td class="t">${escapeHtml(fmt(r.mode))}</td><td>${escapeHtml(fmt(r.concurrency))}</td><td>${escapeHtml(fmt(r.rate_rps))}</td>${cells}</tr>`;
    })
    .join('\n');
  const link = (id: unknown): string =>
    `<a href="/runs/${encodeURIComponent(String(id))}">${escapeHtml(id)}</a>`;
  const who = (label: string, run: Row): string =>
    `<p data-testid="compare-run-${label.toLowerCase()}">${label}: ${
      groups
        ? `group <code>${escapeHtml(run.run_group_id)}</code> (${escapeHtml(run.runs)} runs: ${(Array.isArray(run.run_ids) ? run.run_ids : []).map(link).join(', ')})`
        : link(run.run_id)
    } · ${escapeHtml(fmt(run.model))} · ${escapeHtml(fmt(run.engine))} ${escapeHtml(run.engine_version ?? '')} · ${escapeHtml(fmt(run.gpu_type))} · ${escapeHtml(fmt(run.started_at))}</p>`;
  const body = `${form}${who('A', comparison.a)}${who('B', comparison.b)}
<p>Δ% is B relative to A${groups ? ' (each a mean over its group’s runs)' : ''}; green is better, red worse.</p>
<table data-testid="compare-table"><thead>${head}</thead><tbody>${rows || '<tr><td class="t" colspan="4">no points</td></tr>'}</tbody></table>
${diagnosisSection(diagnosis)}`;
  return layout('Compare', body, nonce);
}
