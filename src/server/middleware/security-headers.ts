/**
 * Security headers on every dashboard response, errors and redirects included:
 * no caching, no sniffing, no referrer, no framing, and a Content-Security-Policy
 * whose script nonce is drawn per response (the pages' inline scripts carry it).
 * A response that brings its own policy (the report's, by hashes) keeps it.
 */
import { randomBytes } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { DashboardEnv } from '../context.js';

/** The policy of every page but the report: scripts only with this response's nonce. */
export function noncePolicy(nonce: string): string {
  return `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;
}

export function securityHeaders(): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    const nonce = randomBytes(16).toString('base64');
    c.set('nonce', nonce);
    await next();
    const headers = c.res.headers;
    headers.set('Cache-Control', 'no-store');
    headers.set('X-Content-Type-Options', 'nosniff');
    headers.set('Referrer-Policy', 'no-referrer');
    headers.set('X-Frame-Options', 'DENY');
    if (!headers.has('Content-Security-Policy')) headers.set('Content-Security-Policy', noncePolicy(nonce));
  };
}
