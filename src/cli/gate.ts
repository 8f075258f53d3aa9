/**
 * `infermark gate`: budget and regression verdicts over a run group (the repeats
 * of one job), and `infermark gate baseline --from GROUP` to write the baseline.
 * Writes the verdict as JSON (`--out`), Markdown (`--markdown`, for a pull-request
 * comment) and JUnit XML (`--junit`); prints the Markdown. Exit codes: 0 pass,
 * 1 regression or budget failure, 3 inconclusive, 2 bad input.
 */
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ValidationError, type ValidationIssue } from '../errors.js';

interface GateFlags {
  mode?: string;
  baseline?: string;
  tolerances?: string;
  budgets?: string;
  group?: string[];
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
    .option('--group <dir>', 'a run group folder or a run folder (repeatable)', collect)
    .option('--out <file>', 'write the verdict as JSON')
    .option('--markdown <file>', 'write the verdict as Markdown (a pull-request comment)')
    .option('--junit <file>', 'write the verdict as JUnit XML')
    .option('--quiet', 'do not print the verdict')
    .action(async (flags: GateFlags) => {
      process.exitCode = await gateCommand(flags);
    });

  gate
    .command('baseline')
    .description('write baseline.json from a run group')
    .requiredOption('--from <dir>', 'a run group folder or a run folder (repeatable)', collect)
    .requiredOption('-o, --output <file>', 'where to write baseline.json')
    .action(async (flags: { from: string[]; output: string }) => {
      const { loadRunGroup } = await import('../gate/run-group.js');
      const { baselineFrom } = await import('../gate/baseline.js');
      const baseline = baselineFrom(await loadRunGroup(flags.from));
      await writeText(flags.output, `${JSON.stringify(baseline, null, 2)}\n`);
      process.stdout.write(
        `wrote ${flags.output}: ${Object.keys(baseline.metrics).length} keys, ${baseline.runs.length} repeats, config ${baseline.config_fingerprint}\n`,
      );
    });
}

async function gateCommand(flags: GateFlags): Promise<number> {
  const issues: ValidationIssue[] = [];
  const mode = flags.mode;
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
  if (!flags.group || flags.group.length === 0)
    issues.push({ path: '--group', message: 'required: the candidate run group' });
  if (issues.length > 0) throw new ValidationError(issues);

  const { readAsset, baselineSchema, tolerancesSchema, budgetsSchema } = await import('../gate/assets.js');
  const { loadRunGroup } = await import('../gate/run-group.js');
  const { regressionChecks, budgetChecks } = await import('../gate/checks.js');
  const { buildVerdict, exitCodeOf } = await import('../gate/verdict.js');
  const { renderMarkdown, renderJUnit } = await import('../gate/report.js');

  const candidate = await loadRunGroup(flags.group as string[]);
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
  const verdict = await buildVerdict({
    mode: mode as 'regression' | 'budget',
    profile: null,
    assets,
    candidate,
    regression,
    budget,
  });
  const markdown = renderMarkdown(verdict);
  if (flags.out) await writeText(flags.out, `${JSON.stringify(verdict, null, 2)}\n`);
  if (flags.markdown) await writeText(flags.markdown, markdown);
  if (flags.junit) await writeText(flags.junit, renderJUnit(verdict));
  if (!flags.quiet) process.stdout.write(markdown);
  return exitCodeOf(verdict.verdict);
}

async function writeText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}
