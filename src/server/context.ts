/**
 * What the dashboard's middleware and routes share about one request: its
 * hono environment (node:http's request when served, nothing in-process), the
 * CSP nonce of its response, and its URL as WHATWG parses it.
 */
import type { Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';

export interface DashboardEnv {
  /** Absent for in-process requests (`app.request` in tests). */
  Bindings: Partial<HttpBindings> & {
    /** The request target did not parse as a URL (node-listener.ts). */
    malformedUrl?: boolean;
  };
  Variables: { nonce: string; url: URL };
}

export type DashboardContext = Context<DashboardEnv>;

/** The request's URL, parsed once per request. */
export function requestUrl(c: DashboardContext): URL {
  let url = c.get('url');
  if (url === undefined) {
    url = new URL(c.req.url);
    c.set('url', url);
  }
  return url;
}

/** API requests get JSON errors, everything else an HTML page. */
export function isApi(c: DashboardContext): boolean {
  return requestUrl(c).pathname.startsWith('/api/');
}

/**
 * A request header as node:http parsed it (a repeated Host or Authorization
 * keeps its first value, repeated cookies are joined by '; '), so the host guard
 * and the token check read exactly what they always read; in-process, the
 * fetch Request's header.
 */
export function requestHeader(
  c: DashboardContext,
  name: 'host' | 'authorization' | 'cookie',
): string | undefined {
  const incoming = c.env?.incoming;
  return incoming ? incoming.headers[name] : c.req.header(name);
}
