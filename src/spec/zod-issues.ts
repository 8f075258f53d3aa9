/**
 * zod issues turned into messages a user can act on: what was expected and what was found,
 * one issue per unknown field with a "did you mean" when a known field is close.
 */
import { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../base/errors.js';
import { formatPath, valueAt, type PathSegment } from './field-path.js';
import { clip } from './job-limits.js';
import type { JobIssue } from './job-rules.js';

/** Map zod's issues for `input` parsed by `schema` to JobIssues. */
export function fromZodIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  schema: z.ZodType,
): JobIssue[] {
  const out: JobIssue[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const at = schemaAt(schema, path);
      const known = at instanceof z.ZodObject ? Object.keys(at.shape as object) : [];
      for (const key of issue.keys) {
        const guess = closest(key, known);
        out.push({
          path: [...path, key],
          message: `unknown field ${JSON.stringify(clip(key))}${guess ? ` (did you mean "${guess}"?)` : ''}`,
        });
      }
      continue;
    }
    out.push({ path, message: describe(issue, valueAt(input, path), schemaAt(schema, path)) });
  }
  return out;
}

function describe(issue: z.core.$ZodIssue, value: unknown, at: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      // YAML's .nan and .inf, and literals past a double's range (1e400), read as NaN and ±Infinity.
      if (typeof value === 'number' && !Number.isFinite(value)) {
        return `expected a finite number, got ${String(value)}`;
      }
      // zod reports `expected: number` for a non-number given to an int schema; say integer.
      const kind = at instanceof z.ZodNumber && at.isInt ? 'int' : issue.expected;
      const expected = EXPECTED[kind] ?? kind;
      if (value === undefined) return `required field is missing (expected ${expected})`;
      if (issue.expected === 'int' && typeof value === 'number') return `expected an integer, got ${value}`;
      // YAML reads `0.0` and `yes` as number/boolean; Kubernetes maps of strings need quotes.
      const hint =
        issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')
          ? ' (write it in quotes)'
          : '';
      return `expected ${expected}, got ${typeName(value)}${hint}`;
    }
    case 'invalid_value': {
      const expected =
        issue.values.length === 1
          ? JSON.stringify(issue.values[0])
          : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      return value === undefined
        ? `required field is missing (expected ${expected})`
        : `expected ${expected}`;
    }
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'string') return 'must not be empty';
      if (issue.origin === 'array') return `must have at least ${min} entr${min === '1' ? 'y' : 'ies'}`;
      return issue.inclusive ? `must be ≥ ${min}` : `must be > ${min}`;
    }
    case 'too_big': {
      const max = String(issue.maximum);
      // The length and the bound, never the value itself (toValidationIssues clips what is quoted).
      if (issue.origin === 'string' && typeof value === 'string') {
        return `is ${value.length} characters long: at most ${max} allowed`;
      }
      if (issue.origin === 'array' && Array.isArray(value)) {
        return `has ${value.length} entries: at most ${max} allowed`;
      }
      return issue.inclusive ? `must be ≤ ${max}` : `must be < ${max}`;
    }
    case 'invalid_key': {
      const key = issue.path.at(-1);
      const inner = issue.issues[0];
      if (typeof key === 'string' && inner?.code === 'too_big') {
        return `the key is ${key.length} characters long: at most ${String(inner.maximum)} allowed`;
      }
      return inner ? `invalid key: ${inner.message}` : issue.message;
    }
    case 'invalid_format':
    case 'custom':
      return issue.message;
    default:
      return issue.message;
  }
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  record: 'a mapping',
};

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  // YAML tags (!!binary, !!timestamp, !!set) give objects that are not mappings.
  if (value instanceof Uint8Array) return 'binary data';
  if (value instanceof Date) return 'a timestamp';
  if (value instanceof Set) return 'a set';
  if (value instanceof Map) return 'an ordered mapping';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `a string`;
  if (typeof value === 'number') return `a number`;
  if (typeof value === 'boolean') return `${String(value)}`;
  return typeof value;
}

/** The schema that checks the value at `path`, wrappers removed; undefined when the path leaves it. */
function schemaAt(schema: z.ZodType, path: readonly PathSegment[]): unknown {
  let cur: unknown = schema;
  for (const seg of [...path, null]) {
    for (;;) {
      if (cur instanceof z.ZodOptional || cur instanceof z.ZodDefault) cur = cur.unwrap();
      else break;
    }
    if (seg === null) break;
    if (cur instanceof z.ZodObject && typeof seg === 'string')
      cur = (cur.shape as Record<string, unknown>)[seg];
    else if (cur instanceof z.ZodArray) cur = cur.element;
    else if (cur instanceof z.ZodRecord) cur = cur.valueType;
    else return undefined;
  }
  return cur;
}

function closest(key: string, known: readonly string[]): string | undefined {
  // The edit distance costs length × length: a key far longer than any field is no typo.
  if (key.length > 64) return undefined;
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const exact = known.find((k) => norm(k) === norm(key));
  if (exact) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost));
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/** Parses with a zod schema; every issue at once, each with its file and field path. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, file: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues: ValidationIssue[] = fromZodIssues(parsed.error.issues, value, schema).map((issue) => ({
    file,
    path: formatPath(issue.path),
    message: issue.message,
  }));
  throw new ValidationError(issues);
}
