/**
 * A gate's outcome as a document: the mode, the verdict, the assets it was
 * decided against (path and sha256), the candidate runs and their evidence
 * digests, and every check with its limits, samples and test outcome, so the
 * verdict can be reproduced. Exit codes: 0 pass, 1 fail, 3 inconclusive.
 */
import { ExitCode } from '../base/errors.js';
import type { Asset } from './assets.js';
import type { BudgetCheck, RegressionCheck, Verdict } from './checks.js';
import { percentileOf } from './metric-keys.js';
import { requestSamples, type RunGroup, type SampleSource } from './run-group.js';
import { bootstrapPercentileCI } from './stats/bootstrap.js';

export const INCONCLUSIVE_EXIT = 3;

export interface RepeatInterval {
  run_id: string;
  estimate: number;
  lower: number;
  upper: number;
  n: number;
  weak: boolean;
}

export interface GateVerdict {
  format: 'infermark-verdict/v1';
  mode: 'regression' | 'budget';
  verdict: Verdict;
  created_at: string;
  profile: string | null;
  assets: Record<string, { path: string; sha256: string }>;
  candidate: {
    run_group_id: string | null;
    config_fingerprint: string;
    testbed: RunGroup['testbed'];
    runs: { run_id: string; dir: string; artifact_manifest_digest: string }[];
  };
  counts: { pass: number; fail: number; inconclusive: number };
  regression_checks: (RegressionCheck & { bootstrap: RepeatInterval[] | null })[];
  budget_checks: BudgetCheck[];
}

export function exitCodeOf(verdict: Verdict): number {
  if (verdict === 'FAIL') return ExitCode.failure;
  return verdict === 'INCONCLUSIVE' ? INCONCLUSIVE_EXIT : ExitCode.ok;
}

/** The overall verdict: any FAIL fails; else any INCONCLUSIVE is inconclusive; else PASS. */
export function overall(verdicts: Verdict[]): Verdict {
  if (verdicts.includes('FAIL')) return 'FAIL';
  return verdicts.includes('INCONCLUSIVE') ? 'INCONCLUSIVE' : 'PASS';
}

export async function buildVerdict(input: {
  mode: 'regression' | 'budget';
  profile: string | null;
  assets: Record<string, Asset<unknown>>;
  candidate: RunGroup;
  regression: RegressionCheck[];
  budget: BudgetCheck[];
  /** Per-request values for the bootstrap intervals; default: the run folders' records. */
  samples?: SampleSource;
}): Promise<GateVerdict> {
  const verdicts = [...input.regression.map((c) => c.verdict), ...input.budget.map((c) => c.verdict)];
  const regression = [];
  for (const check of input.regression) {
    regression.push({
      ...check,
      bootstrap: await repeatIntervals(input.candidate, check.key, input.samples ?? requestSamples),
    });
  }
  return {
    format: 'infermark-verdict/v1',
    mode: input.mode,
    verdict: overall(verdicts),
    created_at: new Date().toISOString(),
    profile: input.profile,
    assets: Object.fromEntries(
      Object.entries(input.assets).map(([name, a]) => [name, { path: a.path, sha256: a.sha256 }]),
    ),
    candidate: {
      run_group_id: input.candidate.run_group_id,
      config_fingerprint: input.candidate.config_fingerprint,
      testbed: input.candidate.testbed,
      runs: input.candidate.repeats.map((r) => ({
        run_id: r.run_id,
        dir: r.dir,
        artifact_manifest_digest: r.artifact_manifest_digest,
      })),
    },
    counts: {
      pass: verdicts.filter((v) => v === 'PASS').length,
      fail: verdicts.filter((v) => v === 'FAIL').length,
      inconclusive: verdicts.filter((v) => v === 'INCONCLUSIVE').length,
    },
    regression_checks: regression,
    budget_checks: input.budget,
  };
}

/** Per repeat: a bootstrap interval of a percentile key from the repeat's own requests (seeded: reproducible). */
async function repeatIntervals(
  group: RunGroup,
  key: string,
  samplesOf: SampleSource,
): Promise<RepeatInterval[] | null> {
  const parts = key.split('.');
  const q = percentileOf(parts[parts.length - 1] ?? '');
  const metric = parts[parts.length - 2] ?? '';
  if (q === null || !['ttft_ms', 'tpot_ms', 'itl_ms', 'e2e_latency_ms'].includes(metric)) return null;
  const point = parts.slice(0, parts.length - 2).join('.');
  const out: RepeatInterval[] = [];
  for (const [i, repeat] of group.repeats.entries()) {
    const samples = await samplesOf(repeat, point, metric);
    if (samples.length === 0) continue;
    const ci = bootstrapPercentileCI(samples, q, { confidence: 0.95, resamples: 1000, seed: i + 1 });
    out.push({
      run_id: repeat.run_id,
      estimate: ci.estimate,
      lower: ci.lower,
      upper: ci.upper,
      n: ci.n,
      weak: ci.weak,
    });
  }
  return out;
}
