/**
 * `infermark validate job.yaml...`: check jobs without sending load. Every error
 * in every file is reported; exit 2 when any file is invalid.
 */
import { ExitCode, ValidationError } from '../errors.js';
import { buildPlan } from '../engine/build-plan.js';
import { loadJobFile } from '../spec/load-job.js';
import { scrubText } from '../evidence/redact.js';

export async function validateCommand(files: string[]): Promise<number> {
  let failed = false;
  for (const file of files) {
    try {
      const job = await loadJobFile(file);
      const plans = buildPlan(job);
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
