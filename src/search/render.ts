/**
 * search.json in words for the terminal: the knee, the last passing and first failing
 * probes with each SLO check and where their evidence is, the cost within SLO, every probe
 * in the order run, and the throughput–latency Pareto frontier.
 */
import type { SearchDocument, SearchProbe } from './search-plan.js';

const STOPS: Record<SearchDocument['stopped_by'], string> = {
  precision: 'the bracket is within the precision',
  max_passes: 'the highest load allowed passed (raise --max)',
  min_fails: 'the lowest load already fails (lower --min)',
  max_probes: 'the probe budget is spent (the knee is within the bracket shown)',
  interrupted: 'the run was interrupted',
};

export function renderSearch(doc: SearchDocument): string {
  const unit = doc.by === 'rate' ? ' req/s' : ' concurrent';
  const load = (value: number | null): string => (value === null ? '—' : `${num(value)}${unit}`);
  const lines: string[] = [];
  lines.push(
    doc.knee === null
      ? `SLA search: no load met every SLO (${doc.slos.join(', ')})`
      : `SLA search: knee ${load(doc.knee)}: the highest load at which every SLO holds (${doc.slos.join(', ')})`,
  );
  lines.push(
    `  ${doc.probes_run} probes (at most ${doc.bounds.probe_bound} for these bounds), ${doc.repeats} iteration(s) each of ` +
      `${doc.requests_per_probe} measured requests; stopped: ${STOPS[doc.stopped_by]}`,
  );
  if (doc.upper !== null) lines.push(`  bracket: passes at ${load(doc.knee)}, fails from ${load(doc.upper)}`);
  for (const [label, probe] of [
    ['last passing', doc.last_pass],
    ['first failing', doc.first_fail],
  ] as const) {
    if (probe) lines.push(...probeLines(label, probe, load));
  }
  if (doc.cost_at_knee && doc.price) {
    const c = doc.cost_at_knee;
    lines.push(
      `  cost within SLO (at the knee, $${num(doc.price.per_hour_usd)}/h: ${doc.price.source}): ` +
        `$${money(c.cost_per_million_output_tokens_usd)} per million output tokens, ` +
        `$${money(c.cost_per_million_input_tokens_usd)} per million input tokens, $${money(c.cost_per_request_usd)} per request`,
    );
  } else if (!doc.price) {
    lines.push('  cost: no price given (spec.costPerHourUsd or spec.cost, docs/cost.md)');
  }
  lines.push('  probes:');
  for (const p of doc.probes) {
    lines.push(
      `    ${String(p.probe + 1).padStart(2)}. ${load(p.load).padEnd(18)} ${p.pass ? 'pass' : 'FAIL'}  ` +
        `${num(p.request_throughput_rps)} req/s done, ${num(p.output_throughput_tokens_per_s)} output tokens/s` +
        `${p.ceiling_rps !== null ? `, capacity ≤ ${num(p.ceiling_rps)} req/s` : ''}  (${p.repeats.map((r) => r.evidence.dir).join(', ')})`,
    );
  }
  lines.push(`  Pareto frontier (output tokens/s vs ${doc.frontier_latency.replace(/(<=|<|>=|>).*$/, '')}):`);
  for (const f of doc.frontier) {
    lines.push(
      `    ${num(f.output_tokens_per_s)} tokens/s at ${num(f.latency_ms)} ms (${load(f.load)}, iteration ${f.iteration})`,
    );
  }
  return lines.join('\n');
}

function probeLines(label: string, probe: SearchProbe, load: (v: number) => string): string[] {
  const out = [`  ${label}: ${load(probe.load)}`];
  for (const repeat of probe.repeats) {
    out.push(`    ${repeat.evidence.dir} (${repeat.evidence.summary})${repeat.pass ? '' : ' failed'}`);
    for (const c of repeat.checks) {
      const state = c.met === null ? 'not measured' : c.met ? 'met' : 'MISSED';
      out.push(`      ${c.slo}: ${num(c.measured)} ms over ${c.samples} samples: ${state}`);
    }
    for (const reason of repeat.reasons.filter(
      (r) => r.includes('too few') || r.includes('dropped') || r.includes('ended'),
    ))
      out.push(`      note: ${reason}`);
  }
  return out;
}

function num(value: number | null): string {
  if (value === null) return '—';
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 100 ? 1 : 2);
}

function money(value: number | null): string {
  if (value === null) return '—';
  return value >= 1 ? value.toFixed(2) : value.toPrecision(3);
}
