/**
 * The one retry policy for every storage call, whatever the scheme: a failure that
 * may pass (network, 5xx, throttling: `isRetryable`, one classification for every
 * SDK) is retried with exponential backoff and full jitter until the policy gives
 * up; anything else is thrown at once. Every scheme's SDK client is built with its
 * own retries off (`s3.ts`, `az.ts`, `gs.ts`, `oci.ts`; Octokit has none), so one
 * failing call is sent exactly as often as this policy says, not that many times
 * the SDK's count; each attempt has a deadline (`attempt-deadline.ts`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, isRetryable, permanentKindOf, StorageError } from './storage-error.js';
import type { ObjectStore } from './object-store.js';

export interface RetryPolicy {
  /** Give up on an object after this long of failed attempts. */
  giveUpAfterMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { giveUpAfterMs: 120_000, firstDelayMs: 250, maxDelayMs: 8_000 };

/** For a look a person waits on (lineage checking stored artifacts): a few tries in seconds, not minutes. */
export const QUICK_RETRY: RetryPolicy = { giveUpAfterMs: 5_000, firstDelayMs: 250, maxDelayMs: 2_000 };

export interface RetryHooks {
  /** Told of each retried failure (already scrubbed of secrets). */
  onRetry?(key: string, attempt: number, error: Error): void;
}

/**
 * Runs `attempt` until it succeeds, a non-retryable error, or the policy gives up;
 * what it throws then is a StorageError naming `key`.
 */
export async function withRetry<T>(
  key: string,
  policy: RetryPolicy,
  hooks: RetryHooks,
  attempt: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  let delay = policy.firstDelayMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      const elapsed = Date.now() - started;
      const retryable = isRetryable(error);
      if (!retryable || elapsed + delay > policy.giveUpAfterMs) {
        if (error instanceof StorageError) throw error;
        throw new StorageError(`${key}: ${describeError(error)}`, {
          retryable,
          kind: permanentKindOf(error),
          cause: error,
        });
      }
      hooks.onRetry?.(key, n, new StorageError(describeError(error), { retryable: true }));
      // Full jitter: parallel uploads that failed together do not retry together.
      await sleep(Math.round(Math.random() * delay));
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}

/**
 * A store's first check (credentials, bucket), retried for a few seconds when the failure is
 * transient: the SDKs' own retries are off, and a 503 at the start of a run should not end it.
 */
export function preflightStore(store: Pick<ObjectStore, 'preflight'>, hooks: RetryHooks = {}): Promise<void> {
  return withRetry('preflight', QUICK_RETRY, hooks, () => store.preflight());
}
