/**
 * The dashboard server (node:http, no framework): pages and the REST API over a
 * warehouse opened read-only. Bound to loopback unless told otherwise; bound
 * anywhere else it requires a token (Bearer header, or `?token=` once, which
 * sets a cookie), compared in constant time and never logged or echoed.
 * Only GET and HEAD; every error is `{error: {code, message}}` (or an HTML
 * page for pages) with a 4xx status, and a 500 carries no detail.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { scrubText } from '../base/redact.js';
import {
  ApiError,
  comparePair,
  contracts,
  filterChoices,
  lineage,
  listRunPage,
  parseCompare,
  parseLineage,
  parseRunFilters,
  parseRunId,
  runDetail,
  toApiError,
} from './api.js';
import { comparePage, errorPage, runListPage, runPage } from './pages.js';
import { groupReportHtml, parseReportParams, reportCsp, runReportHtml } from './report-page.js';
import { WarehouseAccess } from './warehouse-access.js';

export interface DashboardOptions {
  warehousePath: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  token?: string;
  /** Where the server writes its few lines (never a token, never a request URL). */
  log?: (line: string) => void;
  /** How long the warehouse stays open after the last request (ms). */
  idleCloseMs?: number;
}

export interface Dashboard {
  url: string;
  port: number;
  host: string;
  close(): Promise<void>;
}

const COOKIE = 'infermark_dashboard_token';
const MIN_TOKEN_LENGTH = 16;

/** Whether `host` is a loopback interface, where an unauthenticated dashboard is acceptable. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Refuses what would expose the warehouse: a non-loopback host without a token, or a weak token. */
export function checkExposure(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new InfermarkError(
      'E_WEAK_TOKEN',
      `the dashboard token must be at least ${MIN_TOKEN_LENGTH} characters`,
      ExitCode.badInput,
    );
  }
  if (!isLoopback(host) && token === undefined) {
    throw new InfermarkError(
      'E_NO_TOKEN',
      `--host ${host} is not loopback: give --token or set INFERMARK_DASHBOARD_TOKEN (every request must then carry it)`,
      ExitCode.badInput,
    );
  }
}

type Handler = (request: Route) => Promise<Reply>;

interface Route {
  url: URL;
  params: string[];
  nonce: string;
}

/** `csp`: this page's own policy (the report's hashes) in place of the nonce policy. */
type Reply = { kind: 'json'; body: unknown } | { kind: 'html'; body: string; csp?: string };

const json = (body: unknown): Reply => ({ kind: 'json', body });
const html = (body: string): Reply => ({ kind: 'html', body });

/** Starts the dashboard; resolves once it listens. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token;
  checkExposure(host, token);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const access = new WarehouseAccess(options.warehousePath, options.idleCloseMs);
  // Fail at start, not on the first request, when the warehouse is not there.
  await access.use(async () => undefined);
  const tokenDigest = token === undefined ? null : sha256(token);

  const routes: [RegExp, Handler, boolean][] = [
    [
      /^\/api\/runs$/,
      async ({ url }) => {
        const filters = parseRunFilters(url.searchParams);
        return json(await access.use((w) => listRunPage(w, filters)));
      },
      true,
    ],
    [
      /^\/api\/runs\/([^/]+)$/,
      async ({ url, params }) => {
        noParams(url);
        const id = parseRunId('run', decode(params[0] as string));
        return json(await access.use((w) => runDetail(w, id)));
      },
      true,
    ],
    [
      /^\/api\/compare$/,
      async ({ url }) => {
        const pair = parseCompare(url.searchParams);
        return json(await access.use((w) => comparePair(w, pair)));
      },
      true,
    ],
    [
      /^\/api\/lineage$/,
      async ({ url }) => {
        const request = parseLineage(url.searchParams);
        return json(await access.use((w) => lineage(w, request)));
      },
      true,
    ],
    [
      /^\/api\/benchmark\/contracts$/,
      async ({ url }) => {
        noParams(url);
        return json(await access.use((w) => contracts(w)));
      },
      true,
    ],
    [
      /^\/$/,
      async ({ url, nonce }) => {
        const filters = parseRunFilters(url.searchParams);
        const [page, choices] = await access.use(async (w) => [
          await listRunPage(w, filters),
          await filterChoices(w),
        ]);
        return html(runListPage(page, filters, choices, nonce));
      },
      false,
    ],
    [
      /^\/runs\/([^/]+)$/,
      async ({ url, params, nonce }) => {
        noParams(url);
        const id = parseRunId('run', decode(params[0] as string));
        return html(runPage(await access.use((w) => runDetail(w, id)), nonce));
      },
      false,
    ],
    [
      /^\/runs\/([^/]+)\/report$/,
      async ({ url, params }) => {
        const id = parseRunId('run', decode(params[0] as string));
        const request = parseReportParams(url.searchParams);
        const { html: body } = await access.use((w) => runReportHtml(w, id, request));
        return { kind: 'html', body, csp: reportCsp(body) };
      },
      false,
    ],
    [
      /^\/groups\/([^/]+)\/report$/,
      async ({ url, params }) => {
        const id = parseRunId('run group', decode(params[0] as string));
        const request = parseReportParams(url.searchParams);
        const body = await access.use((w) => groupReportHtml(w, id, request));
        return { kind: 'html', body, csp: reportCsp(body) };
      },
      false,
    ],
    [
      /^\/compare$/,
      async ({ url, nonce }) => {
        const recent = async (): Promise<Record<string, unknown>[]> =>
          access.use(async (w) => (await listRunPage(w, { limit: 200, offset: 0 })).runs);
        const given = (key: string): string => url.searchParams.get(key) ?? '';
        const groups = url.searchParams.has('ga') || url.searchParams.has('gb');
        const [a, b] = groups ? [given('ga'), given('gb')] : [given('a'), given('b')];
        if (a === '' || b === '') {
          return html(comparePage({ kind: groups ? 'groups' : 'runs', a, b }, null, await recent(), nonce));
        }
        const pair = parseCompare(url.searchParams);
        const comparison = await access.use((w) => comparePair(w, pair));
        return html(comparePage(pair, comparison, await recent(), nonce));
      },
      false,
    ],
  ];

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      log(`infermark serve: internal error: ${scrubText(String((error as Error)?.stack ?? error))}`);
      if (!response.headersSent) send(response, 500, 'json', errorBody(toApiError(error)));
      else response.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://dashboard.invalid');
    } catch {
      return send(response, 400, 'json', errorBody(new ApiError(400, 'E_BAD_URL', 'malformed request URL')));
    }
    const isApi = url.pathname.startsWith('/api/');
    const nonce = randomBytes(16).toString('base64');
    const fail = (error: ApiError): void => {
      if (isApi) send(response, error.status, 'json', errorBody(error));
      else
        send(
          response,
          error.status,
          'html',
          errorPage(error.status, error.code, error.message, nonce),
          nonce,
        );
    };

    // Loopback without a token: refuse other Host names, so a web page elsewhere cannot reach it by DNS rebinding.
    if (tokenDigest === null && !hostAllowed(request.headers.host, host)) {
      return fail(new ApiError(403, 'E_BAD_HOST', 'this dashboard answers only to its loopback address'));
    }
    if (tokenDigest !== null) {
      const given = presentedToken(request, url);
      if (given === null || !timingSafeEqual(sha256(given.value), tokenDigest)) {
        response.setHeader('WWW-Authenticate', 'Bearer realm="infermark"');
        return fail(
          new ApiError(
            401,
            'E_UNAUTHORIZED',
            'this dashboard needs its token: Authorization: Bearer <token>, or ?token=',
          ),
        );
      }
      if (given.from === 'query') {
        response.setHeader(
          'Set-Cookie',
          `${COOKIE}=${encodeURIComponent(given.value)}; HttpOnly; SameSite=Strict; Path=/`,
        );
        // A page is reloaded without the token, so it leaves the address bar and the history.
        if (!isApi) {
          url.searchParams.delete('token');
          response.setHeader('Location', `${url.pathname}${url.search}`);
          return send(response, 303, 'html', '', nonce);
        }
      }
    }

    const match = routes
      .map(([pattern, handler]) => [pattern.exec(url.pathname), handler] as const)
      .find(([m]) => m);
    if (!match) return fail(new ApiError(404, 'E_NOT_FOUND', `no such ${isApi ? 'endpoint' : 'page'}`));
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      return fail(new ApiError(405, 'E_METHOD', `${request.method ?? '?'} is not allowed here: GET or HEAD`));
    }
    const [found, handler] = match;
    let reply: Reply;
    try {
      reply = await handler({ url, params: found?.slice(1) ?? [], nonce });
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.status >= 500 && apiError.code === 'E_INTERNAL') {
        log(`infermark serve: internal error: ${scrubText(String((error as Error)?.stack ?? error))}`);
        if (isApi) send(response, 500, 'json', errorBody(apiError));
        else send(response, 500, 'html', errorPage(500, apiError.code, apiError.message, nonce), nonce);
        return;
      }
      if (apiError.status === 503) response.setHeader('Retry-After', '1');
      return fail(apiError);
    }
    if (reply.kind === 'json') send(response, 200, 'json', reply.body, nonce, request.method === 'HEAD');
    else send(response, 200, 'html', reply.body, nonce, request.method === 'HEAD', reply.csp);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new InfermarkError(
          'E_LISTEN',
          `cannot listen on ${host}:${options.port ?? 0}: ${error.code ?? error.message}`,
          ExitCode.badInput,
        ),
      ),
    );
    server.listen(options.port ?? 0, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    host,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await access.close();
    },
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function decode(segment: string): string {
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

function hostAllowed(header: string | undefined, bound: string): boolean {
  if (header === undefined) return true;
  const name = header.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return name === bound || isLoopback(name);
}

function presentedToken(request: IncomingMessage, url: URL): { value: string; from: string } | null {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return { value: header.slice('Bearer '.length).trim(), from: 'header' };
  const query = url.searchParams.get('token');
  if (query !== null) return { value: query, from: 'query' };
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) {
      try {
        return { value: decodeURIComponent(rest.join('=')), from: 'cookie' };
      } catch {
        return null;
      }
    }
  }
  return null;
}

function errorBody(error: ApiError): { error: { code: string; message: string } } {
  return { error: { code: error.code, message: scrubText(error.message) } };
}

function send(
  response: ServerResponse,
  status: number,
  kind: 'json' | 'html',
  body: unknown,
  nonce = '',
  headOnly = false,
  csp?: string,
): void {
  const text = kind === 'json' ? JSON.stringify(body) : String(body);
  response.statusCode = status;
  response.setHeader(
    'Content-Type',
    kind === 'json' ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
  );
  response.setHeader('Content-Length', Buffer.byteLength(text));
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Referrer-Policy', 'no-referrer');
  response.setHeader('X-Frame-Options', 'DENY');
  response.setHeader(
    'Content-Security-Policy',
    csp ??
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
  response.end(headOnly ? undefined : text);
}
