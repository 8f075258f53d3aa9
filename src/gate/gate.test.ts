/**
 * The gate's verdicts hold up (acceptance of the gates issue): real runs of one
 * job against simulators in their own processes, with natural noise (TTFT and ITL
 * jitter), are pooled; each seeded trial draws two groups of 7 repeats from the
 * pools and gates one against the other.
 *   A/A (same simulator):         PASS or INCONCLUSIVE, never FAIL, in 20 trials;
 *   A/B with TTFT raised by 15%:  FAIL naming TTFT, in every one of 20 trials;
 *   A/B with TTFT raised by 1%:   never FAIL.
 * Drawing trials from pools of real repeats (rather than running 280 fresh
 * repeats) keeps the test to seconds; every trial is still a comparison of
 * whole, sealed runs. Also: budget mode, missing and unknown keys, a changed
 * config fingerprint, and the reports.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../cli/testing/harness.js';
import { executeRun } from '../engine/run.js';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { Prng, keyFromString } from '../base/prng.js';
import type { Asset, Baseline, Tolerances } from './assets.js';
import { baselineFrom } from './baseline.js';
import { regressionChecks } from './checks.js';
import { loadRunGroup } from './run-group.js';
import { overall } from './verdict.js';

const POOL_A = 28;
const POOL_B = 7;
const GROUP = 7;
const TRIALS = 20;
const TTFT_MS = 40;

let tmp: string;
const sims: SpawnedSimulator[] = [];
const pools: Record<'a' | 'b15' | 'b1', string[]> = { a: [], b15: [], b1: [] };

const TOLERANCES: Asset<Tolerances> = {
  path: 'tolerances.json',
  sha256: 'sha256:test',
  value: {
    format: 'infermark-tolerances/v1',
    defaults: { relative: 0.05, alpha: 0.01, min_repeats: 5, test: 'mann-whitney' },
    rules: [{ match: '*.error_rate.value', absolute: 0.01 }],
  },
};

/** One whole run of the gate's job against `url`; returns its folder. */
async function oneRun(url: string, out: string): Promise<string> {
  const job = jobFromCli({
    url,
    model: 'm',
    name: 'gate-test',
    scenarios: ['D(16,6)'],
    concurrency: [8],
    maxRequests: 40,
    seed: 7,
  });
  const result = await executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job), outRoot: out });
  return result.dir;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-gate-'));
  // Natural noise: TTFT ± 4 ms and ITL ± 1 ms of jitter; the B simulators differ only in TTFT.
  const common = {
    // The model the jobs name: `run` checks it at /v1/models first.
    model: 'm',
    ttftPerInputTokenMs: 0,
    ttftJitterMs: 4,
    itlMs: 5,
    itlJitterMs: 1,
    batchSlowdown: 0,
    seed: 3,
  };
  const [a, b15, b1] = await Promise.all([
    spawnSimulator({ ...common, ttftMs: TTFT_MS }),
    spawnSimulator({ ...common, ttftMs: TTFT_MS * 1.15 }),
    spawnSimulator({ ...common, ttftMs: TTFT_MS * 1.01 }),
  ]);
  sims.push(a, b15, b1);
  // The pools are filled interleaved, so slow drift of this machine affects them alike.
  for (let i = 0; i < POOL_A; i++) {
    pools.a.push(await oneRun(a.url, join(tmp, 'a')));
    if (i < POOL_B) {
      pools.b15.push(await oneRun(b15.url, join(tmp, 'b15')));
      pools.b1.push(await oneRun(b1.url, join(tmp, 'b1')));
    }
  }
});

after(async () => {
  await Promise.all(sims.map((s) => s.close()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A seeded shuffle of a pool. */
function shuffled(items: string[], seed: string): string[] {
  const [k1, k2] = keyFromString(seed);
  const prng = new Prng(k1, k2);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(prng.nextFloat() * (i + 1));
    [out[i], out[j]] = [out[j] as string, out[i] as string];
  }
  return out;
}

async function gate(baselineDirs: string[], candidateDirs: string[]) {
  const baseline: Asset<Baseline> = {
    path: 'baseline.json',
    sha256: 'sha256:test',
    value: baselineFrom(await loadRunGroup(baselineDirs)),
  };
  const checks = regressionChecks(baseline, TOLERANCES, await loadRunGroup(candidateDirs));
  return { verdict: overall(checks.map((c) => c.verdict)), checks };
}

test('A/A: 20 seeded trials of 7 vs 7 repeats of the same job never FAIL', async () => {
  const verdicts: string[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const drawn = shuffled(pools.a, `aa:${trial}`);
    const { verdict, checks } = await gate(drawn.slice(0, GROUP), drawn.slice(GROUP, 2 * GROUP));
    assert.notEqual(
      verdict,
      'FAIL',
      `trial ${trial}: ${checks
        .filter((c) => c.verdict === 'FAIL')
        .map((c) => `${c.key}: ${c.reason}`)
        .join('; ')}`,
    );
    verdicts.push(verdict);
  }
  assert.equal(verdicts.length, TRIALS);
});

test('A/B: TTFT raised by 15% FAILs on TTFT in all 20 trials; raised by 1% never FAILs', async () => {
  for (let trial = 0; trial < TRIALS; trial++) {
    const base = shuffled(pools.a, `ab:${trial}`).slice(0, GROUP);
    const raised = await gate(base, shuffled(pools.b15, `b15:${trial}`).slice(0, GROUP));
    assert.equal(raised.verdict, 'FAIL', `trial ${trial}: 15% TTFT not caught`);
    const failed = raised.checks.filter((c) => c.verdict === 'FAIL').map((c) => c.key);
    assert.ok(failed.includes('D(16,6).c8.ttft_ms.p50'), `trial ${trial}: failing keys ${failed.join(', ')}`);
    // Only what TTFT moves may fail: TTFT, E2E latency (which contains it) and, at a fixed
    // concurrency, the throughputs (each request takes longer); never TPOT or ITL.
    const moved = /\.(ttft_ms|e2e_latency_ms|output_throughput_tokens_per_s|request_throughput_rps)\./;
    for (const key of failed) assert.match(key, moved, `trial ${trial}: ${key} failed`);

    const slight = await gate(base, shuffled(pools.b1, `b1:${trial}`).slice(0, GROUP));
    assert.notEqual(slight.verdict, 'FAIL', `trial ${trial}: a 1% TTFT change failed the gate`);
  }
});

test('a changed config fingerprint, a missing key and an unknown key are hard errors naming what differs', async () => {
  const group = await loadRunGroup(pools.a.slice(0, GROUP));
  const value = baselineFrom(group);
  const asset = (v: Baseline): Asset<Baseline> => ({
    path: 'baseline.json',
    sha256: 'sha256:test',
    value: v,
  });
  assert.throws(
    () => regressionChecks(asset({ ...value, config_fingerprint: 'sha256:other' }), TOLERANCES, group),
    (error: Error & { exitCode?: number }) =>
      error.exitCode === 2 &&
      /config fingerprint: the candidate is sha256:[0-9a-f]{64}, the baseline \(baseline\.json\) was measured on sha256:other/.test(
        error.message,
      ),
  );
  const extra = {
    ...value.metrics,
    'D(16,6).c8.ttft_ms.p999': value.metrics['D(16,6).c8.ttft_ms.p99'] as Baseline['metrics'][string],
  };
  assert.throws(
    () => regressionChecks(asset({ ...value, metrics: extra }), TOLERANCES, group),
    /missing key D\(16,6\)\.c8\.ttft_ms\.p999: in the baseline, not in candidate run/,
  );
  const fewer = { ...value.metrics };
  delete fewer['D(16,6).c8.tpot_ms.p90'];
  assert.throws(
    () => regressionChecks(asset({ ...value, metrics: fewer }), TOLERANCES, group),
    /unknown key D\(16,6\)\.c8\.tpot_ms\.p90: in the candidate, not in the baseline/,
  );
  // An ignore rule takes the key out on both sides.
  const ignoring: Asset<Tolerances> = {
    ...TOLERANCES,
    value: {
      ...TOLERANCES.value,
      rules: [...TOLERANCES.value.rules, { match: '*.tpot_ms.p90', ignore: true }],
    },
  };
  assert.doesNotThrow(() => regressionChecks(asset({ ...value, metrics: fewer }), ignoring, group));
  const stray: Asset<Tolerances> = {
    ...TOLERANCES,
    value: { ...TOLERANCES.value, rules: [{ match: '*.no_such_metric.p99', relative: 0.1 }] },
  };
  assert.throws(
    () => regressionChecks(asset(value), stray, group),
    /tolerance rule "\*\.no_such_metric\.p99" \(tolerances\.json\) matches no key/,
  );
});

test('the CLI: baseline, regression with JSON/Markdown/JUnit, budget mode and bad assets, with documented exit codes', async () => {
  const dir = join(tmp, 'cli');
  const baselineGroup = join(dir, 'baseline-group');
  const candidateGroup = join(dir, 'candidate-group');
  // 7 per group: with 19 keys under Holm at α = 0.01, 6 repeats could never be significant (19/924 > 0.01).
  for (const [i, run] of pools.a.slice(0, GROUP).entries())
    await cp(run, join(baselineGroup, `r${i}`), { recursive: true });
  for (const [i, run] of pools.b15.slice(0, GROUP).entries())
    await cp(run, join(candidateGroup, `r${i}`), { recursive: true });
  const baselinePath = join(dir, 'baseline.json');
  const made = await cli(['gate', 'baseline', '--from', baselineGroup, '-o', baselinePath]);
  assert.equal(made.code, 0, made.stderr);
  const tolerancesPath = join(dir, 'tolerances.json');
  await writeFile(tolerancesPath, JSON.stringify(TOLERANCES.value));

  const regress = await cli([
    'gate',
    '--mode',
    'regression',
    '--baseline',
    baselinePath,
    '--tolerances',
    tolerancesPath,
    '--group',
    candidateGroup,
    '--out',
    join(dir, 'verdict.json'),
    '--markdown',
    join(dir, 'verdict.md'),
    '--junit',
    join(dir, 'junit.xml'),
  ]);
  assert.equal(regress.code, 1, regress.stdout + regress.stderr);
  assert.match(regress.stdout, /^## infermark gate \(regression\): ❌ FAIL/);
  assert.match(
    regress.stdout,
    /### ❌ FAIL: `D\(16,6\)\.c8\.ttft_ms\.p50`\n- value [\d.]+ ms vs baseline [\d.]+ ms: Δ \+[\d.]+ ms \(\+[\d.]+%\), allowed [\d.]+ ms/,
  );
  assert.match(
    regress.stdout,
    /Mann-Whitney U = \d+, p = [\d.e-]+, Holm [\d.e-]+, α = 0\.01; Hodges-Lehmann regression/,
  );
  assert.match(regress.stdout, /context per repeat: error rate 0\.0%/);
  const verdict = JSON.parse(await readFile(join(dir, 'verdict.json'), 'utf8')) as {
    verdict: string;
    assets: Record<string, { sha256: string }>;
    regression_checks: {
      key: string;
      baseline: { samples: number[] };
      candidate: { samples: number[] };
      bootstrap: unknown[] | null;
    }[];
  };
  assert.equal(verdict.verdict, 'FAIL');
  assert.match(verdict.assets.baseline?.sha256 ?? '', /^sha256:[0-9a-f]{64}$/);
  const p99 = verdict.regression_checks.find((c) => c.key === 'D(16,6).c8.ttft_ms.p99');
  assert.equal(p99?.baseline.samples.length, GROUP);
  assert.equal(p99?.candidate.samples.length, GROUP);
  assert.equal(p99?.bootstrap?.length, GROUP, 'a bootstrap interval per repeat');
  const junit = await readFile(join(dir, 'junit.xml'), 'utf8');
  assert.match(
    junit,
    /<testcase classname="infermark\.gate" name="regression\.D\(16,6\)\.c8\.ttft_ms\.p50"><failure message="regressed by/,
  );

  const budgetsPath = join(dir, 'budgets.json');
  await writeFile(
    budgetsPath,
    JSON.stringify({
      format: 'infermark-budgets/v1',
      budgets: { '*.ttft_ms.p50': { max: 1000 }, '*.error_rate.value': { max: 0.01 } },
    }),
  );
  const withinBudget = await cli([
    'gate',
    '--mode',
    'budget',
    '--budgets',
    budgetsPath,
    '--group',
    candidateGroup,
  ]);
  assert.equal(withinBudget.code, 0, withinBudget.stdout + withinBudget.stderr);
  await writeFile(
    budgetsPath,
    JSON.stringify({ format: 'infermark-budgets/v1', budgets: { '*.ttft_ms.p50': { max: TTFT_MS } } }),
  );
  const overBudget = await cli([
    'gate',
    '--mode',
    'budget',
    '--budgets',
    budgetsPath,
    '--group',
    candidateGroup,
  ]);
  assert.equal(overBudget.code, 1);
  assert.match(
    overBudget.stdout,
    /### ❌ FAIL: `D\(16,6\)\.c8\.ttft_ms\.p50`\n- value [\d.]+ ms \(median of 7 repeat\(s\)/,
  );
  await writeFile(
    budgetsPath,
    JSON.stringify({ format: 'infermark-budgets/v1', budgets: { '*.ttfb_ms.p50': { max: 5 } } }),
  );
  const unknown = await cli([
    'gate',
    '--mode',
    'budget',
    '--budgets',
    budgetsPath,
    '--group',
    candidateGroup,
  ]);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /unknown key \*\.ttfb_ms\.p50: the budget .* matches no metric of the candidate/,
  );
  await writeFile(
    budgetsPath,
    JSON.stringify({ format: 'infermark-budgets/v1', budgets: { x: {} }, extra: 1 }),
  );
  const bad = await cli(['gate', '--mode', 'budget', '--budgets', budgetsPath, '--group', candidateGroup]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /budgets\.json: budgets\.x: expected max, min or both/);
  assert.match(bad.stderr, /budgets\.json: extra: unknown field "extra"/);
  const noMode = await cli(['gate', '--group', candidateGroup]);
  assert.equal(noMode.code, 2);
  assert.match(noMode.stderr, /--mode: expected regression or budget/);
});

test('a fresh run under a profile: baseline from --job, then gate --job against another server', async () => {
  const dir = join(tmp, 'fresh');
  await mkdir(dir, { recursive: true });
  const job = join(dir, 'job.yaml');
  await writeFile(
    job,
    `apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata: { name: gate-fresh }
spec:
  endpoint: { endpoint: { url: '${sims[0]?.url}/v1/chat/completions', apiFormat: openai, modelName: m } }
  task: text-to-text
  trafficScenarios: ['D(16,6)', 'D(64,6)']
  numConcurrency: [8, 16]
  maxTimePerIteration: 5
  maxRequestsPerIteration: 100
  seed: 7
`,
  );
  const profile = join(dir, 'ci-profile.yaml');
  await writeFile(
    profile,
    'name: ci\nrepeats: 7\nmode: regression\nscenarios: ["D(16,6)"]\nnumConcurrency: [8]\nmaxRequestsPerIteration: 40\n',
  );
  const tolerances = join(dir, 'tolerances.json');
  await writeFile(tolerances, JSON.stringify(TOLERANCES.value));
  const baseline = join(dir, 'baseline.json');
  const runsOut = join(dir, 'runs');
  const made = await cli(
    ['gate', 'baseline', '--job', job, '--profile', profile, '--runs-out', runsOut, '-o', baseline],
    {
      timeoutMs: 120_000,
    },
  );
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /wrote .*baseline\.json: 19 keys, 7 repeats/);
  const gated = await cli(
    [
      'gate',
      '--job',
      job,
      '--profile',
      profile,
      '--url',
      sims[1]?.url ?? '',
      '--runs-out',
      runsOut,
      '--baseline',
      baseline,
      '--tolerances',
      tolerances,
    ],
    { timeoutMs: 120_000 },
  );
  assert.equal(gated.code, 1, gated.stdout + gated.stderr);
  assert.match(gated.stdout, /FAIL: `D\(16,6\)\.c8\.ttft_ms\.p50`/);
  assert.match(gated.stdout, /· profile ci/);

  await writeFile(profile, 'name: ci\nrepeats: 0\nmode: sometimes\nscenarios: ["D(1,1)"]\n');
  const bad = await cli([
    'gate',
    '--job',
    job,
    '--profile',
    profile,
    '--baseline',
    baseline,
    '--tolerances',
    tolerances,
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /ci-profile\.yaml: repeats: /);
  assert.match(bad.stderr, /ci-profile\.yaml: mode: /);
  const typo = await cli(['gate', '--job', job, '--mode', 'regresion']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /--mode: "regresion": expected regression or budget/);
});
