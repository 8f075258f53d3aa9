/**
 * The regression rule on hand-made samples: a FAIL needs the regression's lower
 * bound beyond the tolerance, not only its estimate. The drift case is the
 * shape of an A/A comparison that failed under foreign load (a +2.6 ms estimate
 * against 2 ms allowed, significant): it is INCONCLUSIVE now.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Asset, Baseline, Tolerances } from './assets.js';
import { regressionChecks, type RegressionCheck } from './checks.js';
import type { Direction } from './metric-keys.js';
import type { Repeat, RunGroup } from './run-group.js';
import { pairwiseDifferences, shiftRank } from './stats/hodges-lehmann.js';

const TOLERANCES: Asset<Tolerances> = {
  path: 'tolerances.json',
  sha256: 'sha256:test',
  value: {
    format: 'infermark-tolerances/v1',
    defaults: { relative: 0.05, alpha: 0.01, min_repeats: 5, test: 'mann-whitney' },
    rules: [],
  },
};

/** Seven evenly spread repeats: 0.3 apart, 1.8 from first to last. */
const SPREAD = [0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8];

function check(
  key: string,
  unit: string,
  direction: Direction,
  base: number[],
  cand: number[],
): RegressionCheck {
  const baseline: Asset<Baseline> = {
    path: 'baseline.json',
    sha256: 'sha256:test',
    value: {
      format: 'infermark-baseline/v1',
      created_at: '2026-12-06T00:00:00Z',
      config_fingerprint: 'case',
      testbed: {},
      run_group_id: null,
      runs: [{ run_id: 'base', artifact_manifest_digest: 'sha256:base' }],
      metrics: { [key]: { unit, direction, samples: base, sample_counts: base.map(() => null) } },
    },
  };
  const repeats = cand.map((value, i): Repeat => ({
    run_id: `cand-${i}`,
    dir: `cand-${i}`,
    run_group_id: null,
    benchmark_case_id: 'case',
    artifact_manifest_digest: 'sha256:cand',
    started_at: '2026-12-06T00:00:00Z',
    metrics: new Map([[key, { key, value, unit, direction, samples: null }]]),
    context: new Map(),
    iterations: new Map(),
  }));
  const candidate: RunGroup = {
    run_group_id: null,
    config_fingerprint: 'case',
    testbed: {
      client_cpu: 'x',
      client_cores: 1,
      engine: null,
      engine_version: null,
      gpu_type: null,
      gpu_count: null,
      model: 'm',
    },
    repeats,
  };
  const [only] = regressionChecks(baseline, TOLERANCES, candidate);
  return only as RegressionCheck;
}

/** The k-th smallest pairwise difference at α = 0.01 for 7 vs 7: Moses's lower bound, by brute force. */
function lowerBoundByHand(worseCand: number[], worseBase: number[]): number {
  const d = [...pairwiseDifferences(worseCand, worseBase)].sort((a, b) => a - b);
  return d[shiftRank(7, 7, 0.01).k - 1] as number;
}

test('drift: significant, estimate past the tolerance, lower bound inside it: INCONCLUSIVE, not FAIL', () => {
  const base = SPREAD.map((v) => 40 + v);
  const cand = base.map((v) => v + 2.6);
  const c = check('D(16,6).c8.ttft_ms.mean', 'ms', 'lower', base, cand);
  assert.ok(c.test.p_holm < 0.01, `p ${c.test.p_holm}`);
  assert.ok(c.regression.estimate > c.allowed, `estimate ${c.regression.estimate} vs ${c.allowed}`);
  assert.equal(c.regression.lower_bound, lowerBoundByHand(cand, base));
  assert.ok(c.regression.lower_bound < c.allowed, `lower bound ${c.regression.lower_bound}`);
  assert.equal(c.verdict, 'INCONCLUSIVE');
  assert.match(c.reason, /exceeds the 2\.045 allowed, but its 99(\.\d)?% lower bound 1\.7 does not/);
  assert.ok((c.repeats_needed ?? 0) > 7, `repeats needed ${c.repeats_needed}`);
});

test('a clear regression: lower bound beyond the tolerance: FAIL, with the bound in the reason', () => {
  const base = SPREAD.map((v) => 40 + v);
  const cand = base.map((v) => v + 6);
  const c = check('D(16,6).c8.ttft_ms.mean', 'ms', 'lower', base, cand);
  assert.equal(c.regression.lower_bound, lowerBoundByHand(cand, base));
  assert.equal(c.verdict, 'FAIL');
  assert.match(
    c.reason,
    /regressed by 6 ms \(estimate; at least 5\.1 at 99(\.\d)?%\), more than the 2\.045 ms allowed/,
  );
});

test('higher is better: a throughput drop is oriented as a positive regression', () => {
  const base = SPREAD.map((v) => 100 + 10 * v);
  const drop = (by: number): RegressionCheck =>
    check(
      'D(16,6).c8.request_throughput_rps.value',
      'req/s',
      'higher',
      base,
      base.map((v) => v - by),
    );
  const big = drop(20);
  assert.equal(big.verdict, 'FAIL');
  assert.equal(big.regression.estimate, 20);
  // Worse-oriented samples are the negated ones: the bound comes from −candidate against −baseline.
  assert.equal(
    big.regression.lower_bound,
    lowerBoundByHand(
      base.map((v) => -(v - 20)),
      base.map((v) => -v),
    ),
  );
  const small = drop(6);
  assert.ok(small.regression.estimate > small.allowed);
  assert.equal(small.verdict, 'INCONCLUSIVE');
  const none = drop(0);
  assert.notEqual(none.verdict, 'FAIL');
});
