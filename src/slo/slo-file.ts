/**
 * The SLO file `slo propose` writes and `slo export` reads: YAML whose `slos` list is
 * the job's `spec.slos` lines as they are, and whose `proposed` list says how each was
 * derived (run, scenario, load, estimate, confidence interval, sample size, margin).
 * `slo export` also takes a job file (its `spec.slos`) or a bare list of lines.
 */
import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { ValidationError, type ValidationIssue } from '../base/errors.js';
import { parseSlo } from '../spec/slo.js';
import type { Slo } from '../spec/slo-types.js';
import { loadLabel } from './points.js';
import type { Proposal } from './propose.js';

/** Where a proposal came from, for the file's header. */
export interface ProposalSource {
  run_id: string;
  /** The run folder, when proposed from one. */
  folder?: string;
}

const ms = (value: number | null): string => (value === null ? 'none' : `${value.toFixed(1)} ms`);

/** One line of text per SLO: value, interval, sample size, margin. */
export function describeProposed(slo: Proposal['slos'][number]): string {
  const ci = slo.ci;
  return (
    `${slo.slo}   p${slo.percentile} measured ${ms(slo.estimate_ms)}, ` +
    `${(ci.level * 100).toFixed(0)}% CI [${ms(ci.lower)}, ${ms(ci.upper)}] from n=${slo.samples}, ` +
    `+${(slo.margin * 100).toFixed(0)}% margin` +
    (slo.snapped_to === null ? '' : `, rounded up to ${slo.snapped_to}`)
  );
}

/** The SLO file for a proposal. */
export function sloFileYaml(proposal: Proposal, source: ProposalSource): string {
  const header = [
    `# SLOs proposed by infermark slo propose from run ${source.run_id}`,
    `# scenario ${proposal.scenario}, ${proposal.load_reason}; error rate ${proposal.error_rate}`,
    '# The slos lines go into a job as spec.slos; `infermark slo export` turns them into',
    '# Prometheus rules and Grafana dashboards.',
    ...proposal.slos.map((s) => `#   ${describeProposed(s)}`),
  ];
  const document = {
    slos: proposal.slos.map((s) => s.slo),
    proposed: {
      run_id: source.run_id,
      scenario: proposal.scenario,
      load_kind: proposal.load_kind,
      load: proposal.load,
      load_label: loadLabel(proposal),
      load_reason: proposal.load_reason,
      iterations: proposal.iterations,
      error_rate: proposal.error_rate,
      slos: proposal.slos.map((s) => ({
        slo: s.slo,
        estimate_ms: s.estimate_ms,
        ci_level: s.ci.level,
        ci_lower_ms: s.ci.lower,
        ci_upper_ms: s.ci.upper,
        ci_ranks: [s.ci.lower_rank, s.ci.upper_rank],
        ci_coverage: s.ci.coverage,
        samples: s.samples,
        margin: s.margin,
        threshold_ms: s.threshold_ms,
        snapped_to: s.snapped_to,
        note: s.note,
      })),
    },
  };
  return `${header.join('\n')}\n${stringify(document, { lineWidth: 0 })}`;
}

/** The SLO lines of a file: `slos:` at the top, a job's `spec.slos`, or a bare list. */
export async function readSloFile(file: string): Promise<Slo[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ValidationError([
      { file, path: '', message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}` },
    ]);
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new ValidationError([{ file, path: '', message: `not valid YAML: ${(error as Error).message}` }]);
  }
  const spec = (document as { spec?: { slos?: unknown } } | null)?.spec;
  const [path, lines] = Array.isArray(document)
    ? ['', document as unknown]
    : spec && typeof spec === 'object' && 'slos' in spec
      ? ['spec.slos', spec.slos]
      : ['slos', (document as { slos?: unknown } | null)?.slos];
  if (!Array.isArray(lines) || lines.length === 0) {
    throw new ValidationError([
      {
        file,
        path: path || 'slos',
        value: lines,
        message:
          'expected a non-empty list of SLO lines such as p99_ttft_ms<=500 (under slos:, spec.slos: or at the top)',
      },
    ]);
  }
  const issues: ValidationIssue[] = [];
  const slos: Slo[] = [];
  lines.forEach((line, i) => {
    const parsed = parseSlo(String(line));
    const at = `${path}[${i}]`;
    if (typeof line !== 'string') issues.push({ file, path: at, value: line, message: 'expected a string' });
    else if (!parsed.ok) issues.push({ file, path: at, value: line, message: parsed.message });
    else slos.push(parsed.slo);
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return slos;
}
