/**
 * The dashboard's hono app behind node:http, through @hono/node-server. The
 * request target is resolved as a URL against a fixed origin first, as the
 * dashboard always has: `/a/../b` is `/b`, `\` is `/`, and `//host/path` or an
 * absolute-form target is its path. @hono/node-server then takes the absolute
 * URL as it is and never builds one from the Host header (which only the host
 * guard reads). A target that does not parse is a 400 `E_BAD_URL`.
 */
import type { IncomingMessage, RequestListener } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono, MiddlewareHandler } from 'hono';
import { ApiError } from './api.js';
import type { DashboardEnv } from './context.js';
import { errorBody, json, send } from './reply.js';
import { noncePolicy } from './middleware/security-headers.js';

const ORIGIN = 'http://dashboard.invalid';

export function nodeListener(app: Hono<DashboardEnv>): RequestListener {
  const malformed = new WeakSet<IncomingMessage>();
  const listener = getRequestListener((request, env) =>
    app.fetch(request, { ...env, malformedUrl: malformed.has(env.incoming as IncomingMessage) }),
  );
  return (incoming, outgoing) => {
    try {
      incoming.url = new URL(incoming.url ?? '/', ORIGIN).href;
    } catch {
      malformed.add(incoming);
      incoming.url = `${ORIGIN}/`;
    }
    void listener(incoming, outgoing);
  };
}

/** The 400 of a target that is no URL: JSON (its path is unknown), and a policy without a nonce. */
export function rejectMalformedUrl(): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    if (c.env?.malformedUrl !== true) return next();
    c.header('Content-Security-Policy', noncePolicy(''));
    return send(c, 400, json(errorBody(new ApiError(400, 'E_BAD_URL', 'malformed request URL'))));
  };
}
