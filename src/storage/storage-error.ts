/**
 * Storage failures in three kinds: a configuration the user must fix (bad URI,
 * missing credentials, a bucket that is not there or not writable: exit 2, never
 * retried), a permanent failure that is not the user's configuration (a full disk:
 * exit 1, never retried), and a failure that may pass (network, 5xx, throttling:
 * retried with backoff by `retry-policy.ts`, exit 1 when retries run out). Also how an
 * SDK's or the network's error is classified and described, once for every scheme.
 */
import { ExitCode, InfermarkError } from '../base/errors.js';
import { scrubText } from '../base/redact.js';

/** Why a failure that will not pass will not: the user's configuration, or something else that stays broken. */
export type PermanentKind = 'config' | 'permanent';

export interface StorageErrorOptions {
  retryable: boolean;
  /** For a failure that is not retried: whose it is (default `config`, exit 2; `permanent` exits 1). */
  kind?: PermanentKind;
  cause?: unknown;
}

export class StorageError extends InfermarkError {
  readonly retryable: boolean;
  constructor(message: string, options: StorageErrorOptions) {
    const config = !options.retryable && (options.kind ?? 'config') === 'config';
    // SDK messages can quote a signed URL or a header: scrubbed before they can be printed.
    super(
      config ? 'E_STORAGE_CONFIG' : 'E_STORAGE',
      scrubText(message),
      config ? ExitCode.badInput : ExitCode.failure,
      {},
    );
    this.name = 'StorageError';
    this.retryable = options.retryable;
  }
}

/** A configuration error: the user must change the job, the URI or the credentials. */
export function configError(display: string, message: string): StorageError {
  return new StorageError(`${display}: ${message}`, { retryable: false });
}

/**
 * Whether an error is worth retrying: a StorageError says so itself; an HTTP
 * status is retried when it is 408, 429 or 5xx (other 4xx are auth, a missing
 * bucket, a bad request); anything else only when it is a network failure that
 * may pass (`isTransient`). A local I/O error, an SDK refusing its arguments or a
 * credentials provider finding nothing will not pass by waiting.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof StorageError) return error.retryable;
  const status = httpStatusOf(error);
  if (status !== null) return status === 408 || status === 429 || status >= 500;
  return isTransient(error);
}

/** The HTTP status an SDK error carries, whichever SDK threw it. */
export function httpStatusOf(error: unknown): number | null {
  if (error === null || typeof error !== 'object') return null;
  const e = error as {
    statusCode?: unknown;
    status?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  for (const value of [e.$metadata?.httpStatusCode, e.statusCode, e.status, e.code]) {
    if (typeof value === 'number' && value >= 100 && value < 600) return value;
  }
  return null;
}

/**
 * Codes of a network failure that may pass: Node's socket errors, undici's (the
 * fetch behind Octokit and OCI), and Azure's for a request that could not be sent.
 * ENOTFOUND is not among them: a host that does not resolve is a wrong endpoint.
 */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'REQUEST_SEND_ERROR',
]);

/**
 * Whether an error without an HTTP status is a network failure that may pass: a
 * code above (on the error, or on what it wraps: fetch's `TypeError: fetch failed`
 * keeps the socket's error as its cause, Node's AggregateError of a dual-stack
 * connect keeps one per address), a timeout, or a dropped socket. The OCI SDK
 * throws fetch's failure as a plain object without its cause, so a bare `fetch
 * failed` counts too.
 */
export function isTransient(error: unknown): boolean {
  return transient(error, 0);
}

function transient(error: unknown, depth: number): boolean {
  if (error === null || typeof error !== 'object' || depth > 4) return false;
  const e = error as { name?: unknown; message?: unknown; cause?: unknown; errors?: unknown; type?: unknown };
  const code = errorCode(error);
  if (code !== undefined && TRANSIENT_NETWORK_CODES.has(code)) return true;
  if (e.name === 'TimeoutError') return true;
  // node-fetch's (behind the GCS client) for a request or body past its timeout.
  if (e.name === 'FetchError' && (e.type === 'request-timeout' || e.type === 'body-timeout')) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  if (/socket hang up/i.test(message)) return true;
  if (e.cause !== undefined) return transient(e.cause, depth + 1);
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    return e.errors.every((inner: unknown) => transient(inner, depth + 1));
  }
  return message === 'fetch failed';
}

/**
 * Local I/O failures that will not pass by retrying and are not the user's
 * configuration either (exit 1, not 2); a refused permission or a missing folder is.
 */
const PERMANENT_IO_CODES: ReadonlySet<string> = new Set([
  'ENOSPC',
  'EDQUOT',
  'EIO',
  'EFBIG',
  'EMFILE',
  'ENFILE',
  'ENOMEM',
]);

/** How a failure that is not retried ends the process: a full disk is not the user's configuration. */
export function permanentKindOf(error: unknown): PermanentKind {
  return PERMANENT_IO_CODES.has(errorCode(error) ?? '') ? 'permanent' : 'config';
}

/** A string `code` (Node's errno codes, SDKs' error codes), if the error has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Name, code and the first line of the message of an SDK or network error (Azure's
 * messages go on with the service's XML), and the innermost cause's where the
 * message does not already say it (`TypeError: fetch failed (connect ECONNREFUSED
 * 127.0.0.1:9)`). Not scrubbed: the StorageError that quotes it scrubs it.
 */
export function describeError(error: unknown): string {
  const own = describeOne(error);
  let inner: unknown = error;
  for (let depth = 0; depth < 4 && hasCause(inner); depth++) inner = inner.cause;
  if (inner === error) return own;
  const cause = describeOne(inner);
  return cause === '' || own.includes(cause) ? own : `${own} (${cause})`;
}

function hasCause(error: unknown): error is { cause: unknown } {
  return typeof error === 'object' && error !== null && (error as { cause?: unknown }).cause != null;
}

function describeOne(error: unknown): string {
  if (error === null || typeof error !== 'object') return String(error);
  const e = error as { name?: unknown; message?: unknown };
  const name = typeof e.name === 'string' ? e.name : undefined;
  // Some SDKs (OCI) throw plain objects with a message.
  const message = (typeof e.message === 'string' ? e.message : '').split('\n')[0] ?? '';
  if (message === '' && name === undefined) return String(error);
  const parts = [name, errorCode(error)].filter(
    (part): part is string => part !== undefined && part !== 'Error' && !message.includes(part),
  );
  return [...parts, message].filter((part) => part !== '').join(': ');
}

/** Runs `action`; whatever it throws is passed through `toError` (a store's own classification). */
export async function rethrowAs<T>(action: () => Promise<T>, toError: (error: unknown) => Error): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw toError(error);
  }
}
