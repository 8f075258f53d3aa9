/**
 * The dashboard as a hono app: the security headers (and the response's nonce)
 * around everything, then the malformed-URL check, the host guard (no token) or
 * the token check, then the routes table; unknown paths are a 404, other
 * methods on a known path a 405, and every error is mapped by error-mapping.ts.
 * Routing reads the path as WHATWG parses it, still percent-encoded, and each
 * route decodes its own parameters: a malformed one is a 400, not a guess.
 */
import { Hono } from 'hono';
import type { DashboardEnv } from './context.js';
import { requestUrl } from './context.js';
import { mapErrors, methodNotAllowed, notFound } from './middleware/error-mapping.js';
import { hostGuard } from './middleware/host-guard.js';
import { securityHeaders } from './middleware/security-headers.js';
import { tokenAuth } from './middleware/token-auth.js';
import { rejectMalformedUrl } from './node-listener.js';
import { send } from './reply.js';
import { decodeSegment, type Route } from './routes.js';

export interface AppOptions {
  routes: Route[];
  /** The address the server is bound to (the host guard also accepts it). */
  host: string;
  /** Without one, the host guard; with one, every request must carry it. */
  token?: string;
  log: (line: string) => void;
}

export function dashboardApp(options: AppOptions): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>({ getPath: (request) => new URL(request.url).pathname });
  app.use(securityHeaders());
  app.use(rejectMalformedUrl());
  app.use(options.token === undefined ? hostGuard(options.host) : tokenAuth(options.token));
  for (const route of options.routes) {
    app.on(route.method, route.path, async (c) => {
      const url = requestUrl(c);
      const reply = await route.handler({
        url,
        nonce: c.get('nonce'),
        param: (name) => decodeSegment(rawSegment(route.path, url.pathname, name)),
      });
      return send(c, 200, reply);
    });
  }
  for (const path of new Set(options.routes.map((route) => route.path))) app.all(path, methodNotAllowed);
  app.notFound(notFound);
  app.onError(mapErrors(options.log));
  return app;
}

/** The still-encoded path segment at the place of `:name` in the route's path. */
function rawSegment(routePath: string, pathname: string, name: string): string {
  return pathname.split('/')[routePath.split('/').indexOf(`:${name}`)] ?? '';
}
