/**
 * The dashboard's routes, one row each: method, path (hono's pattern), and a
 * handler from the request's URL, path parameters and CSP nonce to a reply.
 * Handlers know nothing of HTTP beyond that; app.ts mounts them behind the
 * middleware. Every input is checked by api.ts before it reaches a query.
 */
import {
  ApiError,
  comparePair,
  contracts,
  diagnoseRuns,
  filterChoices,
  lineage,
  listRunPage,
  parseCompare,
  parseDiagnose,
  parseLineage,
  parseRunFilters,
  parseRunId,
  runDetail,
} from './api.js';
import { evidencePage, locateEvidence, parseEvidenceParams, readEvidence } from './evidence-page.js';
import { comparePage, runListPage, runPage } from './pages.js';
import { html, json, type Reply } from './reply.js';
import { groupReportHtml, parseReportParams, reportCsp, runReportHtml } from './report-page.js';
import type { WarehouseAccess } from './warehouse-access.js';

export interface RouteRequest {
  url: URL;
  /** A path parameter, percent-decoded (malformed encoding: a 400). */
  param(name: string): string;
  nonce: string;
}

export interface Route {
  method: 'GET';
  path: string;
  handler: (request: RouteRequest) => Promise<Reply>;
}

/** The routes over one warehouse; HEAD is answered by each GET route, without its body. */
export function dashboardRoutes(access: WarehouseAccess): Route[] {
  const runId = (request: RouteRequest, name = 'run'): string => parseRunId(name, request.param('id'));
  return [
    {
      method: 'GET',
      path: '/api/runs',
      handler: async ({ url }) => {
        const filters = parseRunFilters(url.searchParams);
        return json(await access.use((w) => listRunPage(w, filters)));
      },
    },
    {
      method: 'GET',
      path: '/api/runs/:id',
      handler: async (request) => {
        noParams(request.url);
        const id = runId(request);
        return json(await access.use((w) => runDetail(w, id)));
      },
    },
    {
      method: 'GET',
      path: '/api/compare',
      handler: async ({ url }) => {
        const pair = parseCompare(url.searchParams);
        return json(await access.use((w) => comparePair(w, pair)));
      },
    },
    {
      method: 'GET',
      path: '/api/lineage',
      handler: async ({ url }) => {
        const request = parseLineage(url.searchParams);
        return json(await access.use((w) => lineage(w, request)));
      },
    },
    {
      method: 'GET',
      path: '/api/diagnose',
      handler: async ({ url }) => {
        const params = parseDiagnose(url.searchParams);
        return json(await access.use((w) => diagnoseRuns(w, params)));
      },
    },
    {
      method: 'GET',
      path: '/api/benchmark/contracts',
      handler: async ({ url }) => {
        noParams(url);
        return json(await access.use((w) => contracts(w)));
      },
    },
    {
      method: 'GET',
      path: '/',
      handler: async ({ url, nonce }) => {
        const filters = parseRunFilters(url.searchParams);
        const [page, choices] = await access.use(async (w) => [
          await listRunPage(w, filters),
          await filterChoices(w),
        ]);
        return html(runListPage(page, filters, choices, nonce));
      },
    },
    {
      method: 'GET',
      path: '/runs/:id',
      handler: async (request) => {
        noParams(request.url);
        const id = runId(request);
        const [detail, diagnosis] = await access.use(async (w) => {
          const found = await runDetail(w, id);
          return [found, await diagnoseRuns(w, { run: String(found.run.run_id) })] as const;
        });
        return html(runPage(detail, request.nonce, diagnosis));
      },
    },
    {
      method: 'GET',
      path: '/runs/:id/evidence',
      handler: async (request) => {
        const id = runId(request);
        const params = parseEvidenceParams(request.url.searchParams);
        const source = await access.use((w) => locateEvidence(w, id, params));
        return html(evidencePage(await readEvidence(source, params), request.nonce));
      },
    },
    {
      method: 'GET',
      path: '/runs/:id/report',
      handler: async (request) => {
        const id = runId(request);
        const params = parseReportParams(request.url.searchParams);
        const { html: body } = await access.use((w) => runReportHtml(w, id, params));
        return { kind: 'html', body, csp: reportCsp(body) };
      },
    },
    {
      method: 'GET',
      path: '/groups/:id/report',
      handler: async (request) => {
        const id = runId(request, 'run group');
        const params = parseReportParams(request.url.searchParams);
        const body = await access.use((w) => groupReportHtml(w, id, params));
        return { kind: 'html', body, csp: reportCsp(body) };
      },
    },
    {
      method: 'GET',
      path: '/compare',
      handler: async ({ url, nonce }) => {
        const recent = async (): Promise<Record<string, unknown>[]> =>
          access.use(async (w) => (await listRunPage(w, { limit: 200, offset: 0 })).runs);
        const given = (key: string): string => url.searchParams.get(key) ?? '';
        const groups = url.searchParams.has('ga') || url.searchParams.has('gb');
        const [a, b] = groups ? [given('ga'), given('gb')] : [given('a'), given('b')];
        if (a === '' || b === '') {
          return html(comparePage({ kind: groups ? 'groups' : 'runs', a, b }, null, await recent(), nonce));
        }
        const pair = parseCompare(url.searchParams);
        // Diagnosis compares runs: B against A as its baseline; run groups get none.
        const [comparison, diagnosis] = await access.use(async (w) => [
          await comparePair(w, pair),
          pair.kind === 'runs' ? await diagnoseRuns(w, { run: pair.b, vs: pair.a }) : undefined,
        ]);
        return html(comparePage(pair, comparison, await recent(), nonce, diagnosis));
      },
    },
  ];
}

/** A path segment, percent-decoded; what does not decode is a bad run id. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, 'E_BAD_RUN_ID', 'run id: malformed percent-encoding');
  }
}

function noParams(url: URL): void {
  for (const key of url.searchParams.keys()) {
    if (key !== 'token') throw new ApiError(400, 'E_BAD_PARAM', 'this endpoint takes no parameters');
  }
}
