/**
 * The run page's full charts: `infermark report`'s HTML (the same
 * buildReportData and renderHtml) for one run or run group, served by the
 * dashboard. The report inlines its scripts and styles (uPlot included), so it
 * is served with its own Content-Security-Policy that allows exactly those
 * inline elements by their sha256 and nothing else: no other script, no
 * external source of any kind; the other pages keep their nonce policy.
 */
import { createHash } from 'node:crypto';
import { resolveRunId } from '../warehouse/queries.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { escapeHtml } from '../report/escape-html.js';
import { VIEWS, type View } from '../report/report-views.js';
import { ApiError } from './api.js';

export interface ReportRequest {
  view: View;
  iteration?: number;
}

/** `?view=` and `?iteration=` (each once, allowlisted); anything else is a 400. */
export function parseReportParams(params: URLSearchParams): ReportRequest {
  const out: ReportRequest = { view: 'engineering' };
  const seen = new Set<string>();
  for (const [key, value] of params) {
    if (key === 'token') continue;
    if (seen.has(key)) throw new ApiError(400, 'E_BAD_PARAM', `${key} given more than once`);
    seen.add(key);
    if (key === 'view') {
      if (!(VIEWS as readonly string[]).includes(value)) {
        throw new ApiError(400, 'E_BAD_PARAM', `view: expected one of ${VIEWS.join(', ')}`);
      }
      out.view = value as View;
    } else if (key === 'iteration') {
      if (!/^\d{1,7}$/.test(value)) {
        throw new ApiError(400, 'E_BAD_PARAM', 'iteration: expected a whole number ≥ 0');
      }
      out.iteration = Number(value);
    } else {
      throw new ApiError(400, 'E_BAD_PARAM', 'this page takes only view and iteration');
    }
  }
  return out;
}

/** The report of one run (an exact id or a unique prefix, as the run page takes). */
export async function runReportHtml(
  warehouse: Warehouse,
  id: string,
  request: ReportRequest,
): Promise<{ html: string; runId: string }> {
  // Resolved first, so a run page's id never turns into a run group's report.
  const runId = await resolveRunId(warehouse, id);
  const html = await render(warehouse, runId, request);
  return { html: withNav(html, `/runs/${encodeURIComponent(runId)}`, `run ${runId}`), runId };
}

/** The report of a run group: its repeats, each point the median over them. */
export async function groupReportHtml(
  warehouse: Warehouse,
  id: string,
  request: ReportRequest,
): Promise<string> {
  const found = await warehouse.all(
    'SELECT run_id FROM benchmark_run_fact WHERE run_group_id = $1 ORDER BY started_at, run_id LIMIT 1',
    [id],
  );
  const first = found[0];
  if (first === undefined) {
    throw new ApiError(404, 'E_NO_GROUP', `no run group ${JSON.stringify(id)} in the warehouse`);
  }
  const html = await render(warehouse, id, request);
  return withNav(html, `/runs/${encodeURIComponent(String(first.run_id))}`, `its first run`);
}

async function render(warehouse: Warehouse, id: string, request: ReportRequest): Promise<string> {
  const { buildReportData } = await import('../report/report-data.js');
  const { renderHtml } = await import('../report/report-html.js');
  const { dashboardEvidenceLinker } = await import('../report/report-diagnosis.js');
  const data = await buildReportData(warehouse, id, { iteration: request.iteration });
  // Served here, evidence links lead to the dashboard's evidence page, not to file:// URLs.
  return renderHtml(data, request.view, { evidence: dashboardEvidenceLinker });
}

/** A way back to the dashboard, right after `<body>`: same-origin links, no script, no style. */
function withNav(html: string, back: string, label: string): string {
  const nav = `<nav data-testid="report-nav"><a href="/">all runs</a> · <a href="${escapeHtml(back)}" data-testid="report-back">back to ${escapeHtml(label)}</a></nav>`;
  return html.replace(/<body\b[^>]*>/, (tag) => `${tag}\n${nav}`);
}

const hash = (text: string): string =>
  `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * The CSP for a report: each inline `<script>` and `<style>` element allowed by
 * its hash (a `<script src>` gets nothing, so it is blocked), no 'unsafe-inline',
 * no host, not even 'self' for scripts; the report loads nothing.
 */
export function reportCsp(html: string): string {
  const scripts = new Set<string>();
  const styles = new Set<string>();
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
    const attributes = m[1] ?? '';
    // A data block (the report's JSON) is never executed: it needs no hash. A `src` gets none either.
    const type = /\stype\s*=\s*["']?([^"'\s>]+)/i.exec(attributes)?.[1]?.toLowerCase();
    const executable =
      type === undefined || type === 'module' || /^(text|application)\/javascript$/.test(type);
    if (executable && !/\ssrc\s*=/i.test(attributes)) scripts.add(hash(m[2] ?? ''));
  }
  for (const m of html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi)) styles.add(hash(m[1] ?? ''));
  const list = (set: Set<string>): string => (set.size === 0 ? "'none'" : [...set].join(' '));
  return [
    "default-src 'none'",
    `script-src ${list(scripts)}`,
    `style-src ${list(styles)}`,
    "img-src 'self' data:",
    "connect-src 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}
