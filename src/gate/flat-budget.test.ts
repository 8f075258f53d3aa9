/**
 * Budget mode over a flat metrics map (the self-gate's): the same semantics as
 * budget mode over a run group: max and min bounds on the median, globs, a budget
 * that matches no key and a matched key without a value as hard errors (exit 2),
 * and the exit code of the checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { metricKeys } from '../../bench/self-gate/metrics.js';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { budgetsSchema, readAsset, type Asset, type Budgets } from './assets.js';
import { budgetExitCode, flatBudgetChecks } from './flat-budget.js';

function budgets(value: Budgets['budgets']): Asset<Budgets> {
  return {
    path: 'budgets.json',
    sha256: 'sha256:test',
    value: { format: 'infermark-budgets/v1', budgets: value },
  };
}

const METRICS = new Map<string, number[]>([
  ['client.cpu_us_per_token.c8', [2.5]],
  ['client.cpu_us_per_token.c64', [1.8]],
  ['timing.ttft_error_ms.p50', [0.4]],
  ['soak.records_per_s', [1800, 2200, 2000]],
]);
const UNITS = new Map([['soak.records_per_s', 'records/s']]);

test('max and min bounds are checked on the median, globs expand to every key they match', () => {
  const checks = flatBudgetChecks(
    budgets({
      'client.cpu_us_per_token.*': { max: 2 },
      'timing.ttft_error_ms.p50': { min: -1, max: 1 },
      'soak.records_per_s': { min: 2100 },
    }),
    METRICS,
    UNITS,
  );
  const byKey = Object.fromEntries(checks.map((c) => [c.key, c]));
  assert.deepEqual(Object.keys(byKey).sort(), [
    'client.cpu_us_per_token.c64',
    'client.cpu_us_per_token.c8',
    'soak.records_per_s',
    'timing.ttft_error_ms.p50',
  ]);
  assert.equal(byKey['client.cpu_us_per_token.c8']?.verdict, 'FAIL');
  assert.equal(byKey['client.cpu_us_per_token.c64']?.verdict, 'PASS');
  assert.equal(byKey['client.cpu_us_per_token.c64']?.budget, 'client.cpu_us_per_token.*');
  assert.equal(byKey['timing.ttft_error_ms.p50']?.verdict, 'PASS');
  // The median of 1800, 2200, 2000 is 2000: under the minimum.
  assert.equal(byKey['soak.records_per_s']?.value, 2000);
  assert.equal(byKey['soak.records_per_s']?.verdict, 'FAIL');
  assert.equal(byKey['soak.records_per_s']?.unit, 'records/s');
  assert.equal(byKey['soak.records_per_s']?.min, 2100);
  assert.equal(byKey['soak.records_per_s']?.max, null);
  assert.equal(budgetExitCode(checks), ExitCode.failure);
});

test('a value on the bound passes (bounds are inclusive); all passing exits 0', () => {
  const checks = flatBudgetChecks(
    budgets({ 'client.cpu_us_per_token.c64': { max: 1.8 }, 'timing.*': { min: 0.4 } }),
    METRICS,
  );
  assert.deepEqual(
    checks.map((c) => c.verdict),
    ['PASS', 'PASS'],
  );
  assert.equal(budgetExitCode(checks), ExitCode.ok);
});

test('a budget that matches no metric and a metric without a value are hard errors (exit 2), all listed', () => {
  const metrics = new Map([...METRICS, ['soak.rss_growth_per_24h_equiv_bytes', [Number.NaN]]]);
  assert.throws(
    () =>
      flatBudgetChecks(
        budgets({
          'client.cpu_us_per_tokn.c64': { max: 3 },
          'soak.rss_growth_per_24h_equiv_bytes': { max: 1 },
          'timing.ttft_error_ms.p50': { max: 1 },
        }),
        metrics,
      ),
    (error: unknown) => {
      assert.ok(error instanceof InfermarkError);
      assert.equal(error.exitCode, ExitCode.badInput);
      assert.match(
        error.message,
        /unknown key client\.cpu_us_per_tokn\.c64: the budget \(budgets\.json\) matches no metric/,
      );
      assert.match(error.message, /missing key soak\.rss_growth_per_24h_equiv_bytes: no finite value/);
      return true;
    },
  );
});

test('the checked-in self-gate budgets are valid and every one matches a metric the self-gate reports', async () => {
  // dist/src/gate → the repository root.
  const path = fileURLToPath(new URL('../../../bench/self-gate/budgets.json', import.meta.url));
  const asset = await readAsset(path, budgetsSchema);
  assert.match(asset.sha256, /^sha256:/);
  // The short profile's levels; placeholder values, since only matching is checked here.
  const keys = metricKeys([8, 64]);
  const checks = flatBudgetChecks(asset, new Map(keys.map((key) => [key, [0]])));
  assert.ok(checks.length >= Object.keys(asset.value.budgets).length);
});

test('a budgets file that is not the format is bad input, with file and field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-flat-budget-'));
  try {
    const path = join(dir, 'budgets.json');
    await writeFile(path, JSON.stringify({ format: 'infermark-budgets/v1', budgets: { 'soak.x': {} } }));
    await assert.rejects(readAsset(path, budgetsSchema), (error: unknown) => {
      assert.ok(error instanceof InfermarkError);
      assert.equal(error.exitCode, ExitCode.badInput);
      assert.match(error.message, /budgets\.json: budgets\["soak\.x"\]: expected max, min or both/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
