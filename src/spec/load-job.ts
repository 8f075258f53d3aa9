/**
 * Load a BenchmarkJob from YAML (a file or text): YAML syntax errors with line and column,
 * then every schema and rule violation at once, thrown as one ValidationError (exit code 2).
 */
import { open } from 'node:fs/promises';
import { ValidationError } from '../base/errors.js';
import { formatPath, valueAt } from './field-path.js';
import { toValidationIssues } from './job-issues.js';
import { clip, MAX_JOB_FILE_BYTES } from './job-limits.js';
import { validateJob } from './job-validate.js';
import { parseJobYaml } from './job-yaml.js';
import type { ValidatedJob } from './validated-job.js';

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

/** The file's text, refused unread past MAX_JOB_FILE_BYTES (a named pipe or /dev/zero never ends). */
async function readJobFile(path: string): Promise<string> {
  const refuse = (message: string): never => {
    throw new ValidationError([{ file: path, path: '', message }]);
  };
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return refuse(
      `cannot read the job file: ${code === 'ENOENT' ? 'no such file' : (code ?? String(error))}`,
    );
  }
  try {
    const chunks: Buffer[] = [];
    let length_bytes = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length_bytes += bytesRead;
      if (length_bytes > MAX_JOB_FILE_BYTES) {
        refuse(`the file is larger than ${MAX_JOB_FILE_BYTES} bytes, the most a job file holds`);
      }
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    return refuse(
      `cannot read the job file: ${code === 'EISDIR' ? 'it is a folder' : (code ?? String(error))}`,
    );
  } finally {
    await handle.close();
  }
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
