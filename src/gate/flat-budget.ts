/**
 * Budget mode over a flat metrics map (`key → values`), for measurements that are
 * not run folders: infermark's own self-gate (bench/self-gate.ts) measures client
 * CPU, timing error and soak retention, and checks them against a budgets.json with
 * the semantics of `infermark gate --mode budget` (checks.ts: checkBudgets). A
 * key's value is the median of its values; a budget matching no key, or a matched
 * key with no values, is a hard error (exit 2); a bound crossed is a FAIL (exit 1).
 */
import { ExitCode } from '../base/errors.js';
import type { Asset, Budgets } from './assets.js';
import { checkBudgets, type BudgetCheck } from './checks.js';

/**
 * Checks every budget against `metrics` (one or more values per key; the median is
 * checked). `units` names each key's unit for reports (empty when absent).
 * @throws InfermarkError E_GATE_MISMATCH (exit 2) listing every budget that matches
 * no key and every matched key without values.
 */
export function flatBudgetChecks(
  budgets: Asset<Budgets>,
  metrics: ReadonlyMap<string, readonly number[]>,
  units: ReadonlyMap<string, string> = new Map(),
): BudgetCheck[] {
  const keys = [...metrics.keys()].sort();
  return checkBudgets(budgets, keys, (key) => {
    const values = metrics.get(key) ?? [];
    if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
      return { missing: `missing key ${key}: no finite value was measured (${values.join(', ') || 'none'})` };
    }
    return { samples: [...values], unit: units.get(key) ?? '', context: [] };
  });
}

/** The exit code of a set of budget checks: 0 when every one passes, 1 when any fails. */
export function budgetExitCode(checks: readonly BudgetCheck[]): number {
  return checks.some((c) => c.verdict === 'FAIL') ? ExitCode.failure : ExitCode.ok;
}
