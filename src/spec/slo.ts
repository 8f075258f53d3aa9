/**
 * SLO strings for goodput (`p99_ttft_ms<=500`, `ttft_ms<500`, `p99.9_e2e_latency_ms<=3000`):
 * parse into the Slo type and print back in canonical form. Whitespace around the
 * operator is tolerated; `formatSlo` prints without it.
 */
import type { Slo, SloMetric, SloOperator } from './slo-types.js';

/** Every metric an SLO may name (SloMetric), in display order. */
export const sloMetrics: readonly SloMetric[] = [
  'ttft_ms',
  'ttfb_ms',
  'ttfo_ms',
  'tpot_ms',
  'itl_ms',
  'e2e_latency_ms',
];

/** Result of parsing one SLO string. */
export type SloParseResult = { ok: true; slo: Slo } | { ok: false; message: string };

const SHAPE = 'expected [pNN_]metric<=number, e.g. p99_ttft_ms<=500';

/** Parse an SLO such as `p99_ttft_ms<=500`. Never throws. */
export function parseSlo(text: string): SloParseResult {
  if (typeof text !== 'string' || text.trim() === '') return { ok: false, message: SHAPE };
  const match = /^\s*([A-Za-z0-9_.]+)\s*(<=|>=|<|>|==|=)\s*(\S*)\s*$/.exec(text);
  if (!match) return { ok: false, message: `${SHAPE}; the operator is one of <=, <, >=, >` };
  const [, lhs, op, rhs] = match as unknown as [string, string, string, string];
  if (op === '=' || op === '==')
    return { ok: false, message: `operator must be one of <=, <, >=, > (got ${op})` };

  let percentile: number | null = null;
  let metricText = lhs;
  const pct = /^p(\d+(?:\.\d+)?)_(.*)$/.exec(lhs);
  if (pct) {
    percentile = Number(pct[1]);
    metricText = pct[2] as string;
    if (!(percentile > 0 && percentile <= 100)) {
      return { ok: false, message: `percentile must be > 0 and ≤ 100 (got p${pct[1]})` };
    }
  } else if (/^p\d/.test(lhs)) {
    return { ok: false, message: `${SHAPE}: a percentile is written p99_ or p99.9_ before the metric` };
  }

  if (!(sloMetrics as readonly string[]).includes(metricText)) {
    const guess = sloMetrics.find((m) => m === `${metricText}_ms` || m.replace(/_ms$/, '') === metricText);
    const hint = guess ? ` (did you mean ${guess}?)` : '';
    return {
      ok: false,
      message: `unknown SLO metric "${metricText}"${hint}: expected one of ${sloMetrics.join(', ')}`,
    };
  }

  if (!/^\d+(?:\.\d+)?$/.test(rhs)) {
    return { ok: false, message: `threshold must be a non-negative number in milliseconds (got "${rhs}")` };
  }
  return {
    ok: true,
    slo: {
      text,
      metric: metricText as SloMetric,
      percentile,
      op: op as SloOperator,
      threshold: Number(rhs),
    },
  };
}

/** Canonical text of an SLO: `p99_ttft_ms<=500` (no spaces; percentile only when given). */
export function formatSlo(slo: Slo): string {
  const prefix = slo.percentile === null ? '' : `p${String(slo.percentile)}_`;
  return `${prefix}${slo.metric}${slo.op}${String(slo.threshold)}`;
}
