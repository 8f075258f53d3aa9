/**
 * The token a dashboard bound beyond loopback demands on every request: a
 * Bearer header, the `?token=` of a link (which sets an HttpOnly cookie; a page
 * is then reloaded without it, so it leaves the address bar and the history),
 * or that cookie. Compared by digest in constant time; never logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../api.js';
import { isApi, requestHeader, requestUrl, type DashboardContext, type DashboardEnv } from '../context.js';
import { html, send } from '../reply.js';

export const TOKEN_COOKIE = 'infermark_dashboard_token';

export function tokenAuth(token: string): MiddlewareHandler<DashboardEnv> {
  const expected = sha256(token);
  return async (c, next) => {
    const given = presentedToken(c);
    if (given === null || !timingSafeEqual(sha256(given.value), expected)) {
      c.header('WWW-Authenticate', 'Bearer realm="infermark"');
      throw new ApiError(
        401,
        'E_UNAUTHORIZED',
        'this dashboard needs its token: Authorization: Bearer <token>, or ?token=',
      );
    }
    if (given.from === 'query') {
      c.header(
        'Set-Cookie',
        `${TOKEN_COOKIE}=${encodeURIComponent(given.value)}; HttpOnly; SameSite=Strict; Path=/`,
      );
      if (!isApi(c)) {
        const url = new URL(requestUrl(c));
        url.searchParams.delete('token');
        c.header('Location', `${url.pathname}${url.search}`);
        return send(c, 303, html(''));
      }
    }
    await next();
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The header first, then the query, then the cookie; a cookie that does not decode is no token. */
function presentedToken(c: DashboardContext): { value: string; from: 'header' | 'query' | 'cookie' } | null {
  const header = requestHeader(c, 'authorization');
  if (header?.startsWith('Bearer ')) return { value: header.slice('Bearer '.length).trim(), from: 'header' };
  const query = requestUrl(c).searchParams.get('token');
  if (query !== null) return { value: query, from: 'query' };
  for (const part of (requestHeader(c, 'cookie') ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === TOKEN_COOKIE) {
      try {
        return { value: decodeURIComponent(rest.join('=')), from: 'cookie' };
      } catch {
        return null;
      }
    }
  }
  return null;
}
