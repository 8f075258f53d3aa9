/**
 * The diagnosis section of the HTML report and of the dashboard's run and compare
 * pages, from a Diagnosis as diagnose() returns it (nothing is recomputed): the
 * findings first (playbook, reading, severity, facts, what to check next, evidence),
 * then each changed point (which statistics moved and how, the TTFT/E2E
 * decomposition baseline vs current as numbers and a stacked bar, the telemetry
 * that moved, the outlier requests), then the notes. Every evidence pointer becomes
 * a link through an EvidenceLinker: to the raw file of a local run folder in a
 * standalone report, to the dashboard's evidence page when the dashboard serves it.
 * Inline SVG only, and no style attributes: the report's CSP allows no inline style.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isSafeRelativePath } from '../base/safe-path.js';
import type {
  Decomposition,
  Diagnosis,
  EvidencePointer,
  Finding,
  PointDiagnosis,
  TelemetryMove,
} from '../diagnose/diagnosis.js';
import type { Row } from '../warehouse/sql.js';
import { escapeHtml } from './escape-html.js';

/** Where a pointer leads (null: nowhere this page can open) and what the link says. */
export interface EvidenceLink {
  href: string | null;
  text: string;
}

export type EvidenceLinker = (pointer: EvidencePointer) => EvidenceLink;

/** `label — iterations/001/requests.jsonl line 7`: the link text says the path and the line. */
export function pointerText(pointer: EvidencePointer): string {
  const where = `${pointer.path}${pointer.line !== undefined ? ` line ${pointer.line}` : ''}`;
  return pointer.label && pointer.label !== pointer.path ? `${pointer.label} — ${where}` : where;
}

/**
 * Links to the raw files themselves: the pointer's run's first local run folder
 * (artifact_lineage_dim.raw_uris, an absolute path) as a file:// URL. A run whose
 * evidence is only in a store, or a path that would leave the folder, gets no link,
 * and its text then names the store location.
 */
export function fileEvidenceLinker(lineage: Row[]): EvidenceLinker {
  const uris = new Map<string, string[]>();
  for (const row of lineage) {
    const list = Array.isArray(row.raw_uris) ? row.raw_uris.map(String) : [];
    uris.set(String(row.run_id), [...(uris.get(String(row.run_id)) ?? []), ...list]);
  }
  return (pointer) => {
    const text = pointerText(pointer);
    const all = uris.get(pointer.run_id) ?? [];
    if (!isSafeRelativePath(pointer.path)) return { href: null, text };
    const local = all.find((uri) => uri.startsWith('/'));
    if (local !== undefined) return { href: pathToFileURL(join(local, pointer.path)).href, text };
    const stored = all[0];
    return { href: null, text: stored === undefined ? text : `${text} (in ${stored})` };
  };
}

/** The dashboard's evidence page for a pointer, scrolled to its line. */
export function dashboardEvidenceHref(pointer: EvidencePointer): string {
  const query = new URLSearchParams({ path: pointer.path });
  if (pointer.line !== undefined) query.set('line', String(pointer.line));
  const anchor = pointer.line !== undefined ? `#L${pointer.line}` : '';
  return `/runs/${encodeURIComponent(pointer.run_id)}/evidence?${query.toString()}${anchor}`;
}

export const dashboardEvidenceLinker: EvidenceLinker = (pointer) => ({
  href: dashboardEvidenceHref(pointer),
  text: pointerText(pointer),
});

/** A number as the section shows it: integers as they are, others to 3 significant-ish decimals. */
export function dxNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : String(Math.round(value * 1000) / 1000);
}

/** A value with its unit, or `—` alone when there is none. */
export function dxWithUnit(value: number | null | undefined, unit: string): string {
  const shown = dxNumber(value);
  return shown === '—' ? shown : `${shown} ${unit}`;
}

/** A p-value: small ones as a bound, not rounded to 0. */
export function dxP(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return '—';
  return p < 0.001 ? '< 0.001' : String(Math.round(p * 1000) / 1000);
}

/** A relative change (0.25) as `+25.0 %`. */
export function dxPercent(relative: number | null | undefined): string {
  if (relative === null || relative === undefined || !Number.isFinite(relative)) return '—';
  const pct = relative * 100;
  return `${pct > 0 ? '+' : ''}${pct.toFixed(1)} %`;
}

/** The shape of a change in words. */
export const SHAPE_TEXT: Record<PointDiagnosis['shape'], string> = {
  'tail-only': 'tail only (the high percentiles moved, the median did not)',
  'whole-distribution': 'whole distribution (the median moved with the tail)',
  improved: 'improved',
  unchanged: 'unchanged',
};

/** The decomposition's components in their order on the time line. */
export const COMPONENTS: { key: keyof Decomposition; label: string; color: string }[] = [
  { key: 'client_queue_ms', label: 'client queue', color: '#8250df' },
  { key: 'server_queue_ms', label: 'server queue', color: '#cf222e' },
  { key: 'prefill_ms', label: 'prefill', color: '#bf8700' },
  { key: 'decode_ms', label: 'decode', color: '#0969da' },
];

/** `scenario@point` as the findings name points. */
export const pointKey = (p: Pick<PointDiagnosis, 'scenario' | 'point'>): string => `${p.scenario}@${p.point}`;

/** The section's intro: what was compared with what, or what a single run can show. */
export function diagnosisIntro(d: Diagnosis): string {
  return d.baseline_run_id === null
    ? `Run ${d.run_id} on its own: only the playbooks that need no baseline (saturation knee, client-side limits, …) can fire.`
    : `Run ${d.run_id} against baseline ${d.baseline_run_id}.`;
}

/** Why a report has no diagnosis (run groups: diagnose compares runs). */
export const NO_DIAGNOSIS_GROUP =
  'Diagnosis compares two runs: give run ids (not run groups), or run `infermark diagnose RUN --vs BASELINE`.';

/** Styles of the section, for the report's stylesheet and the dashboard's. */
export const DIAGNOSIS_CSS = `
.dx-finding{border:1px solid #d0d7de;border-left:6px solid #57606a;border-radius:6px;padding:.4rem .8rem;margin:.6rem 0;background:#fff}
.dx-finding.sev-high{border-left-color:#cf222e}.dx-finding.sev-medium{border-left-color:#bf8700}.dx-finding.sev-low{border-left-color:#0969da}
.dx-finding h4{margin:.2rem 0}.dx-sev{font-size:.75rem;font-weight:700;padding:0 .35rem;border-radius:4px;background:#eaeef2;margin-right:.4rem}
.dx-interpretation{font-style:italic;margin:.2rem 0}.dx-finding ul,.dx-finding ol{margin:.2rem 0 .4rem}
.dx-point{border-top:1px dashed #d0d7de;margin-top:.8rem;padding-top:.3rem}
.dx-evidence a,a.dx-evidence{font-family:ui-monospace,monospace;font-size:.8rem}
tr.dx-worse td{background:#ffebe9}tr.dx-better td{background:#dafbe1}
.dx-notes{color:#57606a}
#diagnosis td,#diagnosis th{text-align:left;white-space:normal;vertical-align:top}#diagnosis ul.dx-evidence{padding-left:1.1rem}
`;

function links(pointers: EvidencePointer[], link: EvidenceLinker, max = 8): string {
  if (pointers.length === 0) return '';
  const items = pointers.slice(0, max).map((p) => {
    const { href, text } = link(p);
    return href === null
      ? `<li><code>${escapeHtml(text)}</code></li>`
      : `<li><a class="dx-evidence" data-testid="evidence-link" data-path="${escapeHtml(p.path)}"${p.line !== undefined ? ` data-line="${p.line}"` : ''} href="${escapeHtml(href)}">${escapeHtml(text)}</a></li>`;
  });
  const more = pointers.length > max ? `<li>… and ${pointers.length - max} more</li>` : '';
  return `<ul class="dx-evidence">${items.join('')}${more}</ul>`;
}

function table(headers: string[], rows: string[][], rowClass?: (i: number) => string): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r, i) => `<tr class="${rowClass?.(i) ?? ''}">${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function findingHtml(f: Finding, link: EvidenceLinker): string {
  return `<article class="dx-finding sev-${escapeHtml(f.severity)}" data-testid="finding" data-playbook="${escapeHtml(f.playbook)}" data-severity="${escapeHtml(f.severity)}">
<h4><span class="dx-sev">${escapeHtml(f.severity.toUpperCase())}</span>${escapeHtml(f.title)}</h4>
<p class="dx-interpretation">${escapeHtml(f.interpretation)}</p>
${f.points.length > 0 ? `<p>Points: ${f.points.map((p) => `<code>${escapeHtml(p)}</code>`).join(', ')}</p>` : ''}
${f.facts.length > 0 ? `<ul data-testid="finding-facts">${f.facts.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ul>` : ''}
${f.check_next.length > 0 ? `<p>Check next:</p><ol data-testid="finding-check-next">${f.check_next.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ol>` : ''}
${f.evidence.length > 0 ? `<p>Evidence:</p>${links(f.evidence, link)}` : '<p>Evidence: none recorded</p>'}
</article>`;
}

/** Two stacked bars (baseline, current) of the mean components; a missing component draws nothing. */
export function decompositionBar(baseline: Decomposition | null, current: Decomposition): string {
  const rows: [string, Decomposition][] = baseline
    ? [
        ['baseline', baseline],
        ['current', current],
      ]
    : [['current', current]];
  const total = (d: Decomposition): number =>
    COMPONENTS.reduce((sum, c) => sum + Math.max(0, Number(d[c.key] ?? 0)), 0);
  const max = Math.max(...rows.map(([, d]) => total(d)), 1e-9);
  const [W, left, barH, gap] = [460, 70, 18, 8];
  const height = rows.length * (barH + gap) + 22;
  const bars = rows
    .map(([name, d], i) => {
      let x = left;
      const y = i * (barH + gap);
      const rects = COMPONENTS.map((c) => {
        const value = d[c.key];
        if (value === null || value <= 0) return '';
        const width = ((W - left - 10) * value) / max;
        const rect = `<rect x="${x.toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${barH}" fill="${c.color}" data-component="${c.label}" data-ms="${value}"><title>${escapeHtml(`${name} ${c.label}: ${dxNumber(value)} ms`)}</title></rect>`;
        x += width;
        return rect;
      }).join('');
      return `<text x="0" y="${y + 13}" font-size="11">${name}</text>${rects}<text x="${(x + 4).toFixed(1)}" y="${y + 13}" font-size="10">${escapeHtml(dxNumber(total(d)))} ms</text>`;
    })
    .join('');
  const legendY = rows.length * (barH + gap) + 12;
  const legend = COMPONENTS.map(
    (c, i) =>
      `<rect x="${left + i * 95}" y="${legendY - 9}" width="10" height="10" fill="${c.color}"/><text x="${left + i * 95 + 14}" y="${legendY}" font-size="10">${c.label}</text>`,
  ).join('');
  return `<svg width="${W + 60}" height="${height}" viewBox="0 0 ${W + 60} ${height}" role="img" aria-label="TTFT and E2E decomposition" data-testid="decomposition-bar">${bars}${legend}</svg>`;
}

function decompositionHtml(p: PointDiagnosis): string {
  const { baseline, current } = p.decomposition;
  const keys: { key: keyof Decomposition; label: string }[] = [
    ...COMPONENTS,
    { key: 'ttft_ms', label: 'TTFT' },
    { key: 'e2e_latency_ms', label: 'E2E latency' },
  ];
  const rows = keys.map((k) => [
    escapeHtml(k.label),
    ...(baseline ? [escapeHtml(dxNumber(baseline[k.key]))] : []),
    escapeHtml(dxNumber(current[k.key])),
  ]);
  return `<h5>Decomposition of TTFT and E2E (means, ms)</h5>
<div data-testid="decomposition">${table(['component', ...(baseline ? ['baseline'] : []), 'current'], rows)}${decompositionBar(baseline, current)}</div>`;
}

/** The current run's windows of a family as a small line; its points carry their values. */
function sparkline(move: TelemetryMove): string {
  const values = move.windows.map((w) => w.value).filter((v) => Number.isFinite(v));
  if (values.length < 2) return escapeHtml(values.map(dxNumber).join(', '));
  const [W, H] = [120, 24];
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const y = (v: number): number => (hi === lo ? H / 2 : H - 2 - ((v - lo) / (hi - lo)) * (H - 4));
  const points = values.map(
    (v, i) => `${((i * (W - 4)) / (values.length - 1) + 2).toFixed(1)},${y(v).toFixed(1)}`,
  );
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(`${move.family} per window`)}" data-testid="telemetry-windows"><polyline fill="none" stroke="#0969da" stroke-width="1.5" points="${points.join(' ')}"/><title>${escapeHtml(`${values.length} windows: ${values.slice(0, 24).map(dxNumber).join(', ')}${values.length > 24 ? ', …' : ''}`)}</title></svg>`;
}

function pointHtml(p: PointDiagnosis, link: EvidenceLinker): string {
  const stats = table(
    ['metric', 'stat', 'baseline', 'current', 'change', 'verdict'],
    p.stats.map((s) => [
      escapeHtml(s.metric),
      escapeHtml(s.stat),
      escapeHtml(dxWithUnit(s.baseline, s.unit)),
      escapeHtml(dxWithUnit(s.current, s.unit)),
      escapeHtml(dxPercent(s.relative_change)),
      escapeHtml(s.verdict),
    ]),
    (i) => `dx-${p.stats[i]?.verdict ?? ''}`,
  );
  const tests =
    p.tests.length === 0
      ? ''
      : `<h5>Statistics of the change</h5>${table(
          ['metric', 'method', 'n baseline', 'n current', 'shift (current − baseline)', 'p', 'significant'],
          p.tests.map((t) => [
            escapeHtml(t.metric),
            escapeHtml(t.method === 'repeats' ? 'gate (repeats)' : 'requests (effect size)'),
            escapeHtml(t.samples_baseline),
            escapeHtml(t.samples_current),
            escapeHtml(
              `${dxNumber(t.shift)}${t.shift_low !== null || t.shift_high !== null ? ` [${dxNumber(t.shift_low)}, ${dxNumber(t.shift_high)}]` : ''}`,
            ),
            escapeHtml(dxP(t.p_value)),
            t.significant ? 'yes' : 'no',
          ]),
        )}`;
  const telemetry =
    p.telemetry.length === 0
      ? '<p>No telemetry moved with it (or none was scraped).</p>'
      : table(
          ['family', 'scope', 'node', 'baseline', 'current', 'change', 'windows (current)', 'evidence'],
          p.telemetry.map((t) => [
            escapeHtml(t.family),
            `${escapeHtml(t.scope)} <code>${escapeHtml(t.scope_id)}</code>`,
            escapeHtml(t.node_name ?? '—'),
            escapeHtml(dxWithUnit(t.baseline, t.unit)),
            escapeHtml(dxWithUnit(t.current, t.unit)),
            escapeHtml(dxPercent(t.relative_change)),
            sparkline(t),
            links(t.evidence, link, 2),
          ]),
        );
  const outliers =
    p.outliers.length === 0
      ? '<p>No outlier requests.</p>'
      : table(
          ['request', 'trace', 'TTFT ms', 'E2E ms', 'evidence'],
          p.outliers.map((o) => [
            `<code>${escapeHtml(o.request_id)}</code>`,
            o.trace_id === null ? '—' : `<code>${escapeHtml(o.trace_id)}</code>`,
            escapeHtml(dxNumber(o.ttft_ms)),
            escapeHtml(dxNumber(o.e2e_latency_ms)),
            links([o.evidence], link, 1),
          ]),
        );
  const iterations = `iteration ${p.iteration}${p.baseline_iteration !== null ? ` vs baseline iteration ${p.baseline_iteration}` : ''}`;
  return `<section class="dx-point" data-testid="diagnosis-point" data-point="${escapeHtml(pointKey(p))}" data-shape="${escapeHtml(p.shape)}">
<h4>${escapeHtml(p.scenario)} @ ${escapeHtml(p.point)}: ${escapeHtml(SHAPE_TEXT[p.shape] ?? p.shape)} <small>(${escapeHtml(iterations)})</small></h4>
${p.stats.length > 0 ? `<h5>What moved</h5>${stats}` : ''}
${tests}
${decompositionHtml(p)}
<h5>Telemetry that moved</h5>${telemetry}
<h5>Outlier requests</h5>${outliers}
${p.evidence.length > 0 ? `<h5>Evidence</h5>${links(p.evidence, link)}` : ''}
</section>`;
}

/** The section (an `<h2>` and what follows); a null diagnosis (a run group) says why there is none. */
export function diagnosisHtml(d: Diagnosis | null, link: EvidenceLinker): string {
  if (d === null) {
    return `<section id="diagnosis" data-testid="diagnosis" data-findings="0"><h2>Diagnosis</h2><p>${escapeHtml(NO_DIAGNOSIS_GROUP)}</p></section>`;
  }
  const changed = d.points.filter((p) => p.changed);
  const unchanged = d.points.filter((p) => !p.changed);
  const findings =
    d.findings.length === 0
      ? '<p data-testid="no-findings">No playbook fired on this evidence.</p>'
      : d.findings.map((f) => findingHtml(f, link)).join('\n');
  return `<section id="diagnosis" data-testid="diagnosis" data-findings="${d.findings.length}">
<h2>Diagnosis</h2>
<p>${escapeHtml(diagnosisIntro(d))}</p>
<h3>Findings (${d.findings.length})</h3>
${findings}
<h3>Changed points (${changed.length} of ${d.points.length})</h3>
${changed.length === 0 ? '<p>No point changed.</p>' : changed.map((p) => pointHtml(p, link)).join('\n')}
${unchanged.length > 0 ? `<p>Unchanged: ${unchanged.map((p) => `<code>${escapeHtml(pointKey(p))}</code>`).join(', ')}</p>` : ''}
${d.notes.length > 0 ? `<h3>Notes</h3><ul class="dx-notes" data-testid="diagnosis-notes">${d.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
</section>`;
}
