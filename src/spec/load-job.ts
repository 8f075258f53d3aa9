/**
 * Load a BenchmarkJob from YAML (a file or text): YAML syntax errors with line and column,
 * then every schema and rule violation at once, thrown as one ValidationError (exit code 2).
 */
import { ValidationError } from '../base/errors.js';
import { formatPath, valueAt } from './field-path.js';
import { toValidationIssues } from './job-issues.js';
import { clip, MAX_JOB_FILE_BYTES } from './job-limits.js';
import { validateJob } from './job-validate.js';
import { parseJobYaml } from './job-yaml.js';
import type { ValidatedJob } from './validated-job.js';
import { readBoundedText } from './bounded-file.js';

export { jobFromCli, type CliJobOptions } from './cli-job.js';
export { resolveEndpoint, type ResolvedEndpoint } from './endpoint.js';
export type { ValidatedJob } from './validated-job.js';

/**
 * Read and validate a job file.
 * @throws ValidationError listing every problem (unreadable file, YAML syntax, schema, rules).
 */
export async function loadJobFile(path: string): Promise<ValidatedJob> {
  return parseJobText(await readJobFile(path), path);
}

/** The file's text, refused unread past MAX_JOB_FILE_BYTES (see bounded-file.ts). */
async function readJobFile(path: string): Promise<string> {
  return readBoundedText(path, MAX_JOB_FILE_BYTES, 'the job file');
}

/**
 * Parse and validate job YAML (JSON is YAML too); `file` names the source in messages.
 * @throws ValidationError listing every problem.
 */
export function parseJobText(text: string, file: string): ValidatedJob {
  const raw = parseJobYaml(text, file);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ValidationError([
      {
        file,
        path: '',
        value: typeof raw === 'string' ? clip(raw) : raw,
        message: 'expected a BenchmarkJob mapping (apiVersion, kind, metadata, spec)',
      },
    ]);
  }
  const result = validateJob(raw);
  if (result.ok) return result.job;
  throw new ValidationError(toValidationIssues(result.issues, raw, file, formatPath));
}

// Re-exported for callers that hold a raw object (e.g. a job fetched from the Kubernetes API).
export { validateJob, valueAt };
