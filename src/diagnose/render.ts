/**
 * A Diagnosis as text for a terminal and as Markdown (a PR comment, `--format md`):
 * findings first, each with its facts, what to check next and its evidence pointers
 * (`run_id:path:line`), then the points that changed. JSON is the Diagnosis itself.
 */
import type { Diagnosis, EvidencePointer, PointDiagnosis } from './diagnosis.js';

/** `01HX…:iterations/003/requests.jsonl:42`: a pointer anyone can open with `sed -n 42p`. */
export function pointerText(p: EvidencePointer): string {
  return `${p.run_id}:${p.path}${p.line === undefined ? '' : `:${p.line}`}`;
}

const pct = (change: number | null): string =>
  change === null ? 'n/a' : `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%`;
const fmt = (value: number | null): string => (value === null ? 'n/a' : value.toFixed(1));
/** A telemetry value: small ones (seconds, fractions, rates) keep three significant digits. */
const level = (value: number | null): string =>
  value === null
    ? 'n/a'
    : Math.abs(value) >= 100 || value === 0
      ? value.toFixed(value === 0 ? 0 : 1)
      : value.toPrecision(3);
/** `gpu GPU-1a2b…`, or `server` where the scope's id is its name. */
const scopeText = (scope: string, id: string): string => clean(scope === id ? scope : `${scope} ${id}`);

/** Exporter labels reach the terminal: no control characters (escape sequences) from a scrape. */
function clean(text: string): string {
  return text.replace(/\p{Cc}/gu, '?');
}

function changedStats(point: PointDiagnosis): string[] {
  return point.stats
    .filter((s) => s.verdict !== 'same')
    .map(
      (s) =>
        `${s.metric} ${s.stat} ${fmt(s.baseline)} → ${fmt(s.current)} ${s.unit} (${pct(s.relative_change)}, ${s.verdict})`,
    );
}

function decompositionLine(point: PointDiagnosis): string {
  const d = point.decomposition;
  const part = (label: string, key: keyof typeof d.current): string =>
    `${label} ${fmt(d.baseline ? d.baseline[key] : null)} → ${fmt(d.current[key])}`;
  return (
    [
      part('client queue', 'client_queue_ms'),
      part('server queue', 'server_queue_ms'),
      part('prefill', 'prefill_ms'),
      part('decode', 'decode_ms'),
    ].join(' · ') + ' ms (means)'
  );
}

function testLine(point: PointDiagnosis): string[] {
  return point.tests.map((t) =>
    t.metric.endsWith('.tail')
      ? `${t.metric}: requests above the baseline's p99, p ${t.p_value === null ? 'n/a' : t.p_value.toExponential(1)} (n ${t.samples_current})`
      : `${t.metric}: shift ${fmt(t.shift)} ms [${fmt(t.shift_low)}, ${fmt(t.shift_high)}] (99%), p ${t.p_value === null ? 'n/a' : t.p_value.toExponential(1)}, n ${t.samples_baseline} → ${t.samples_current} requests`,
  );
}

/** Plain text for a terminal. */
export function diagnosisText(d: Diagnosis): string {
  const lines: string[] = [];
  lines.push(
    d.baseline_run_id ? `diagnosis of ${d.run_id} against ${d.baseline_run_id}` : `diagnosis of ${d.run_id}`,
  );
  const changed = d.points.filter((p) => p.changed);
  lines.push(`${d.points.length} point(s), ${changed.length} changed; ${d.findings.length} finding(s)`, '');
  for (const f of d.findings) {
    lines.push(`[${f.severity}] ${f.title} (${f.playbook}) at ${f.points.join(', ')}`);
    lines.push(`  ${f.interpretation}`);
    for (const fact of f.facts) lines.push(`  - ${clean(fact)}`);
    lines.push(`  check next: ${f.check_next.join('; ')}`);
    for (const e of f.evidence.slice(0, 4)) lines.push(`  evidence: ${e.label} — ${pointerText(e)}`);
    lines.push('');
  }
  for (const p of changed) {
    lines.push(`${p.scenario}@${p.point} (iteration ${p.iteration}): ${p.shape}`);
    for (const s of changedStats(p)) lines.push(`  ${s}`);
    for (const t of testLine(p)) lines.push(`  ${t}`);
    lines.push(`  ${decompositionLine(p)}`);
    for (const m of p.telemetry.slice(0, 6)) {
      lines.push(
        `  ${m.family} at ${scopeText(m.scope, m.scope_id)}: ${level(m.baseline)} → ${level(m.current)} ${m.unit}`,
      );
    }
    for (const o of p.outliers.slice(0, 3)) {
      lines.push(`  outlier ${o.request_id} e2e ${fmt(o.e2e_latency_ms)} ms — ${pointerText(o.evidence)}`);
    }
    lines.push('');
  }
  for (const note of d.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n').trimEnd()}\n`;
}

const md = (text: string): string => clean(text).replace(/[|<>]/g, (c) => `\\${c}`);

/** Markdown, for a PR comment or a report. */
export function diagnosisMarkdown(d: Diagnosis): string {
  const lines: string[] = ['## Diagnosis', ''];
  lines.push(
    d.baseline_run_id
      ? `Run \`${d.run_id}\` against baseline \`${d.baseline_run_id}\`.`
      : `Run \`${d.run_id}\`.`,
    '',
  );
  if (d.findings.length === 0) lines.push('No playbook fired.', '');
  for (const f of d.findings) {
    lines.push(
      `### ${md(f.title)} — \`${f.playbook}\` (${f.severity})`,
      '',
      `${md(f.interpretation)} At ${f.points.map((p) => `\`${p}\``).join(', ')}.`,
      '',
    );
    for (const fact of f.facts) lines.push(`- ${md(fact)}`);
    lines.push('', `Check next: ${f.check_next.map(md).join('; ')}.`, '');
    for (const e of f.evidence.slice(0, 4)) lines.push(`- evidence: ${md(e.label)} — \`${pointerText(e)}\``);
    lines.push('');
  }
  const changed = d.points.filter((p) => p.changed);
  if (changed.length > 0) {
    lines.push(
      '### Points that changed',
      '',
      '| point | shape | changes | decomposition |',
      '|---|---|---|---|',
    );
    for (const p of changed) {
      lines.push(
        `| \`${p.scenario}@${p.point}\` | ${p.shape} | ${changedStats(p).map(md).join('<br>')} | ${md(decompositionLine(p))} |`,
      );
    }
    lines.push('');
  }
  for (const note of d.notes) lines.push(`> ${md(note)}`);
  return `${lines.join('\n').trimEnd()}\n`;
}
