/**
 * Every attempt on a store has a deadline: the retry policy checks its give-up
 * between attempts, so an attempt that hangs would hold its object forever. The
 * bound is on waiting for a connection and then on time without progress, not on
 * the whole call: a large object on a slow link takes long and is still moving.
 * The S3 client takes both values as settings and the GCS client the idle one (its
 * per-request timeout, until the answer's headers); OCI and GitHub go through
 * Node's fetch, whose own bounds are 10 s to connect and 300 s without a byte; the
 * Azure client has no idle timeout, so its calls run under `withIdleDeadline`.
 */
import { StorageError } from './storage-error.js';

export const ATTEMPT_TIMEOUTS = { connectMs: 10_000, idleMs: 60_000 } as const;

export interface IdleDeadline {
  /** Aborts the call once the deadline passes. */
  readonly signal: AbortSignal;
  /** The call moved (bytes sent or received, a page read): the deadline starts again. */
  progress(): void;
}

/**
 * Runs `work` with a signal that aborts it after `idleMs` without progress; that
 * abort is thrown as a retryable StorageError naming `what`, so the retry policy
 * tries again.
 */
export async function withIdleDeadline<T>(
  what: string,
  work: (deadline: IdleDeadline) => Promise<T>,
  idleMs: number = ATTEMPT_TIMEOUTS.idleMs,
): Promise<T> {
  const controller = new AbortController();
  let expired = false;
  const expire = (): void => {
    expired = true;
    controller.abort();
  };
  let timer = setTimeout(expire, idleMs);
  const deadline: IdleDeadline = {
    signal: controller.signal,
    progress: () => {
      if (expired) return;
      clearTimeout(timer);
      timer = setTimeout(expire, idleMs);
    },
  };
  try {
    return await work(deadline);
  } catch (error) {
    if (!expired) throw error;
    throw new StorageError(`${what}: no progress for ${idleMs / 1000} s`, { retryable: true, cause: error });
  } finally {
    clearTimeout(timer);
  }
}
