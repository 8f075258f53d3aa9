/**
 * The prefix-cache part of an iteration's summary: completed measured requests by the cache
 * state the server reported (hit: some prompt tokens cached; miss: none; unknown: it did not
 * say), each state's TTFT, and the token hit rate Σ cached / Σ input over the requests that
 * report a cached count. Present only when a request carries a prefix group or a cached count.
 */
import type { CacheState, PrefixCacheSummary } from './iteration-summary.js';
import { describe } from './percentiles.js';
import type { RequestRecord } from './record.js';
import type { RequestMetrics } from './request-metrics.js';

const STATES: readonly CacheState[] = ['hit', 'miss', 'unknown'];

/** The request's cache state from its cached-token count. */
export function cacheState(record: RequestRecord): CacheState {
  const cached = record.cached_tokens ?? null;
  return cached === null ? 'unknown' : cached > 0 ? 'hit' : 'miss';
}

/**
 * The summary over `completed` (with their metrics, same order); undefined when none of
 * `measured` has a prefix group or a cached-token count (the workload shares no prefix and
 * the server says nothing of its cache).
 */
export function prefixCacheSummary(
  measured: readonly RequestRecord[],
  completed: readonly RequestRecord[],
  perRequest: readonly RequestMetrics[],
): PrefixCacheSummary | undefined {
  const relevant = measured.some(
    (r) => (r.prefix_group ?? null) !== null || (r.cached_tokens ?? null) !== null,
  );
  if (!relevant) return undefined;
  const ttft: Record<CacheState, number[]> = { hit: [], miss: [], unknown: [] };
  const requests: Record<CacheState, number> = { hit: 0, miss: 0, unknown: 0 };
  let cachedTotal = 0;
  let inputReporting = 0;
  let reporting = 0;
  for (let i = 0; i < completed.length; i++) {
    const record = completed[i]!;
    const state = cacheState(record);
    requests[state]++;
    const t = perRequest[i]!.ttft_ms;
    if (t !== null) ttft[state].push(t);
    if (record.cached_tokens !== null && record.cached_tokens !== undefined) {
      reporting++;
      cachedTotal += record.cached_tokens;
      inputReporting += record.input_tokens;
    }
  }
  return {
    token_hit_rate: reporting > 0 && inputReporting > 0 ? cachedTotal / inputReporting : null,
    cached_tokens_total: cachedTotal,
    by_state: STATES.map((state) => ({ state, requests: requests[state], ttft_ms: describe(ttft[state]) })),
  };
}
