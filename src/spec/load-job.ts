/**
 * Load a BenchmarkJob from YAML (a file or text): YAML syntax errors with line and column,
 * then every schema and rule violation at once, thrown as one ValidationError (exit code 2).
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseAllDocuments } from 'yaml';
import { ValidationError, type ValidationIssue } from '../errors.js';
import { formatPath, valueAt } from './field-path.js';
import { toValidationIssues } from './job-issues.js';
import type { BenchmarkJob } from './job-schema.js';
import { validateJob } from './job-validate.js';

export { jobFromCli, type CliJobOptions } from './cli-job.js';
export { resolveEndpoint, type ResolvedEndpoint } from './endpoint.js';

/**
 * Read and validate a job file.
 * @throws ValidationError listing every problem (unreadable file, YAML syntax, schema, rules).
 */
export async function loadJobFile(path: string): Promise<BenchmarkJob> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error);
    throw new ValidationError([{ file: path, path: '', message: `cannot read the job file: ${reason}` }]);
  }
  return parseJobText(text, path);
}

/**
 * Parse and validate job YAML (JSON is YAML too); `file` names the source in messages.
 * @throws ValidationError listing every problem.
 */
export function parseJobText(text: string, file: string): BenchmarkJob {
  const raw = parseYaml(text, file);
  const result = validateJob(raw);
  if (result.ok) return result.job;
  throw new ValidationError(toValidationIssues(result.issues, raw, file, formatPath));
}

function parseYaml(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: ValidationIssue[] = [];
  // An empty stream comes back as a non-array EmptyStream.
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    for (const error of doc.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      issues.push({
        file,
        path: `line ${line}, column ${col}`,
        message: `YAML syntax error: ${firstLine(error.message)}`,
      });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  if (list.length === 0 || (list.length === 1 && list[0]?.contents === null)) {
    throw new ValidationError([{ file, path: '', message: 'the file is empty: expected a BenchmarkJob' }]);
  }
  if (list.length > 1) {
    const second = list[1]?.range[0] ?? 0;
    const { line } = lineCounter.linePos(second);
    throw new ValidationError([
      {
        file,
        path: `line ${line}`,
        message: `expected one BenchmarkJob per file, found ${list.length} YAML documents`,
      },
    ]);
  }
  const raw: unknown = list[0]?.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ValidationError([
      {
        file,
        path: '',
        value: raw,
        message: 'expected a BenchmarkJob mapping (apiVersion, kind, metadata, spec)',
      },
    ]);
  }
  return raw;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

// Re-exported for callers that hold a raw object (e.g. a job fetched from the Kubernetes API).
export { validateJob, valueAt };
