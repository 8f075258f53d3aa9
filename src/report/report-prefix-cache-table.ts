/**
 * The report's prefix-cache table: TTFT by cache state and the hit rate per point, shared by
 * the HTML and Markdown renderers (the figures: report-prefix-cache.ts).
 */
import type { Point, Subject } from './report-data.js';
import { CACHE_STATES, type PointPrefixCache } from './report-prefix-cache.js';
import { pointName } from './report-views.js';

export const PREFIX_CACHE_HEADERS = [
  'point',
  'hit rate',
  'hits',
  'hit TTFT p50',
  'hit TTFT p99',
  'misses',
  'miss TTFT p50',
  'miss TTFT p99',
  'unknown',
];

/** The table's rows for a subject: one per point with prefix caching. */
export function prefixCacheRows(subject: Subject): unknown[][] {
  return subject.points
    .filter((p): p is Point & { prefix_cache: PointPrefixCache } => p.prefix_cache !== undefined)
    .map((p) => {
      const [hit, miss, unknown] = CACHE_STATES.map((s) => p.prefix_cache.states.find((x) => x.state === s)!);
      return [
        pointName(p),
        p.prefix_cache.hit_rate,
        hit!.requests,
        hit!.ttft_ms_p50,
        hit!.ttft_ms_p99,
        miss!.requests,
        miss!.ttft_ms_p50,
        miss!.ttft_ms_p99,
        unknown!.requests,
      ];
    });
}

/** What the table says, for its caption. */
export const PREFIX_CACHE_NOTE =
  "TTFT by the server's prefix-cache state (hit: some prompt tokens cached; miss: none; unknown: the server did not say), measured successful requests of every repeat pooled; hit rate: the server's prefix-cache counters over the iteration where scraped, else Σ cached / Σ input tokens of the requests (median over repeats).";
