/**
 * The dashboard's response bodies: JSON or HTML with its type and length, and
 * the `{error: {code, message}}` body of every API error. The security headers
 * are added around every response by middleware/security-headers.ts.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { scrubText } from '../base/redact.js';
import type { ApiError } from './api.js';
import type { DashboardContext } from './context.js';

/** `csp`: this page's own policy (the report's hashes) in place of the nonce policy. */
export type Reply = { kind: 'json'; body: unknown } | { kind: 'html'; body: string; csp?: string };

export const json = (body: unknown): Reply => ({ kind: 'json', body });
export const html = (body: string): Reply => ({ kind: 'html', body });

/** The response for `reply`; a HEAD request gets the same headers without the body (hono drops it). */
export function send(c: DashboardContext, status: number, reply: Reply): Response {
  const text = reply.kind === 'json' ? JSON.stringify(reply.body) : reply.body;
  const headers: Record<string, string> = {
    'Content-Type': reply.kind === 'json' ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
  };
  if (reply.kind === 'html' && reply.csp !== undefined) headers['Content-Security-Policy'] = reply.csp;
  return c.body(text, status as ContentfulStatusCode, headers);
}

export function errorBody(error: ApiError): { error: { code: string; message: string } } {
  return { error: { code: error.code, message: scrubText(error.message) } };
}
