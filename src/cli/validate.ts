/**
 * `infermark validate job.yaml...`: check jobs without sending load. Every error
 * in every file is reported; exit 2 when any file is invalid.
 */
import { ExitCode, ValidationError } from '../base/errors.js';
import { buildPlan } from '../plan/build-plan.js';
import type { IterationPlan } from '../plan/plan.js';
import { loadJobFile, parseJobText, type ValidatedJob } from '../spec/load-job.js';
import { scrubText } from '../base/redact.js';

/** A job that passed every check `validate` makes, and the iterations it would run. */
export interface CheckedJob {
  job: ValidatedJob;
  plans: IterationPlan[];
}

/**
 * What `validate` checks for one file: it reads, parses, validates and plans.
 * @throws ValidationError for bad input; anything else is a bug.
 */
export async function checkJobFile(file: string): Promise<CheckedJob> {
  const job = await loadJobFile(file);
  return { job, plans: buildPlan(job) };
}

/** The same checks on text already read (`file` names it in messages). */
export function checkJobText(text: string, file: string): CheckedJob {
  const job = parseJobText(text, file);
  return { job, plans: buildPlan(job) };
}

export async function validateCommand(files: string[]): Promise<number> {
  let failed = false;
  for (const file of files) {
    try {
      const { job, plans } = await checkJobFile(file);
      process.stdout.write(
        `${file}: valid (${job.spec.trafficScenarios.length} scenarios, ${plans.length} iterations)\n`,
      );
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      failed = true;
      // The same scrub pass as every other message the CLI prints.
      process.stderr.write(`${scrubText(error.message)}\n`);
    }
  }
  return failed ? ExitCode.badInput : ExitCode.ok;
}
