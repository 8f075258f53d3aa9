/**
 * `infermark diagnose RUN [--vs BASELINE]`: why a run got slower, from the warehouse —
 * the points that changed, how, what moved with them (telemetry by node, GPU and pod),
 * the outlier requests, and the playbooks that fired, each with its evidence pointers.
 * RUN and BASELINE are ids (a prefix, a run group) or the folders `run` printed.
 * Output: text (default), json (the Diagnosis itself) or md. Always exits 0 once it has
 * judged: a diagnosis explains, the gate decides.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { ValidationError } from '../base/errors.js';
import { withWarehouse } from './warehouse-common.js';

export const DIAGNOSE_FORMATS = ['text', 'json', 'md'] as const;

interface DiagnoseFlags {
  vs?: string;
  warehouse?: string;
  format: string;
  output?: string;
}

export function registerDiagnoseCommand(program: Command): void {
  program
    .command('diagnose')
    .description(
      'why a run got slower: changed points, telemetry, outliers and playbook findings with evidence',
    )
    .argument('<run>', 'run_id (or a unique prefix), run_group_id, or the run folder')
    .option('--vs <baseline>', 'the baseline run or run group, by id or folder')
    .option('--warehouse <path>', 'warehouse file (default: $INFERMARK_WAREHOUSE or the user data dir)')
    .option('--format <format>', 'text, json or md', 'text')
    .option('-o, --output <file>', 'write here instead of stdout')
    .action(async (run: string, flags: DiagnoseFlags) => {
      process.exitCode = await diagnoseCommand(run, flags);
    });
}

export async function diagnoseCommand(run: string, flags: DiagnoseFlags): Promise<number> {
  if (!(DIAGNOSE_FORMATS as readonly string[]).includes(flags.format)) {
    throw new ValidationError([
      { path: '--format', value: flags.format, message: `expected one of ${DIAGNOSE_FORMATS.join(', ')}` },
    ]);
  }
  const { reportSubject } = await import('./report-subject.js');
  const subject = await reportSubject(run, '<run>');
  const baseline = flags.vs === undefined ? undefined : await reportSubject(flags.vs, '--vs');
  let body = '';
  await withWarehouse({ warehouse: flags.warehouse }, true, async (w) => {
    const { diagnose } = await import('../diagnose/diagnose.js');
    const { diagnosisMarkdown, diagnosisText } = await import('../diagnose/render.js');
    const diagnosis = await diagnose(w, {
      runId: subject.id,
      ...(baseline ? { baselineRunId: baseline.id } : {}),
    });
    body =
      flags.format === 'json'
        ? `${JSON.stringify(diagnosis, null, 2)}\n`
        : flags.format === 'md'
          ? diagnosisMarkdown(diagnosis)
          : diagnosisText(diagnosis);
  });
  if (flags.output === undefined || flags.output === '-') process.stdout.write(body);
  else await writeFile(flags.output, body);
  return 0;
}
