/**
 * The DNS-rebinding defence of a dashboard without a token (loopback only): a
 * request whose Host names anything but the bound address or a loopback name is
 * refused with a 403, so a web page elsewhere cannot reach it by rebinding its
 * own name to 127.0.0.1. A request without Host (HTTP/1.0) passes.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../api.js';
import { requestHeader, type DashboardEnv } from '../context.js';

/** Whether `host` is a loopback interface, where an unauthenticated dashboard is acceptable. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Whether a Host header (`name[:port]`, `[v6][:port]`) names `bound` or loopback. */
export function hostAllowed(header: string | undefined, bound: string): boolean {
  if (header === undefined) return true;
  const name = header.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return name === bound || isLoopback(name);
}

export function hostGuard(bound: string): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    if (!hostAllowed(requestHeader(c, 'host'), bound)) {
      throw new ApiError(403, 'E_BAD_HOST', 'this dashboard answers only to its loopback address');
    }
    await next();
  };
}
