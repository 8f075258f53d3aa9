/**
 * Storage failures in two kinds: a configuration the user must fix (bad URI,
 * missing credentials, a bucket that is not there or not writable: exit 2, never
 * retried) and a failure that may pass (network, 5xx, throttling: retried with
 * backoff by `upload.ts`, exit 1 when retries run out).
 */
import { ExitCode, InfermarkError } from '../errors.js';
import { scrubText } from '../evidence/redact.js';

export class StorageError extends InfermarkError {
  readonly retryable: boolean;
  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    // SDK messages can quote a signed URL or a header: scrubbed before they can be printed.
    super(
      options.retryable ? 'E_STORAGE' : 'E_STORAGE_CONFIG',
      scrubText(message),
      options.retryable ? ExitCode.failure : ExitCode.badInput,
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
 * Whether an error from an SDK or the network is worth retrying: HTTP 408, 429
 * and 5xx, and connection failures are; other 4xx (auth, missing bucket) are not.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof StorageError) return error.retryable;
  const status = httpStatusOf(error);
  if (status !== null) return status === 408 || status === 429 || status >= 500;
  return true;
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
