/**
 * The diagnosis section of the Markdown report: the findings first (severity,
 * title, reading, facts, what to check next, evidence links), then per changed
 * point the statistics that moved, the decomposition baseline vs current, the
 * telemetry that moved and the outlier requests, then the notes. The same
 * Diagnosis and evidence links as the HTML section; every value escaped.
 */
import type { Diagnosis, EvidencePointer, Finding, PointDiagnosis } from '../diagnose/diagnosis.js';
import { mdLink, mdTable, mdText } from './markdown.js';
import {
  COMPONENTS,
  diagnosisIntro,
  dxNumber,
  dxP,
  dxPercent,
  dxWithUnit,
  NO_DIAGNOSIS_GROUP,
  pointKey,
  SHAPE_TEXT,
  type EvidenceLinker,
} from './report-diagnosis.js';

function links(pointers: EvidencePointer[], link: EvidenceLinker, max = 8): string {
  const shown = pointers.slice(0, max).map((p) => {
    const { href, text } = link(p);
    return href === null ? mdText(text) : mdLink(text, href);
  });
  if (pointers.length > max) shown.push(`… and ${pointers.length - max} more`);
  return shown.join('; ');
}

function finding(f: Finding, index: number, link: EvidenceLinker): string[] {
  return [
    `${index + 1}. **${mdText(f.severity.toUpperCase())}: ${mdText(f.title)}**: ${mdText(f.interpretation)}${
      f.points.length > 0 ? ` (${f.points.map(mdText).join(', ')})` : ''
    }`,
    ...f.facts.map((x) => `   - ${mdText(x)}`),
    ...(f.check_next.length > 0 ? [`   - Check next: ${f.check_next.map(mdText).join('; ')}`] : []),
    `   - Evidence: ${f.evidence.length > 0 ? links(f.evidence, link) : 'none recorded'}`,
  ];
}

function point(p: PointDiagnosis, link: EvidenceLinker): string[] {
  const { baseline, current } = p.decomposition;
  const out = [
    `**${mdText(pointKey(p))}**: ${mdText(SHAPE_TEXT[p.shape] ?? p.shape)} (iteration ${p.iteration}${
      p.baseline_iteration !== null ? ` vs baseline iteration ${p.baseline_iteration}` : ''
    })`,
    '',
  ];
  if (p.stats.length > 0) {
    out.push(
      mdTable(
        ['metric', 'stat', 'baseline', 'current', 'change', 'verdict'],
        p.stats.map((s) => [
          s.metric,
          s.stat,
          dxWithUnit(s.baseline, s.unit),
          dxWithUnit(s.current, s.unit),
          dxPercent(s.relative_change),
          s.verdict,
        ]),
      ),
      '',
    );
  }
  for (const t of p.tests) {
    out.push(
      `- ${mdText(t.metric)}: ${t.method === 'repeats' ? 'gate statistics over repeats' : 'request-level effect size'}, n = ${t.samples_baseline} vs ${t.samples_current}, shift ${dxNumber(t.shift)}${
        t.shift_low !== null || t.shift_high !== null
          ? ` [${dxNumber(t.shift_low)}, ${dxNumber(t.shift_high)}]`
          : ''
      }, p ${dxP(t.p_value)}, ${t.significant ? 'significant' : 'not significant'}`,
    );
  }
  if (p.tests.length > 0) out.push('');
  out.push(
    'Decomposition (means, ms):',
    '',
    mdTable(
      ['component', ...(baseline ? ['baseline'] : []), 'current'],
      [
        ...COMPONENTS,
        { key: 'ttft_ms' as const, label: 'TTFT' },
        { key: 'e2e_latency_ms' as const, label: 'E2E latency' },
      ].map((c) => [c.label, ...(baseline ? [dxNumber(baseline[c.key])] : []), dxNumber(current[c.key])]),
    ),
    '',
  );
  if (p.telemetry.length > 0) {
    out.push(
      'Telemetry that moved:',
      '',
      mdTable(
        ['family', 'scope', 'node', 'baseline', 'current', 'change', 'windows'],
        p.telemetry.map((t) => [
          t.family,
          `${t.scope} ${t.scope_id}`,
          t.node_name ?? '—',
          dxWithUnit(t.baseline, t.unit),
          dxWithUnit(t.current, t.unit),
          dxPercent(t.relative_change),
          t.windows.length,
        ]),
      ),
      '',
    );
    // Links cannot sit in a table cell here (the cell escapes them): one line per family.
    for (const t of p.telemetry.filter((m) => m.evidence.length > 0)) {
      out.push(`- ${mdText(`${t.family} ${t.scope_id}`)}: ${links(t.evidence, link, 2)}`);
    }
    out.push('');
  }
  if (p.outliers.length > 0) {
    out.push('Outlier requests:', '');
    for (const o of p.outliers) {
      out.push(
        `- ${mdText(o.request_id)}${o.trace_id !== null ? ` (trace ${mdText(o.trace_id)})` : ''}: TTFT ${dxWithUnit(o.ttft_ms, 'ms')}, E2E ${dxWithUnit(o.e2e_latency_ms, 'ms')}: ${links([o.evidence], link, 1)}`,
      );
    }
    out.push('');
  }
  if (p.evidence.length > 0) out.push(`Evidence: ${links(p.evidence, link)}`, '');
  return out;
}

/** The section's lines (ending with an empty line). */
export function diagnosisMarkdown(d: Diagnosis | null, link: EvidenceLinker): string[] {
  if (d === null) return ['**Diagnosis**', '', mdText(NO_DIAGNOSIS_GROUP), ''];
  const changed = d.points.filter((p) => p.changed);
  const unchanged = d.points.filter((p) => !p.changed);
  const out = ['**Diagnosis**', '', mdText(diagnosisIntro(d)), ''];
  out.push(`Findings (${d.findings.length}):`, '');
  if (d.findings.length === 0) out.push('No playbook fired on this evidence.');
  d.findings.forEach((f, i) => out.push(...finding(f, i, link)));
  out.push('', `Changed points (${changed.length} of ${d.points.length}):`, '');
  for (const p of changed) out.push(...point(p, link));
  if (unchanged.length > 0)
    out.push(`Unchanged: ${unchanged.map((p) => mdText(pointKey(p))).join(', ')}.`, '');
  if (d.notes.length > 0) out.push('Notes:', '', ...d.notes.map((n) => `- ${mdText(n)}`), '');
  return out;
}
