/**
 * The gate's verdicts for a report's `--vs`: when both sides are run groups with
 * repeats, both groups are loaded from the warehouse as the gate loads their run
 * folders (gate/warehouse-group.ts: the same per-repeat values, so the raw folders
 * may be in object storage or gone), the baseline is built from the `--vs` side
 * (A, the reference) and B is checked with the gate's own regressionChecks, so the
 * report and `infermark gate` agree. Anything that stops that (single runs,
 * different cases, a run that is not whole, a key on one side only) becomes a
 * status with a message, never a crash.
 */
import { InfermarkError } from '../base/errors.js';
import { metricOfColumn } from '../metrics/definitions.js';
import type { Asset, Tolerances } from '../gate/assets.js';
import { baselineFrom } from '../gate/baseline.js';
import { DEFAULT_TOLERANCES } from '../gate/default-tolerances.js';
import { regressionChecks, type RegressionCheck, type Verdict } from '../gate/checks.js';
import { pointOf, type Direction } from '../gate/metric-keys.js';
import type { RunGroup } from '../gate/run-group.js';
import { loadRunGroupFromWarehouse } from '../gate/warehouse-group.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import type { Row } from '../warehouse/sql.js';

/** What the verdicts read of a report subject (report-data.ts's Subject is one). */
export interface VerdictSubject {
  label: string;
  kind: 'run' | 'run_group';
  id: string;
  /** In the order the repeats are compared (the report's: started_at, run_id). */
  run_ids: string[];
  runs: Row[];
}

/** The tolerances a report uses without `--tolerances`: the gate's documented defaults. */
export { DEFAULT_TOLERANCES } from '../gate/default-tolerances.js';

/** One gated key, B (candidate) against A (baseline). */
export interface VerdictRow {
  key: string;
  unit: string;
  direction: Direction;
  verdict: Verdict;
  reason: string;
  a_median: number;
  b_median: number;
  /** B median − A median, in the unit, and relative to A. */
  delta: number;
  delta_pct: number | null;
  /** Hodges-Lehmann regression estimate (positive = worse) and its one-sided bounds. */
  regression_estimate: number;
  /** null: no finite bound at this many repeats (JSON has no Infinity). */
  regression_lower_bound: number | null;
  regression_upper_bound: number | null;
  confidence: number;
  allowed: number;
  p: number;
  p_holm: number;
  alpha: number;
  evidence: RegressionCheck['evidence'];
  repeats_needed: number | null;
}

export interface GateVerdicts {
  status: 'ok' | 'single-run' | 'different-case' | 'not-comparable';
  /** What the verdicts are, or why there are none, in words. */
  message: string;
  tolerances: {
    path: string;
    sha256: string;
    relative: number | null;
    alpha: number | null;
    min_repeats: number | null;
  };
  repeats: { a: number; b: number };
  config_fingerprint: { a: string | null; b: string | null };
  rows: VerdictRow[];
}

export function verdictRow(check: RegressionCheck): VerdictRow {
  return {
    key: check.key,
    unit: check.unit,
    direction: check.direction,
    verdict: check.verdict,
    reason: check.reason,
    a_median: check.baseline.median,
    b_median: check.candidate.median,
    delta: check.delta,
    delta_pct: check.delta_pct,
    regression_estimate: check.regression.estimate,
    regression_lower_bound: Number.isFinite(check.regression.lower_bound)
      ? check.regression.lower_bound
      : null,
    regression_upper_bound: Number.isFinite(check.regression.upper_bound)
      ? check.regression.upper_bound
      : null,
    confidence: check.regression.confidence,
    allowed: check.allowed,
    p: check.test.p,
    p_holm: check.test.p_holm,
    alpha: check.test.alpha,
    evidence: check.evidence,
    repeats_needed: check.repeats_needed,
  };
}

/** B (subject) against A (baseline, the `--vs` side) with the gate's statistics, or why not. */
export async function gateVerdicts(
  warehouse: Warehouse,
  a: VerdictSubject,
  b: VerdictSubject,
  tolerances: Asset<Tolerances> = DEFAULT_TOLERANCES,
): Promise<GateVerdicts> {
  const d = tolerances.value.defaults;
  const out: GateVerdicts = {
    status: 'ok',
    message: '',
    tolerances: {
      path: tolerances.path,
      sha256: tolerances.sha256,
      relative: d.relative ?? null,
      alpha: d.alpha ?? null,
      min_repeats: d.min_repeats ?? null,
    },
    repeats: { a: a.run_ids.length, b: b.run_ids.length },
    config_fingerprint: {
      a: (a.runs[0]?.benchmark_case_id as string | undefined) ?? null,
      b: (b.runs[0]?.benchmark_case_id as string | undefined) ?? null,
    },
    rows: [],
  };
  const none = (status: GateVerdicts['status'], message: string): GateVerdicts => ({
    ...out,
    status,
    message,
  });
  const single = [a, b].filter((s) => s.kind !== 'run_group' || s.run_ids.length < 2);
  if (single.length > 0) {
    return none(
      'single-run',
      `Verdicts need repeats: ${single.map((s) => `${s.label} is ${s.kind === 'run' ? 'a single run' : `a group of ${s.run_ids.length}`}`).join(', ')}. Run both sides with --repeats (the gate asks for at least ${d.min_repeats ?? 5} per side); deltas only.`,
    );
  }
  let groups: [RunGroup, RunGroup];
  try {
    groups = [
      await loadRunGroupFromWarehouse(warehouse, a.run_ids),
      await loadRunGroupFromWarehouse(warehouse, b.run_ids),
    ];
  } catch (error) {
    if (!(error instanceof InfermarkError)) throw error;
    return none('not-comparable', `No verdicts: ${error.message}. Deltas only.`);
  }
  const [groupA, groupB] = groups;
  out.config_fingerprint = { a: groupA.config_fingerprint, b: groupB.config_fingerprint };
  if (groupA.config_fingerprint !== groupB.config_fingerprint) {
    return none(
      'different-case',
      `No verdicts: A and B are different cases (config fingerprint ${groupA.config_fingerprint} vs ${groupB.config_fingerprint}); the gate compares repeats of one case only. Deltas only.`,
    );
  }
  try {
    const checks = regressionChecks(
      { path: `run group ${a.id}`, sha256: '', value: baselineFrom(groupA) },
      tolerances,
      groupB,
    );
    out.rows = checks.map(verdictRow);
  } catch (error) {
    if (!(error instanceof InfermarkError)) throw error;
    return none('not-comparable', `No verdicts: ${error.message}. Deltas only.`);
  }
  const count = (v: Verdict): number => out.rows.filter((r) => r.verdict === v).length;
  out.message = `Gate verdicts (B against A as the baseline; ${out.repeats.a} vs ${out.repeats.b} repeats; tolerances ${tolerances.path}): ${count('FAIL')} FAIL, ${count('INCONCLUSIVE')} INCONCLUSIVE, ${count('PASS')} PASS.`;
  return out;
}

/** The gate key of a report delta (`ttft_ms_p99` at a point → `<scenario>.<point>.ttft_ms.p99`). */
export function gateKeyOf(d: {
  scenario: string;
  mode: string;
  concurrency: number | null;
  rate_rps: number | null;
  metric: string;
}): string {
  // The registry splits the column into its metric and statistic (`ttft_ms_p99` → ttft_ms, p99).
  const column = metricOfColumn(d.metric);
  const metric = column ? `${column.metric.field}.${column.stat}` : `${d.metric}.value`;
  const point = pointOf({
    mode: d.mode,
    concurrency: d.concurrency,
    rate_rps: d.rate_rps,
  } as Parameters<typeof pointOf>[0]);
  return `${d.scenario}.${point}.${metric}`;
}

function fmtNum(v: number | null): string {
  if (v === null) return '∞';
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : String(Number(v.toPrecision(4)));
}

/** A bound; null is the infinite one (no finite bound at this many repeats), shown as `infinite`. */
function fmtBound(v: number | null, infinite: string): string {
  return v === null ? infinite : fmtNum(v);
}

function fmtP(p: number): string {
  return p < 0.001 ? p.toExponential(2) : p.toFixed(4);
}

/** The verdict table both renderers show: headers, and one row of cells per key. */
export const VERDICT_HEADERS = [
  'key',
  'verdict',
  'A median',
  'B median',
  'Δ',
  'Δ %',
  'regression (HL)',
  'lower bound',
  'upper bound',
  'allowed',
  'p (Holm)',
  'why',
];

export function verdictCells(r: VerdictRow): string[] {
  return [
    r.key,
    r.verdict,
    fmtNum(r.a_median),
    fmtNum(r.b_median),
    `${r.delta >= 0 ? '+' : ''}${fmtNum(r.delta)} ${r.unit}`,
    r.delta_pct === null ? '—' : `${r.delta_pct >= 0 ? '+' : ''}${r.delta_pct.toFixed(1)}`,
    fmtNum(r.regression_estimate),
    fmtBound(r.regression_lower_bound, '−∞'),
    `${fmtBound(r.regression_upper_bound, '∞')} (${Math.round(r.confidence * 1000) / 10}%)`,
    fmtNum(r.allowed),
    fmtP(r.p_holm),
    r.reason,
  ];
}

/** The line under the verdict table: how to read it, and the tolerances used. */
export function verdictLegend(gate: GateVerdicts): string {
  const t = gate.tolerances;
  return `One-sided exact Mann-Whitney U per key (Holm-corrected across keys) and the Hodges-Lehmann regression (positive = worse) with its one-sided lower and upper bounds (FAIL: significant, lower bound beyond the allowed; PASS: upper bound within it), as \`infermark gate\` decides them. Tolerances: ${t.path} (relative ${t.relative ?? '—'}, α ${t.alpha ?? '—'}, min repeats ${t.min_repeats ?? '—'}).`;
}
