/**
 * Every error a request can end in, as a response: an ApiError as itself, a
 * warehouse error by its code (busy → 503 with Retry-After, no run → 404, …, see
 * toApiError), anything else a 500 that says only "see the server log" while the
 * log gets the scrubbed stack. API paths answer `{error: {code, message}}`,
 * pages an HTML error page. Also the 404 of an unknown path.
 */
import type { ErrorHandler, NotFoundHandler } from 'hono';
import { scrubText } from '../../base/redact.js';
import { ApiError, toApiError } from '../api.js';
import { isApi, type DashboardContext, type DashboardEnv } from '../context.js';
import { errorPage } from '../pages.js';
import { errorBody, html, json, send } from '../reply.js';
import { noncePolicy } from './security-headers.js';

/** The response for `error`: JSON on the API, an HTML page (with this response's nonce) elsewhere. */
export function errorReply(c: DashboardContext, error: ApiError): Response {
  if (isApi(c)) {
    // An error's JSON has never carried the nonce of its response: its policy names an empty one.
    c.header('Content-Security-Policy', noncePolicy(''));
    return send(c, error.status, json(errorBody(error)));
  }
  const nonce = c.get('nonce') ?? '';
  return send(c, error.status, html(errorPage(error.status, error.code, error.message, nonce)));
}

export function mapErrors(log: (line: string) => void): ErrorHandler<DashboardEnv> {
  return (error, c) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500 && apiError.code === 'E_INTERNAL') {
      log(`infermark serve: internal error: ${scrubText(String(error.stack ?? error))}`);
    }
    if (apiError.status === 503) c.header('Retry-After', '1');
    return errorReply(c, apiError);
  };
}

export const notFound: NotFoundHandler<DashboardEnv> = (c) =>
  errorReply(c, new ApiError(404, 'E_NOT_FOUND', `no such ${isApi(c) ? 'endpoint' : 'page'}`));

/** A known path asked with a method other than GET or HEAD. */
export const methodNotAllowed = (c: DashboardContext): never => {
  c.header('Allow', 'GET, HEAD');
  throw new ApiError(405, 'E_METHOD', `${c.req.method} is not allowed here: GET or HEAD`);
};
