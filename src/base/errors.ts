/**
 * Errors a user can act on. Every error carries a stable `code` and the process
 * `exitCode` it maps to; only the CLI turns them into an exit (vitest's pattern).
 */
import { isSecretField, REDACTED, redactSecrets } from './redact.js';

/** Exit codes used across the CLI (k6-style named codes). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  badInput: 2,
  /** EX_TEMPFAIL: nothing was wrong with the input, try again later (a warehouse another process holds). */
  tempFail: 75,
  interrupted: 130,
} as const;

export class InfermarkError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(
    code: string,
    message: string,
    exitCode: number = ExitCode.failure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InfermarkError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** One problem found while validating user input; all of them are reported at once. */
export interface ValidationIssue {
  /** The file the value came from (`job.yaml`), or a pseudo-source such as `--scenario`. */
  file?: string;
  /** Field path in dotted/bracket form: `spec.trafficScenarios[2]`. */
  path: string;
  /** The offending value as the user wrote it (omitted when the field is missing). */
  value?: unknown;
  /** What was expected, in words. */
  message: string;
}

/** Render one issue the way ARCHITECTURE.md shows: `job.yaml: spec.x[2]: "bad": what was expected`. */
export function formatIssue(issue: ValidationIssue): string {
  const parts: string[] = [];
  if (issue.file) parts.push(issue.file);
  if (issue.path) parts.push(issue.path);
  if (issue.value !== undefined) parts.push(formatValue(issue.value, issue.path));
  parts.push(issue.message);
  return parts.join(': ');
}

function formatValue(value: unknown, path: string): string {
  // A refused value is quoted as written, but never a secret in it: the whole value of a
  // secret-named field (`spec.apiKey: "sk-…"`), a URL's userinfo and query
  // (`?code=<function key>`, `&sig=`) and secret-named fields inside it are replaced first.
  const field = /([^.[\]]+)(\[\d+\])*$/.exec(path)?.[1] ?? '';
  const text = JSON.stringify(isSecretField(field) ? REDACTED : redactSecrets(value));
  if (text === undefined) return String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Bad input: exit code 2, every issue listed. */
export class ValidationError extends InfermarkError {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[]) {
    const lines = issues.map(formatIssue);
    super(
      'E_VALIDATION',
      `${issues.length} validation error${issues.length === 1 ? '' : 's'}:\n  ${lines.join('\n  ')}`,
      ExitCode.badInput,
    );
    this.name = 'ValidationError';
    this.issues = issues;
  }
}
