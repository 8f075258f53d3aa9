/**
 * A verdict for people and for CI: Markdown (a pull-request comment: the verdict,
 * a table of every check, and a block per failure with what explains it) and
 * JUnit XML (one test case per check; FAIL is a failure, INCONCLUSIVE a skip
 * with its reason), which every CI system renders.
 */
import type { BudgetCheck, RegressionCheck } from './checks.js';
import type { PointContext } from './run-group.js';
import type { GateVerdict } from './verdict.js';

const ICON: Record<string, string> = { PASS: '✅', FAIL: '❌', INCONCLUSIVE: '⚠️' };

export function renderMarkdown(v: GateVerdict): string {
  const lines: string[] = [];
  lines.push(`## infermark gate (${v.mode}): ${ICON[v.verdict]} ${v.verdict}`);
  lines.push('');
  lines.push(
    `${v.counts.pass} pass, ${v.counts.fail} fail, ${v.counts.inconclusive} inconclusive · ` +
      `${v.candidate.runs.length} repeat(s) of case \`${short(v.candidate.config_fingerprint)}\`` +
      (v.profile ? ` · profile ${v.profile}` : ''),
  );
  lines.push('');
  const failing = [...v.regression_checks, ...v.budget_checks].filter((c) => c.verdict !== 'PASS');
  for (const check of failing)
    lines.push(...('allowed' in check ? regressionBlock(check) : budgetBlock(check)), '');
  if (v.regression_checks.length > 0) {
    lines.push('| key | verdict | baseline | candidate | Δ | allowed | p (Holm) | regression bounds |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const c of v.regression_checks) {
      lines.push(
        `| \`${c.key}\` | ${ICON[c.verdict]} ${c.verdict}${c.evidence === 'ok' ? '' : ` (${c.evidence})`} | ${num(c.baseline.median)} | ${num(c.candidate.median)} | ${signed(c.delta)}${c.delta_pct === null ? '' : ` (${signed(c.delta_pct)}%)`} | ${num(c.allowed)} | ${p(c.test.p_holm)} | ${num(c.regression.lower_bound)} … ${num(c.regression.upper_bound)} ${c.unit} |`,
      );
    }
  }
  if (v.budget_checks.length > 0) {
    lines.push('| key | verdict | value | min | max |');
    lines.push('|---|---|---|---|---|');
    for (const c of v.budget_checks) {
      lines.push(
        `| \`${c.key}\` | ${ICON[c.verdict]} ${c.verdict} | ${num(c.value)} ${c.unit} | ${c.min ?? ''} | ${c.max ?? ''} |`,
      );
    }
  }
  lines.push('');
  lines.push(
    `Assets: ${Object.entries(v.assets)
      .map(([name, a]) => `${name} \`${a.path}\` (${short(a.sha256)})`)
      .join(', ')}. Runs: ${v.candidate.runs.map((r) => `\`${r.run_id}\``).join(', ')}.`,
  );
  return `${lines.join('\n')}\n`;
}

function regressionBlock(c: RegressionCheck): string[] {
  const out = [
    `### ${ICON[c.verdict]} ${c.verdict}: \`${c.key}\``,
    `- value ${num(c.candidate.median)} ${c.unit} vs baseline ${num(c.baseline.median)} ${c.unit}: Δ ${signed(c.delta)} ${c.unit}${c.delta_pct === null ? '' : ` (${signed(c.delta_pct)}%)`}, allowed ${num(c.allowed)} ${c.unit} (${c.tolerance.rule})`,
    `- Mann-Whitney U = ${c.test.u}, p = ${p(c.test.p)}, Holm ${p(c.test.p_holm)}, α = ${c.test.alpha}; Hodges-Lehmann regression ${num(c.regression.estimate)} ${c.unit}, ≥ ${num(c.regression.lower_bound)} and ≤ ${num(c.regression.upper_bound)} (each bound one-sided at ${(c.regression.confidence * 100).toFixed(1)}%)`,
    `- ${c.reason}`,
  ];
  if (c.repeats_needed !== null)
    out.push(`- about ${c.repeats_needed} repeats per group would likely decide it`);
  if (c.evidence_note) out.push(`- ${c.evidence} evidence: ${c.evidence_note}`);
  out.push(...contextLines(c.context));
  return out;
}

function budgetBlock(c: BudgetCheck): string[] {
  return [
    `### ${ICON[c.verdict]} ${c.verdict}: \`${c.key}\``,
    `- value ${num(c.value)} ${c.unit} (median of ${c.samples.length} repeat(s): ${c.samples.map(num).join(', ')}); budget ${c.min !== null ? `min ${c.min}` : ''}${c.min !== null && c.max !== null ? ', ' : ''}${c.max !== null ? `max ${c.max}` : ''} (${c.budget})`,
    ...contextLines(c.context),
  ];
}

/** What explains a failure, per repeat, as the harness document asks: errors, client delay, drops, server counters. */
function contextLines(contexts: PointContext[]): string[] {
  if (contexts.length === 0) return [];
  const errorRates = contexts.map((c) =>
    c.error_rate === null ? '-' : `${(c.error_rate * 100).toFixed(1)}%`,
  );
  const loop = contexts.map((c) =>
    c.event_loop_p99_ms === null ? '-' : `${c.event_loop_p99_ms.toFixed(1)}${c.event_loop_flag ? '⚠' : ''}`,
  );
  const out = [
    `- context per repeat: error rate ${errorRates.join(', ')}; client event-loop p99 ms ${loop.join(', ')}; dropped arrivals ${contexts.map((c) => c.dropped_arrivals).join(', ')}`,
  ];
  const classes = new Set(contexts.flatMap((c) => Object.keys(c.errors_by_class)));
  if (classes.size > 0)
    out.push(
      `- errors by class: ${[...classes].map((k) => `${k} ${contexts.map((c) => c.errors_by_class[k] ?? 0).join('/')}`).join('; ')}`,
    );
  const series = new Set(contexts.flatMap((c) => Object.keys(c.server)));
  for (const name of [...series].sort().slice(0, 8)) {
    out.push(
      `- server \`${name}\`: ${contexts.map((c) => (c.server[name] === undefined ? '-' : num(c.server[name] as number))).join(', ')}`,
    );
  }
  return out;
}

export function renderJUnit(v: GateVerdict): string {
  const cases: string[] = [];
  for (const c of v.regression_checks) cases.push(testCase(`regression.${c.key}`, c.verdict, `${c.reason}`));
  for (const c of v.budget_checks) {
    const bounds = `${c.min !== null ? `min ${c.min} ` : ''}${c.max !== null ? `max ${c.max}` : ''}`.trim();
    cases.push(testCase(`budget.${c.key}`, c.verdict, `value ${num(c.value)} ${c.unit}; budget ${bounds}`));
  }
  const failures = cases.filter((c) => c.includes('<failure')).length;
  const skipped = cases.filter((c) => c.includes('<skipped')).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="infermark gate" tests="${cases.length}" failures="${failures}" skipped="${skipped}">`,
    `  <testsuite name="infermark.gate.${v.mode}" tests="${cases.length}" failures="${failures}" skipped="${skipped}" timestamp="${v.created_at}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function testCase(name: string, verdict: string, message: string): string {
  const open = `    <testcase classname="infermark.gate" name="${xml(name)}">`;
  if (verdict === 'FAIL')
    return `${open}<failure message="${xml(message)}">${xml(message)}</failure></testcase>`;
  if (verdict === 'INCONCLUSIVE')
    return `${open}<skipped message="${xml(`INCONCLUSIVE: ${message}`)}"/></testcase>`;
  return `${open}</testcase>`;
}

function xml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

function num(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  return Math.abs(value) >= 100 ? value.toFixed(1) : Number(value.toPrecision(4)).toString();
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${num(value)}`;
}

function p(value: number): string {
  return value < 0.001 ? value.toExponential(1) : value.toFixed(3);
}

function short(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
