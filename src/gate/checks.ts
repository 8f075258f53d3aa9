/**
 * The gate's verdicts, in the two modes of the harness document. Regression:
 * per key, the candidate's per-repeat values against the baseline's, with a
 * one-sided exact Mann-Whitney U test (Holm-corrected across keys) and a
 * Hodges-Lehmann shift with its one-sided bounds, decided as
 *   FAIL          the regression is significant (the U test, Holm-adjusted, below α)
 *                 and its lower bound is beyond the tolerance;
 *   PASS          its upper bound is within the tolerance;
 *   INCONCLUSIVE  neither (with the repeats that would likely decide it).
 * Both bounds are one-sided at 1 − α. Why the lower bound and not the estimate:
 * repeats taken minutes apart on a shared machine drift a little, which the test
 * against zero can call significant while the estimate lands just past the
 * tolerance; the tolerance is what the user said does not matter, so a FAIL
 * needs the regression shown to exceed it (the lower bound above the allowed
 * amount is the U test of "worse by more than allowed" rejecting at α).
 * Budget: the candidate's median over repeats against absolute bounds.
 * A key missing on either side, a budget that matches nothing, or a candidate of
 * another config fingerprint is a hard error: never a silent pass.
 */
import { ExitCode, InfermarkError } from '../base/errors.js';
import type { Asset, Baseline, Budgets, Tolerances } from './assets.js';
import { toleranceFor } from './assets.js';
import { globMatches, percentileOf, type Direction } from './metric-keys.js';
import type { PointContext, RunGroup } from './run-group.js';
import { minSamplesForPercentile } from './stats/bootstrap.js';
import { oneSidedLowerBound, oneSidedUpperBound } from './stats/hodges-lehmann.js';
import { holmAdjust } from './stats/holm.js';
import { mannWhitneyU } from './stats/mann-whitney.js';
import { repeatsNeeded } from './stats/repeats-needed.js';

export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE';

/** Requests per repeat under which a p99 is reported as weak evidence even when it has an interval. */
export const P99_WARN_SAMPLES = 5000;

export interface RegressionCheck {
  key: string;
  unit: string;
  direction: Direction;
  verdict: Verdict;
  reason: string;
  baseline: { samples: number[]; median: number };
  candidate: { samples: number[]; median: number };
  /** Candidate median − baseline median, in the metric's unit, and relative to the baseline median. */
  delta: number;
  delta_pct: number | null;
  /** The regression (worse-direction shift) estimate and its one-sided bounds (Hodges-Lehmann), each at `confidence`. */
  regression: { estimate: number; lower_bound: number; upper_bound: number; confidence: number };
  /** The regression allowed, in the metric's unit, and the rule it came from. */
  allowed: number;
  tolerance: { relative: number | null; absolute: number | null; min_repeats: number; rule: string };
  test: {
    name: 'mann-whitney';
    alternative: 'greater' | 'less';
    u: number;
    /** That the candidate is worse, unadjusted. */
    p: number;
    /** p, Holm-adjusted across the gated keys. */
    p_holm: number;
    alpha: number;
    method: string;
  };
  /**
   * `insufficient`: a percentile from fewer samples per repeat than an interval for it
   * needs (it cannot FAIL the gate: a tail that noisy is not evidence); `weak`: enough
   * for an interval, but a p99 under P99_WARN_SAMPLES moves with a few requests.
   */
  evidence: 'ok' | 'weak' | 'insufficient';
  evidence_note: string | null;
  /** For INCONCLUSIVE: repeats per group that would likely decide it. */
  repeats_needed: number | null;
  /** The candidate's context at this key's point, per repeat (error rate, client delay, server counters). */
  context: PointContext[];
}

export interface BudgetCheck {
  key: string;
  unit: string;
  verdict: 'PASS' | 'FAIL';
  value: number;
  samples: number[];
  max: number | null;
  min: number | null;
  budget: string;
  context: PointContext[];
}

/** Hard errors: the comparison itself is not valid. */
export function gateInputError(problems: string[]): InfermarkError {
  return new InfermarkError(
    'E_GATE_MISMATCH',
    `the gate cannot compare these:\n  ${problems.join('\n  ')}`,
    ExitCode.badInput,
  );
}

export function regressionChecks(
  baseline: Asset<Baseline>,
  tolerances: Asset<Tolerances>,
  candidate: RunGroup,
): RegressionCheck[] {
  const problems: string[] = [];
  if (candidate.config_fingerprint !== baseline.value.config_fingerprint) {
    problems.push(
      `config fingerprint: the candidate is ${candidate.config_fingerprint}, the baseline (${baseline.path}) was measured on ${baseline.value.config_fingerprint}; the job changed, so refresh the baseline (infermark gate baseline) in a separate commit`,
    );
  }
  const gated = Object.keys(baseline.value.metrics).filter(
    (key) => !toleranceFor(tolerances.value, key, globMatches).ignore,
  );
  const candidateKeys = new Set(candidate.repeats.flatMap((r) => [...r.metrics.keys()]));
  for (const key of gated) {
    const missing = candidate.repeats.filter((r) => !r.metrics.has(key)).map((r) => r.run_id);
    if (missing.length > 0)
      problems.push(`missing key ${key}: in the baseline, not in candidate run(s) ${missing.join(', ')}`);
  }
  for (const key of candidateKeys) {
    if (!(key in baseline.value.metrics) && !toleranceFor(tolerances.value, key, globMatches).ignore) {
      problems.push(
        `unknown key ${key}: in the candidate, not in the baseline ${baseline.path} (refresh the baseline, or ignore it in the tolerances)`,
      );
    }
  }
  for (const rule of tolerances.value.rules) {
    if (![...gated, ...candidateKeys].some((key) => globMatches(rule.match, key)) && !rule.ignore) {
      problems.push(`tolerance rule "${rule.match}" (${tolerances.path}) matches no key`);
    }
  }
  if (problems.length > 0) throw gateInputError(problems);

  const partial = gated.map((key) => compareKey(key, baseline.value, tolerances.value, candidate));
  const adjusted = holmAdjust(partial.map((c) => c.test.p));
  return partial.map((check, i) => decide(check, adjusted[i] as number));
}

type Partial = Omit<RegressionCheck, 'verdict' | 'reason' | 'repeats_needed'>;

function compareKey(key: string, baseline: Baseline, tolerances: Tolerances, candidate: RunGroup): Partial {
  const base = baseline.metrics[key] as Baseline['metrics'][string];
  const samples = candidate.repeats.map((r) => r.metrics.get(key)?.value as number);
  const rule = toleranceFor(tolerances, key, globMatches);
  const lowerIsBetter = base.direction === 'lower';
  // The regression is oriented so that positive = worse, whichever direction is better.
  const worseCandidate = lowerIsBetter ? samples : samples.map((v) => -v);
  const worseBaseline = lowerIsBetter ? base.samples : base.samples.map((v) => -v);
  const baseMedian = median(base.samples);
  const candMedian = median(samples);
  const allowed = Math.max(
    rule.relative !== null ? rule.relative * Math.abs(baseMedian) : 0,
    rule.absolute !== null ? rule.absolute : 0,
  );
  const test = mannWhitneyU(samples, base.samples, lowerIsBetter ? 'greater' : 'less');
  const bound = oneSidedUpperBound(worseCandidate, worseBaseline, 1 - rule.alpha);
  const lower = oneSidedLowerBound(worseCandidate, worseBaseline, 1 - rule.alpha);
  const point = key.split('.').slice(0, 2).join('.');
  const { evidence, note } = evidenceOf(key, candidate, base.sample_counts);
  return {
    key,
    unit: base.unit,
    direction: base.direction,
    baseline: { samples: base.samples, median: baseMedian },
    candidate: { samples, median: candMedian },
    delta: candMedian - baseMedian,
    delta_pct: baseMedian === 0 ? null : ((candMedian - baseMedian) / Math.abs(baseMedian)) * 100,
    regression: {
      estimate: bound.estimate,
      lower_bound: lower.bound,
      upper_bound: bound.bound,
      confidence: bound.confidence_actual,
    },
    allowed,
    tolerance: {
      relative: rule.relative,
      absolute: rule.absolute,
      min_repeats: rule.min_repeats,
      rule: rule.rule,
    },
    test: {
      name: 'mann-whitney',
      alternative: lowerIsBetter ? 'greater' : 'less',
      u: test.u,
      p: test.p,
      p_holm: test.p,
      alpha: rule.alpha,
      method: test.method,
    },
    evidence,
    evidence_note: note,
    context: candidate.repeats
      .map((r) => r.context.get(point))
      .filter((c): c is PointContext => c !== undefined),
  };
}

function decide(check: Partial, pHolm: number): RegressionCheck {
  const test = { ...check.test, p_holm: pHolm };
  const n = Math.min(check.baseline.samples.length, check.candidate.samples.length);
  const { estimate, lower_bound: lower, upper_bound: bound } = check.regression;
  const minRepeats = check.tolerance.min_repeats;
  if (n < minRepeats) {
    return {
      ...check,
      test,
      verdict: 'INCONCLUSIVE',
      reason: `${n} repeats per group; the tolerances ask for at least ${minRepeats}`,
      repeats_needed: minRepeats,
    };
  }
  const conf = `${Math.round(check.regression.confidence * 1000) / 10}%`;
  const significant = pHolm < test.alpha;
  const beyond = significant && lower > check.allowed;
  if (beyond && check.evidence === 'insufficient') {
    return {
      ...check,
      test,
      verdict: 'INCONCLUSIVE',
      reason: `would fail (regressed by ${fmt(estimate)} ${check.unit}, at least ${fmt(lower)}, p = ${fmtP(pHolm)}), but ${check.evidence_note ?? 'the evidence is insufficient'}`,
      repeats_needed: null,
    };
  }
  if (beyond) {
    return {
      ...check,
      test,
      verdict: 'FAIL',
      reason: `regressed by ${fmt(estimate)} ${check.unit} (estimate; at least ${fmt(lower)} at ${conf}), more than the ${fmt(check.allowed)} ${check.unit} allowed; p = ${fmtP(pHolm)} (Holm) < α = ${test.alpha}`,
      repeats_needed: null,
    };
  }
  if (bound <= check.allowed) {
    return {
      ...check,
      test,
      verdict: 'PASS',
      reason: `the regression is at most ${fmt(bound)} ${check.unit} (${conf} bound), within the ${fmt(check.allowed)} ${check.unit} allowed`,
      repeats_needed: null,
    };
  }
  // Undecided: the bound that has to cross the allowed amount is the lower one when the
  // estimate is beyond it (towards FAIL), the upper one otherwise (towards PASS).
  const towardsFail = estimate > check.allowed;
  const deciding = towardsFail ? lower : bound;
  const needed = Number.isFinite(deciding)
    ? repeatsNeeded({ n, estimate, bound: deciding, allowed: check.allowed }, minRepeats)
    : { per_group: Math.max(n + 1, minRepeats), additional: 1 };
  return {
    ...check,
    test,
    verdict: 'INCONCLUSIVE',
    reason: towardsFail
      ? `the estimated regression ${fmt(estimate)} ${check.unit} exceeds the ${fmt(check.allowed)} allowed, but ${significant ? `its ${conf} lower bound ${fmt(lower)} does not` : `not significantly (p = ${fmtP(pHolm)}, Holm)`}`
      : `the estimated regression ${fmt(estimate)} ${check.unit} is within the ${fmt(check.allowed)} allowed, but its ${conf} bound ${fmt(bound)} is not`,
    repeats_needed: needed?.per_group ?? null,
  };
}

/** A percentile is weak evidence when a repeat has fewer samples than an interval for it needs. */
function evidenceOf(
  key: string,
  candidate: RunGroup,
  baselineCounts: (number | null)[],
): { evidence: RegressionCheck['evidence']; note: string | null } {
  const q = percentileOf(key.split('.').pop() ?? '');
  if (q === null || q <= 0.5) return { evidence: 'ok', note: null };
  const need = minSamplesForPercentile(q, 0.95);
  const counts = [
    ...candidate.repeats.map((r) => r.metrics.get(key)?.samples ?? null),
    ...baselineCounts,
  ].filter((c): c is number => c !== null);
  const fewest = counts.length > 0 ? Math.min(...counts) : 0;
  if (fewest < need) {
    return {
      evidence: 'insufficient',
      note: `a p${q * 100} needs ≥ ${need} samples per repeat; the fewest here is ${fewest}`,
    };
  }
  if (q >= 0.99 && fewest < P99_WARN_SAMPLES) {
    return {
      evidence: 'weak',
      note: `a p${q * 100} from ${fewest} samples per repeat (under ${P99_WARN_SAMPLES}) moves with a few requests`,
    };
  }
  return { evidence: 'ok', note: null };
}

/** What a budget check needs of one key: its per-repeat values, or why it has none. */
export type BudgetSamples =
  { samples: number[]; unit: string; context: PointContext[] } | { missing: string };

/**
 * Budget mode over any source of metrics: every budget (a key or glob) must match
 * at least one of `keys`, and each key it matches is checked by the median of its
 * samples against the bounds. A budget matching nothing, or a matched key without
 * values, is a hard error listing every such problem.
 */
export function checkBudgets(
  budgets: Asset<Budgets>,
  keys: readonly string[],
  lookup: (key: string) => BudgetSamples,
): BudgetCheck[] {
  const problems: string[] = [];
  const checks: BudgetCheck[] = [];
  for (const [pattern, bounds] of Object.entries(budgets.value.budgets)) {
    const matched = keys.filter((key) => globMatches(pattern, key));
    if (matched.length === 0) {
      problems.push(
        `unknown key ${pattern}: the budget (${budgets.path}) matches no metric of the candidate`,
      );
      continue;
    }
    for (const key of matched) {
      const found = lookup(key);
      if ('missing' in found) {
        problems.push(found.missing);
        continue;
      }
      const value = median(found.samples);
      const over = bounds.max !== undefined && value > bounds.max;
      const under = bounds.min !== undefined && value < bounds.min;
      checks.push({
        key,
        unit: found.unit,
        verdict: over || under ? 'FAIL' : 'PASS',
        value,
        samples: found.samples,
        max: bounds.max ?? null,
        min: bounds.min ?? null,
        budget: pattern,
        context: found.context,
      });
    }
  }
  if (problems.length > 0) throw gateInputError(problems);
  return checks;
}

export function budgetChecks(budgets: Asset<Budgets>, candidate: RunGroup): BudgetCheck[] {
  const keys = [...new Set(candidate.repeats.flatMap((r) => [...r.metrics.keys()]))].sort();
  return checkBudgets(budgets, keys, (key) => {
    const missing = candidate.repeats.filter((r) => !r.metrics.has(key));
    if (missing.length > 0) {
      return {
        missing: `missing key ${key}: not in candidate run(s) ${missing.map((r) => r.run_id).join(', ')}`,
      };
    }
    const point = key.split('.').slice(0, 2).join('.');
    return {
      samples: candidate.repeats.map((r) => r.metrics.get(key)?.value as number),
      unit: candidate.repeats[0]?.metrics.get(key)?.unit ?? '',
      context: candidate.repeats
        .map((r) => r.context.get(point))
        .filter((c): c is PointContext => c !== undefined),
    };
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : Number(value.toPrecision(4)).toString();
}

function fmtP(p: number): string {
  return p < 0.001 ? p.toExponential(2) : p.toFixed(4);
}
