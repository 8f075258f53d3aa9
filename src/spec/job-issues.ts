/**
 * Validation problems as the user sees them: a JobIssue (path segments + message) becomes a
 * ValidationIssue with the source file, a rendered path and the value actually written there.
 */
import type { ValidationIssue } from '../base/errors.js';
import { valueAt } from './field-path.js';
import { clip } from './job-limits.js';
import type { JobIssue } from './job-rules.js';

/** JobIssues → ValidationIssues with the actual value at each path (absent when missing). */
export function toValidationIssues(
  issues: readonly JobIssue[],
  raw: unknown,
  file: string,
  renderPath: (path: JobIssue['path']) => string,
): ValidationIssue[] {
  return issues.map((issue) => {
    const value = valueAt(raw, issue.path);
    const out: ValidationIssue = { file, path: renderPath(issue.path), message: issue.message };
    // A whole mapping or list as the value would drown the message; scalars say what was written.
    if (value === undefined || (value !== null && typeof value === 'object')) return out;
    // NaN and Infinity have no JSON form (they would print as null): the message names them.
    if (typeof value === 'number' && !Number.isFinite(value)) return out;
    // A 10 MB value is quoted by its start and its length, never whole.
    out.value = typeof value === 'string' && value.length > 1024 ? clip(value) : value;
    return out;
  });
}
