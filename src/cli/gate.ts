/**
 * `infermark gate`: budget and regression verdicts over a run group (the repeats
 * of one job), and `infermark gate baseline --from GROUP` to write the baseline.
 * Writes the verdict as JSON (`--out`), Markdown (`--markdown`, for a pull-request
 * comment) and JUnit XML (`--junit`); prints the Markdown. Exit codes: 0 pass,
 * 1 regression or budget failure, 3 inconclusive, 2 bad input. With `--warehouse`,
 * the groups are ids read from the warehouse, so no run folder is needed.
 */
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ExitCode, InfermarkError, ValidationError, type ValidationIssue } from '../base/errors.js';
import type { RunGroup, SampleSource } from '../gate/run-group.js';

interface GateFlags {
  mode?: string;
  baseline?: string;
  tolerances?: string;
  budgets?: string;
  group?: string[];
  warehouse?: string;
  job?: string;
  profile?: string;
  repeats?: string;
  url?: string;
  runsOut: string;
  out?: string;
  markdown?: string;
  junit?: string;
  quiet?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerGateCommands(program: Command): void {
  const gate = program
    .command('gate')
    .description(
      'budget and regression verdicts over repeats (exit 0 pass, 1 fail, 3 inconclusive, 2 bad input)',
    )
    .option('--mode <mode>', 'regression or budget')
    .option('--baseline <file>', 'baseline.json (regression mode)')
    .option('--tolerances <file>', 'tolerances.json (regression mode)')
    .option('--budgets <file>', 'budgets.json (budget mode)')
    .option(
      '--group <dir|id>',
      'a run group folder or a run folder (repeatable); with --warehouse, a run_group_id or run_id',
      collect,
    )
    .option('--warehouse <path>', 'read --group from this warehouse file instead of run folders')
    .option('--job <file>', 'run this BenchmarkJob now (its repeats) and gate the fresh run group')
    .option(
      '--profile <name|file>',
      'with --job: pr, nightly or a profile file (scenarios, repeats, durations, mode)',
    )
    .option('--repeats <k>', 'with --job: repeats (overrides the profile and the job)')
    .option('--url <url>', "with --job: the endpoint URL (overrides the job's)")
    .option('--runs-out <dir>', 'with --job: where the fresh runs go', '.infermark/gate-runs')
    .option('--out <file>', 'write the verdict as JSON')
    .option('--markdown <file>', 'write the verdict as Markdown (a pull-request comment)')
    .option('--junit <file>', 'write the verdict as JUnit XML')
    .option('--quiet', 'do not print the verdict')
    .action(async (flags: GateFlags) => {
      process.exitCode = await gateCommand(flags);
    });

  gate
    .command('baseline')
    .description('write baseline.json from a run group (or from a fresh run of --job)')
    .option(
      '--from <dir|id>',
      'a run group folder or a run folder (repeatable); with --warehouse, a run_group_id or run_id',
      collect,
    )
    .option('--warehouse <path>', 'read --from from this warehouse file instead of run folders')
    .option('--job <file>', 'run this BenchmarkJob now and take the baseline from it')
    .option('--profile <name|file>', 'with --job: pr, nightly or a profile file')
    .option('--repeats <k>', 'with --job: repeats')
    .option('--url <url>', "with --job: the endpoint URL (overrides the job's)")
    .option('--runs-out <dir>', 'with --job: where the fresh runs go', '.infermark/gate-runs')
    .requiredOption('-o, --output <file>', 'where to write baseline.json')
    .action(async (_own: BaselineFlags, command: Command) => {
      // `gate` has options of the same names (--job, --profile, ...); commander gives them to it.
      const flags = command.optsWithGlobals<BaselineFlags>();
      const { baselineFrom } = await import('../gate/baseline.js');
      if (!flags.from === !flags.job) {
        throw new ValidationError([
          { path: '--from', message: 'give a run group (--from) or a job to run (--job): one of them' },
        ]);
      }
      if (flags.warehouse !== undefined && flags.job) {
        throw new ValidationError([{ path: '--warehouse', message: 'applies only with --from' }]);
      }
      const from = flags.from ?? [(await freshRunGroup(flags)).dir];
      const baseline = await withRunGroup(from, '--from', flags.warehouse, async (group) =>
        baselineFrom(group),
      );
      await writeText(flags.output, `${JSON.stringify(baseline, null, 2)}\n`);
      process.stdout.write(
        `wrote ${flags.output}: ${Object.keys(baseline.metrics).length} keys, ${baseline.runs.length} repeats, config ${baseline.config_fingerprint}\n`,
      );
    });
}

interface BaselineFlags {
  from?: string[];
  warehouse?: string;
  job?: string;
  profile?: string;
  repeats?: string;
  url?: string;
  runsOut: string;
  output: string;
}

/**
 * Runs `--job` (under `--profile`, with `--repeats`) as `infermark run` would, into
 * `--runs-out`, and returns the run group's folder and the profile's mode.
 */
async function freshRunGroup(
  flags: Pick<GateFlags, 'job' | 'profile' | 'repeats' | 'url' | 'runsOut'>,
): Promise<{ dir: string; profile: string | null; mode: 'regression' | 'budget' | null }> {
  const { loadJobFile } = await import('../spec/load-job.js');
  const { applyProfile, loadProfile } = await import('../gate/profiles.js');
  const { runJob } = await import('./run.js');
  const jobFile = flags.job as string;
  let job = await loadJobFile(jobFile);
  const profile = flags.profile ? await loadProfile(flags.profile) : null;
  if (profile) job = applyProfile(job, profile, jobFile);
  if (flags.repeats !== undefined) {
    const k = Number(flags.repeats);
    if (!Number.isSafeInteger(k) || k < 1) {
      throw new ValidationError([
        { path: '--repeats', value: flags.repeats, message: 'expected a whole number ≥ 1' },
      ]);
    }
    job = { ...job, spec: { ...job.spec, repeats: k } };
  }
  const group = await runJob(job, jobFile, {
    out: flags.runsOut,
    quiet: true,
    warehouse: false,
    ...(flags.url ? { url: flags.url } : {}),
  });
  if (group.interrupted) {
    throw new InfermarkError(
      'E_INTERRUPTED',
      'the run was interrupted: nothing to gate',
      ExitCode.interrupted,
    );
  }
  const dir = group.dir ?? (group.runs[0]?.dir as string);
  process.stderr.write(`infermark: gating ${group.runs.length} repeat(s) in ${dir}\n`);
  return { dir, profile: profile?.name ?? null, mode: profile?.mode ?? null };
}

async function gateCommand(flags: GateFlags): Promise<number> {
  const issues: ValidationIssue[] = [];
  if (flags.job && flags.group) {
    issues.push({ path: '--group', message: 'give a run group (--group) or a job to run (--job), not both' });
  }
  if (flags.job && flags.warehouse !== undefined) {
    issues.push({
      path: '--warehouse',
      message: 'applies only with --group (a fresh run is gated on its folders)',
    });
  }
  if (!flags.job && (flags.profile || flags.repeats)) {
    issues.push({ path: flags.profile ? '--profile' : '--repeats', message: 'applies only with --job' });
  }
  // Checked before a fresh run is started: a typo must not cost a benchmark.
  if (flags.mode !== undefined && flags.mode !== 'regression' && flags.mode !== 'budget') {
    issues.push({ path: '--mode', value: flags.mode, message: 'expected regression or budget' });
  }
  if (flags.mode === undefined && !flags.profile)
    issues.push({ path: '--mode', message: 'expected regression or budget' });
  if (flags.mode === 'regression' && (!flags.baseline || !flags.tolerances)) {
    issues.push({
      path: flags.baseline ? '--tolerances' : '--baseline',
      message: 'required in regression mode',
    });
  }
  if (flags.mode === 'budget' && !flags.budgets)
    issues.push({ path: '--budgets', message: 'required in budget mode' });
  if (issues.length > 0) throw new ValidationError(issues);
  const fresh = flags.job ? await freshRunGroup(flags) : null;
  const mode = flags.mode ?? fresh?.mode ?? undefined;
  if (mode !== 'regression' && mode !== 'budget') {
    issues.push({
      path: '--mode',
      ...(mode !== undefined ? { value: mode } : {}),
      message: 'expected regression or budget',
    });
  }
  if (mode === 'regression' && !flags.baseline)
    issues.push({ path: '--baseline', message: 'required in regression mode' });
  if (mode === 'regression' && !flags.tolerances)
    issues.push({ path: '--tolerances', message: 'required in regression mode' });
  if (mode === 'budget' && !flags.budgets)
    issues.push({ path: '--budgets', message: 'required in budget mode' });
  const groups = fresh ? [fresh.dir] : (flags.group ?? []);
  if (groups.length === 0) {
    issues.push({ path: '--group', message: 'required: the candidate run group (or --job to run one)' });
  }
  if (issues.length > 0) throw new ValidationError(issues);

  const { readAsset, baselineSchema, tolerancesSchema, budgetsSchema } = await import('../gate/assets.js');
  const { regressionChecks, budgetChecks } = await import('../gate/checks.js');
  const { buildVerdict, exitCodeOf } = await import('../gate/verdict.js');
  const { renderMarkdown, renderJUnit } = await import('../gate/report.js');

  const verdict = await withRunGroup(groups, '--group', flags.warehouse, async (candidate, samples) => {
    const assets: Record<string, Awaited<ReturnType<typeof readAsset>>> = {};
    let regression: Awaited<ReturnType<typeof regressionChecks>> = [];
    let budget: Awaited<ReturnType<typeof budgetChecks>> = [];
    if (mode === 'regression') {
      const baseline = await readAsset(flags.baseline as string, baselineSchema);
      const tolerances = await readAsset(flags.tolerances as string, tolerancesSchema);
      assets.baseline = baseline;
      assets.tolerances = tolerances;
      regression = regressionChecks(baseline, tolerances, candidate);
    }
    if (flags.budgets) {
      const budgets = await readAsset(flags.budgets, budgetsSchema);
      assets.budgets = budgets;
      budget = budgetChecks(budgets, candidate);
    }
    return buildVerdict({
      mode: mode as 'regression' | 'budget',
      profile: fresh?.profile ?? null,
      assets,
      candidate,
      regression,
      budget,
      ...(samples ? { samples } : {}),
    });
  });
  const markdown = renderMarkdown(verdict);
  if (flags.out) await writeText(flags.out, `${JSON.stringify(verdict, null, 2)}\n`);
  if (flags.markdown) await writeText(flags.markdown, markdown);
  if (flags.junit) await writeText(flags.junit, renderJUnit(verdict));
  if (!flags.quiet) process.stdout.write(markdown);
  return exitCodeOf(verdict.verdict);
}

/**
 * Runs `work` on the run group `groups` names: run folders, or with `warehouse`, the
 * runs of run group or run ids (or of the folders' ids) read from that file, kept open
 * for the per-request samples.
 */
async function withRunGroup<T>(
  groups: string[],
  flag: '--group' | '--from',
  warehouse: string | undefined,
  work: (group: RunGroup, samples?: SampleSource) => Promise<T>,
): Promise<T> {
  if (warehouse === undefined) {
    const { loadRunGroup } = await import('../gate/run-group.js');
    return work(await loadRunGroup(groups));
  }
  const { loadRunGroupFromWarehouse, runIdsOf, warehouseSamples } =
    await import('../gate/warehouse-group.js');
  const { withWarehouse } = await import('./warehouse-common.js');
  const { reportSubject } = await import('./report-subject.js');
  let result: { value: T } | undefined;
  await withWarehouse({ warehouse }, true, async (w) => {
    const runIds: string[] = [];
    for (const group of groups) {
      // As `report` takes them: an id, or a run or run group folder read for its id only.
      const { id } = await reportSubject(group, flag);
      runIds.push(...(await runIdsOf(w, id)));
    }
    result = { value: await work(await loadRunGroupFromWarehouse(w, runIds), warehouseSamples(w)) };
  });
  return (result as { value: T }).value;
}

async function writeText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}
