/**
 * A report point's prefix caching, read from the warehouse (docs/prefix-caching.md): for
 * each point whose requests carry a prefix group or a cached-token count, the hit rate
 * (serving_outcome_fact, median over repeats) and TTFT by the server's cache state
 * (request_fact, measured successful requests of every repeat pooled).
 */
import type { Warehouse } from '../warehouse/warehouse.js';

export type CacheStateName = 'hit' | 'miss' | 'unknown';

/** One point's prefix caching. */
export interface PointPrefixCache {
  /** serving_outcome_fact.prefix_cache_hit_rate, median over repeats; null when none was stored. */
  hit_rate: number | null;
  states: {
    state: CacheStateName;
    requests: number;
    ttft_ms_p50: number | null;
    ttft_ms_p99: number | null;
  }[];
}

export const CACHE_STATES: readonly CacheStateName[] = ['hit', 'miss', 'unknown'];

/** The SQL of a subject's cache states per point (measured successful requests, repeats pooled). */
export function prefixCacheSql(runCount: number): string {
  const inList = Array.from({ length: runCount }, (_, i) => `$${i + 1}`).join(', ');
  return `SELECT o.scenario, o.mode, o.concurrency, o.rate_rps,
    CASE WHEN r.cached_tokens IS NULL THEN 'unknown' WHEN r.cached_tokens > 0 THEN 'hit' ELSE 'miss' END AS state,
    count(*) AS requests,
    quantile_cont(r.ttft_ms, 0.5)::DOUBLE AS ttft_ms_p50, quantile_cont(r.ttft_ms, 0.99)::DOUBLE AS ttft_ms_p99,
    any_value(o.hit_rate) AS hit_rate
  FROM request_fact r
  JOIN (SELECT run_id, iteration, scenario, mode, concurrency, rate_rps,
          median(prefix_cache_hit_rate) OVER (PARTITION BY scenario, mode, concurrency, rate_rps)::DOUBLE AS hit_rate
        FROM serving_outcome_fact WHERE run_id IN (${inList})) o USING (run_id, iteration)
  WHERE r.run_id IN (${inList}) AND r.phase = 'measured' AND r.status = 'ok'
    AND (r.prefix_group IS NOT NULL OR r.cached_tokens IS NOT NULL)
  GROUP BY o.scenario, o.mode, o.concurrency, o.rate_rps, state`;
}

/** Each point's prefix caching, by the key `pointKey` gives; points without any are absent. */
export async function loadPrefixCache(
  warehouse: Warehouse,
  runIds: string[],
  pointKey: (row: Record<string, unknown>) => string,
): Promise<Map<string, PointPrefixCache>> {
  const out = new Map<string, PointPrefixCache>();
  for (const r of (await warehouse.json(prefixCacheSql(runIds.length), runIds)).rows) {
    const key = pointKey(r);
    const entry = out.get(key) ?? {
      hit_rate: r.hit_rate === null ? null : Number(r.hit_rate),
      states: CACHE_STATES.map((state) => ({ state, requests: 0, ttft_ms_p50: null, ttft_ms_p99: null })),
    };
    const state = entry.states.find((s) => s.state === r.state);
    if (state) {
      state.requests = Number(r.requests);
      state.ttft_ms_p50 = r.ttft_ms_p50 === null ? null : Number(r.ttft_ms_p50);
      state.ttft_ms_p99 = r.ttft_ms_p99 === null ? null : Number(r.ttft_ms_p99);
    }
    out.set(key, entry);
  }
  return out;
}
