/**
 * The report as an Excel workbook, laid out as genai-bench users know it: a
 * summary sheet with one row per point, a per-request sheet for the drill-down
 * point, the deltas against a baseline, and the run's provenance. exceljs is
 * imported only when this format is asked for.
 */
import type { Row } from '../warehouse/sql.js';
import { POINT_METRICS, type ReportData } from './report-data.js';
import { viewSections, type View } from './report-views.js';

export async function renderXlsx(data: ReportData, view: View, requests: Row[]): Promise<Buffer> {
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'infermark';
  workbook.created = new Date(data.generated_at);

  const summary = workbook.addWorksheet('summary');
  summary.columns = [
    'subject',
    'id',
    'scenario',
    'mode',
    'concurrency',
    'rate_rps',
    'repeats',
    'iteration',
    ...POINT_METRICS,
  ].map((key) => ({ header: key, key, width: Math.max(10, key.length + 2) }));
  for (const s of [data.baseline, data.subject]) {
    if (!s) continue;
    for (const p of s.points) {
      summary.addRow({
        subject: s.label,
        id: s.id,
        scenario: p.scenario,
        mode: p.mode,
        concurrency: p.concurrency,
        rate_rps: p.rate_rps,
        repeats: p.repeats,
        iteration: p.iteration,
        ...p.metrics,
      });
    }
  }
  summary.getRow(1).font = { bold: true };
  summary.views = [{ state: 'frozen', ySplit: 1 }];

  const perRequest = workbook.addWorksheet('requests');
  const requestColumns = [
    'request_id',
    'trace_id',
    'status',
    'error_class',
    'sent_at_us',
    'ttft_ms',
    'tpot_ms',
    'itl_max_ms',
    'e2e_latency_ms',
    'output_tokens',
  ];
  perRequest.columns = requestColumns.map((key) => ({ header: key, key, width: 14 }));
  for (const r of requests)
    perRequest.addRow(Object.fromEntries(requestColumns.map((k) => [k, r[k] ?? null])));
  perRequest.getRow(1).font = { bold: true };

  if (data.baseline) {
    const deltas = workbook.addWorksheet('deltas');
    const keys = ['scenario', 'mode', 'concurrency', 'rate_rps', 'metric', 'a', 'b', 'change_pct', 'verdict'];
    deltas.columns = keys.map((key) => ({ header: key, key, width: 16 }));
    for (const d of data.deltas) deltas.addRow(d);
    deltas.getRow(1).font = { bold: true };
  }

  const provenance = workbook.addWorksheet('provenance');
  provenance.columns = [
    { header: 'subject', key: 'subject', width: 10 },
    { header: 'field', key: 'field', width: 28 },
    { header: 'value', key: 'value', width: 80 },
  ];
  for (const s of [data.baseline, data.subject]) {
    if (!s) continue;
    for (const run of s.runs) {
      for (const [field, value] of Object.entries(run)) {
        if (value !== null)
          provenance.addRow({
            subject: s.label,
            field: `${String(run.run_id)}.${field}`,
            value: typeof value === 'object' ? JSON.stringify(value) : value,
          });
      }
    }
    for (const a of s.artifacts)
      provenance.addRow({
        subject: s.label,
        field: `artifact ${String(a.run_id)}`,
        value: `${String(a.path)} sha256:${String(a.sha256)}`,
      });
  }

  const notes = workbook.addWorksheet(`${view} view`);
  notes.columns = [
    { header: 'section', key: 'section', width: 40 },
    { header: 'text', key: 'text', width: 120 },
  ];
  for (const section of viewSections(data, view)) {
    for (const item of section.code ? [...section.items, section.code] : section.items)
      notes.addRow({ section: section.heading, text: item });
  }

  return Buffer.from(await workbook.xlsx.writeBuffer());
}
