/**
 * A job file's YAML to a plain value, refusing what would crash or stall the parser: a file
 * past its size bound, nesting past its depth bound (the parser recurses per level and
 * overflows the stack), alias bombs and unresolved aliases, keys that are not strings.
 * Every refusal is a ValidationError naming the file and, where it can, the line.
 */
import { isAlias, isScalar, LineCounter, parseAllDocuments, visit, type Document } from 'yaml';
import { ValidationError, type ValidationIssue } from '../base/errors.js';
import { clip, MAX_JOB_DEPTH, MAX_JOB_FILE_BYTES } from './job-limits.js';

/** Aliases expanded when converting (the parser's default; a billion-laughs file passes it at once). */
const MAX_ALIAS_COUNT = 100;

/**
 * The single YAML document in `text`, as a plain value.
 * @throws ValidationError with every syntax problem, or the first structural refusal.
 */
export function parseJobYaml(text: string, file: string): unknown {
  const refuse = (message: string, path = ''): never => {
    throw new ValidationError([{ file, path, message }]);
  };
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_JOB_FILE_BYTES) {
    refuse(`the file is ${bytes} bytes: a job file holds at most ${MAX_JOB_FILE_BYTES} bytes`);
  }
  const deep = deepestLine(text, MAX_JOB_DEPTH);
  if (deep !== null) {
    refuse(`nested more than ${MAX_JOB_DEPTH} levels deep (no job needs that many)`, `line ${deep}`);
  }

  const lineCounter = new LineCounter();
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    // The depth scan is an estimate; a stack overflow that slips past it is still bad input.
    if (error instanceof RangeError) refuse(`nested too deeply to parse (${error.message})`);
    throw error;
  }
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}`;
  };
  // An empty stream comes back as a non-array EmptyStream.
  const list = Array.isArray(docs) ? docs : [];
  const issues: ValidationIssue[] = [];
  for (const doc of list) {
    for (const error of doc.errors) {
      issues.push({
        file,
        path: at(error.pos[0]),
        message: `YAML syntax error: ${firstLine(error.message)}`,
      });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  if (list.length === 0 || (list.length === 1 && list[0]?.contents === null)) {
    refuse('the file is empty: expected a BenchmarkJob');
  }
  if (list.length > 1) {
    const { line } = lineCounter.linePos(list[1]?.range?.[0] ?? 0);
    refuse(`expected one BenchmarkJob per file, found ${list.length} YAML documents`, `line ${line}`);
  }
  const doc = list[0] as Document.Parsed;
  const structural = structureIssues(doc, file, at);
  if (structural.length > 0) throw new ValidationError(structural);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The yaml package throws ReferenceError for an alias expanding past maxAliasCount.
    const reason = error instanceof Error ? firstLine(error.message) : String(error);
    if (error instanceof ReferenceError || error instanceof RangeError) {
      return refuse(`YAML aliases expand too far (more than ${MAX_ALIAS_COUNT} copies): ${reason}`);
    }
    throw error;
  }
  // `---` alone, or `~`: a document that holds nothing.
  if (value === null || value === undefined) refuse('the file is empty: expected a BenchmarkJob');
  return value;
}

/**
 * Keys that are not plain scalars (`? [a, b]` would become the string "a,b" with a warning on
 * stderr), `__proto__` keys, and aliases with no anchor before them, each with its line.
 */
function structureIssues(
  doc: Document.Parsed,
  file: string,
  at: (offset: number) => string,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const anchors = new Set<string>();
  visit(doc, {
    Node(_, node) {
      if (node.anchor) anchors.add(node.anchor);
      if (isAlias(node) && !anchors.has(node.source)) {
        issues.push({
          file,
          path: at(node.range?.[0] ?? 0),
          message: `unresolved YAML alias *${clip(node.source)}: no anchor &${clip(node.source)} before it`,
        });
      }
    },
    Pair(_, pair) {
      const key = pair.key;
      if (key === null) return;
      const offset = (key as { range?: [number, number, number] }).range?.[0] ?? 0;
      if (!isScalar(key)) {
        issues.push({
          file,
          path: at(offset),
          message: 'a mapping key must be a plain string, not a list, mapping or alias',
        });
      } else if (key.value === '__proto__') {
        issues.push({ file, path: at(offset), message: '"__proto__" is not allowed as a key' });
      }
    },
  });
  return issues;
}

/**
 * The first line where `text` nests deeper than `max` (block indentation levels, `- ` items
 * and open flow brackets together), or null. A linear scan that runs before the parser and
 * errs towards counting more: a quote or bracket inside a plain scalar may count as one.
 */
export function deepestLine(text: string, max: number): number | null {
  const indents: number[] = [];
  let flow = 0;
  let quote: '' | "'" | '"' = '';
  let blockScalarIndent = -1;
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    let i = 0;
    while (line[i] === ' ') i++;
    const blank = i === line.length || line[i] === '#' || line[i] === '\r';
    if (blockScalarIndent >= 0) {
      if (blank || i > blockScalarIndent) continue;
      blockScalarIndent = -1;
    }
    if (blank && quote === '') continue;
    if (quote === '' && flow === 0) {
      while (indents.length > 0 && (indents.at(-1) as number) >= i) indents.pop();
      indents.push(i);
      // `- - - x`: each dash opens a sequence one level deeper on the same line.
      while (line[i] === '-' && (line[i + 1] === ' ' || i + 1 === line.length)) {
        i += 2;
        while (line[i] === ' ') i++;
        indents.push(i);
      }
    }
    let last = ' ';
    for (; i < line.length; i++) {
      const c = line[i] as string;
      if (quote !== '') {
        if (c === '\\' && quote === '"') i++;
        else if (c === quote) quote = '';
        continue;
      }
      const atStart = ' :-[{,?'.includes(last);
      if (c === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) break;
      if ((c === '"' || c === "'") && atStart) quote = c;
      else if ((c === '[' || c === '{') && (atStart || flow > 0)) flow++;
      else if ((c === ']' || c === '}') && flow > 0) flow--;
      if (indents.length + flow > max) return lineNo;
      if (c !== ' ' && c !== '\t') last = c;
    }
    if (indents.length + flow > max) return lineNo;
    // A literal or folded block scalar: its more-indented lines are text, not nesting.
    if (quote === '' && flow === 0 && /(^|[\s:-])[|>][-+0-9]*\s*(#.*)?\r?$/.test(line)) {
      blockScalarIndent = indents.at(-1) ?? 0;
    }
  }
  return null;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
