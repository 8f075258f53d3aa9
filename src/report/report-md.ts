/**
 * The report as Markdown for a pull-request comment: identity, the chosen view,
 * the diagnosis (findings linked to their raw evidence), the per-point table, each SLO
 * met or not and, with a baseline, the deltas.
 * Tables only, no charts. Every string that came from a job, a server or the
 * warehouse (model names, labels, URLs, ids) is escaped: Markdown renderers pass
 * raw HTML through, so a model named `<script>` must arrive as text, and no value
 * may open a link, close a code span or fence, or break a table.
 */
import type { ReportData, Subject } from './report-data.js';
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
import { codeBlock, codeSpan, mdTable, mdText } from './markdown.js';
import { diagnosisMarkdown } from './report-diagnosis-md.js';
import { PREFIX_CACHE_HEADERS, PREFIX_CACHE_NOTE, prefixCacheRows } from './report-prefix-cache-table.js';
import { fileEvidenceLinker } from './report-diagnosis.js';

export { codeSpan, mdText };

function subjectBlock(s: Subject): string {
  const run = s.runs[0] ?? {};
  const priced = s.points.some((p) => p.metrics.cost_per_million_output_tokens_usd !== null);
  const what =
    s.kind === 'run_group'
      ? `run group ${codeSpan(s.id)} (${s.run_ids.length} repeats, medians)`
      : `run ${codeSpan(s.id)}`;
  return [
    `**${mdText(s.label)}**: ${what}`,
    '',
    mdTable(
      ['status', 'model', 'endpoint', 'engine', 'GPU', 'artifact_manifest_digest', 'workload_spec_digest'],
      [
        [
          subjectStatus(s),
          run.model,
          run.endpoint_base_url,
          [run.engine, run.engine_version].filter(Boolean).join(' ') || null,
          run.gpu_type,
          run.artifact_manifest_digest,
          run.workload_spec_digest,
        ],
      ],
    ),
    '',
    `Raw evidence: ${
      rawLocations(s)
        .map((r) => codeSpan(r))
        .join(', ') || 'not recorded'
    }`,
    '',
    mdTable(
      [
        'point',
        'n',
        'out tok/s',
        'req/s',
        'TTFT p50',
        'TTFT p99',
        'TPOT p99',
        'ITL p99',
        'E2E p99',
        'errors',
        'goodput',
        // Cost columns only for a priced run: every point's cost per request and per million tokens.
        ...(priced ? ['$/request', '$/M input tok', '$/M output tok'] : []),
      ],
      s.points.map((p) => [
        pointName(p),
        p.repeats,
        p.metrics.output_throughput_tokens_per_s,
        p.metrics.request_throughput_rps,
        p.metrics.ttft_ms_p50,
        p.metrics.ttft_ms_p99,
        p.metrics.tpot_ms_p99,
        p.metrics.itl_ms_p99,
        p.metrics.e2e_latency_ms_p99,
        p.metrics.error_rate,
        p.metrics.goodput_rps,
        ...(priced
          ? [
              p.metrics.cost_per_request_usd,
              p.metrics.cost_per_million_input_tokens_usd,
              p.metrics.cost_per_million_output_tokens_usd,
            ]
          : []),
      ]),
    ),
    ...sloBlock(s),
    ...prefixCacheBlock(s),
  ].join('\n');
}

/** TTFT by prefix-cache state and the hit rate, for points that have them. */
function prefixCacheBlock(s: Subject): string[] {
  const rows = prefixCacheRows(s);
  if (rows.length === 0) return [];
  return ['', `Prefix cache: ${mdText(PREFIX_CACHE_NOTE)}`, '', mdTable(PREFIX_CACHE_HEADERS, rows)];
}

/** Each SLO as written, at its percentile, met or not (goodput in the table above applies them per request). */
function sloBlock(s: Subject): string[] {
  const rows = sloRows(s);
  if (rows.length === 0) return [];
  const how = s.kind === 'run_group' ? ', medians over repeats' : '';
  return [
    '',
    `SLOs, each checked at its percentile${how}:`,
    '',
    mdTable(
      SLO_HEADERS,
      rows.map((r) => r.cells),
    ),
  ];
}

export function renderMarkdown(data: ReportData, view: View): string {
  const title = data.baseline
    ? `infermark report: ${codeSpan(data.subject.id)} vs ${codeSpan(data.baseline.id)}`
    : `infermark report: ${codeSpan(data.subject.id)}`;
  const out = [
    `### ${title}`,
    '',
    `_${mdText(view)} view · generated ${mdText(data.generated_at)} · latencies in ms_`,
    '',
  ];
  for (const section of viewSections(data, view)) {
    out.push(`**${mdText(section.heading)}**`, '');
    for (const item of section.items) out.push(`- ${mdText(item)}`);
    if (section.code) out.push(...codeBlock('sh', section.code));
    out.push('');
  }
  if (data.diagnosis !== undefined) {
    const lineage = [...(data.baseline?.lineage ?? []), ...data.subject.lineage];
    out.push(...diagnosisMarkdown(data.diagnosis, fileEvidenceLinker(lineage)));
  }
  for (const s of [data.baseline, data.subject]) if (s) out.push(subjectBlock(s), '');
  if (data.per_turn && data.per_turn.length > 0) {
    out.push(
      '**TTFT by turn**',
      '',
      mdText(TURN_NOTE),
      '',
      mdTable(
        TURN_HEADERS,
        data.per_turn.map((r) => turnCells(r, pointName(r))),
      ),
      '',
    );
  }
  if (data.baseline) {
    const withGate = data.gate?.status === 'ok';
    const shown = data.deltas.filter((d) => d.verdict === 'better' || d.verdict === 'worse');
    const oneSided = new Set(
      data.deltas.filter((d) => d.a === null || d.b === null).map((d) => pointName(d)),
    );
    out.push(
      `**Deltas (B vs A, ${data.deltas_source}; changes within ±5 % omitted)**`,
      ...(oneSided.size > 0
        ? ['', `Measured on one side only: ${[...oneSided].map(mdText).join(', ')}.`]
        : []),
      '',
      shown.length === 0
        ? 'No metric changed by more than 5 %.'
        : mdTable(
            ['point', 'metric', 'A', 'B', 'change %', 'verdict', ...(withGate ? ['gate'] : [])],
            shown.map((d) => [
              pointName(d),
              d.metric,
              d.a,
              d.b,
              d.change_pct,
              d.verdict,
              ...(withGate ? [d.gate_verdict ?? null] : []),
            ]),
          ),
      '',
    );
    if (data.gate) {
      out.push('**Gate verdicts (B against A as the baseline)**', '', mdText(data.gate.message), '');
      if (data.gate.status === 'ok') {
        out.push(
          // The legend's own code spans (`infermark gate`) stay; the tolerances path in it is escaped.
          mdText(verdictLegend(data.gate)),
          '',
          mdTable(VERDICT_HEADERS, data.gate.rows.map(verdictCells)),
          '',
        );
      }
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}
