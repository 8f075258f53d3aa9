/**
 * Importer for infermark's generic format (docs/warehouse-import.md): results of
 * any tool, training outcomes and telemetry slices, with columns named exactly as
 * the warehouse's tables name them. JSON: one file per run,
 * `{"format": "infermark-generic/v1", "run": {...}, "serving_outcomes": [...], ...}`.
 * CSV: one file per table with a header row, named `<table>.csv` (or any name with
 * `--table`); a folder of such files is one run. An unknown column, a column the
 * importer sets itself, a missing required column or a value of the wrong type is
 * an error that names the file, the row and the column (exit 2), all of them at once.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { ValidationError, type ValidationIssue } from '../base/errors.js';
import { digestOf } from '../base/digest.js';
import { formatPath } from '../spec/field-path.js';
import {
  badInput,
  parsePythonJson,
  readInputFile,
  statInput,
  WRITER_COLUMNS,
  type ImportedRun,
  type ImportOptions,
  type InputFile,
} from './import-common.js';
import { readCatalog, type Catalog, type Columns } from './insert-rows.js';
import { type Warehouse } from './warehouse.js';
import { sqlString } from './sql.js';

export const GENERIC_FORMAT = 'infermark-generic/v1';

interface Section {
  /** Key in the JSON document. */
  key: string;
  table: string;
  /** A list of rows, or one object. */
  many: boolean;
}

/** The sections of a generic document, each a table; a CSV file is `<table>.csv`. */
export const GENERIC_SECTIONS: readonly Section[] = [
  { key: 'run', table: 'benchmark_run_fact', many: false },
  { key: 'serving_outcomes', table: 'serving_outcome_fact', many: true },
  { key: 'requests', table: 'request_fact', many: true },
  { key: 'training_outcomes', table: 'training_outcome_fact', many: true },
  { key: 'telemetry_slices', table: 'telemetry_slice_fact', many: true },
  { key: 'software_version', table: 'software_version_dim', many: false },
  { key: 'hardware_topology', table: 'hardware_topology_dim', many: false },
  { key: 'cluster_region', table: 'cluster_region_dim', many: false },
  { key: 'workloads', table: 'workload_dim', many: true },
];

/** Required by the table but given a value when absent. */
const DEFAULTED: Readonly<Record<string, readonly string[]>> = {
  workload_dim: ['workload_spec_digest', 'kind'],
};

/** Sections that hold what the run measured; at least one must have rows. */
const MEASURED = ['serving_outcomes', 'requests', 'training_outcomes', 'telemetry_slices'];

/** The grain of each list: two rows with the same key are one too many. */
const KEYS: Readonly<Record<string, readonly string[]>> = {
  serving_outcomes: ['iteration'],
  requests: ['iteration', 'request_id'],
  training_outcomes: ['phase', 'scale_point'],
};

const MAX_ISSUES = 50;

type Rows = Map<Section, Columns[]>;

/** Reads a generic JSON file, a CSV file, or a folder of CSV files: one run. */
export async function readGeneric(
  warehouse: Warehouse,
  path: string,
  options: ImportOptions = {},
): Promise<ImportedRun> {
  const catalog = await readCatalog(warehouse);
  const { absolute, isDirectory } = await statInput(path);
  const issues: ValidationIssue[] = [];
  const files: InputFile[] = [];
  const sections: Rows = new Map();
  const add = (section: Section, rows: Columns[]): void => {
    sections.set(section, [...(sections.get(section) ?? []), ...rows]);
  };

  if (isDirectory) {
    if (options.table)
      throw badInput(path, '--table names the table of one CSV file; a folder holds <table>.csv files');
    const names = (await readdir(absolute)).filter((name) => extname(name).toLowerCase() === '.csv').sort();
    if (names.length === 0)
      throw badInput(path, `no CSV files in the folder (expected ${expectedCsvNames()})`);
    for (const name of names) {
      const section = sectionOfCsv(name, join(path, name));
      const { rows, file } = await readCsv(
        warehouse,
        catalog,
        section,
        join(absolute, name),
        name,
        join(path, name),
        issues,
      );
      files.push(file);
      add(section, rows);
    }
  } else if (extname(absolute).toLowerCase() === '.csv') {
    const section = options.table ? sectionOfTable(options.table) : sectionOfCsv(basename(absolute), path);
    const { rows, file } = await readCsv(
      warehouse,
      catalog,
      section,
      absolute,
      basename(absolute),
      path,
      issues,
    );
    files.push(file);
    add(section, rows);
  } else if (extname(absolute).toLowerCase() === '.json') {
    if (options.table) throw badInput(path, '--table applies to CSV files; a JSON file names its sections');
    const { text, file } = await readInputFile(absolute, basename(absolute));
    files.push(file);
    readDocument(parsePythonJson(text, path), path, catalog, issues, add);
  } else {
    throw badInput(path, `expected a ${GENERIC_FORMAT} .json file, a .csv file, or a folder of .csv files`);
  }

  // One run per input: the run_id, when the input gives one, is the same everywhere.
  const runIds = new Set<string>();
  for (const rows of sections.values()) {
    for (const row of rows) {
      if (typeof row.run_id === 'string' && row.run_id !== '') runIds.add(row.run_id);
      delete row.run_id;
    }
  }
  if (runIds.size > 1)
    issues.push({
      file: path,
      path: 'run_id',
      message: `one run per input, but the rows name ${runIds.size}: ${[...runIds].join(', ')} (split them into one file or folder per run)`,
    });
  const rowsOf = (key: string): Columns[] => [...sections.entries()].find(([s]) => s.key === key)?.[1] ?? [];
  const single = (key: string): Columns | null => {
    const rows = rowsOf(key);
    if (rows.length === 0) return null;
    if (rows.length > 1)
      issues.push({
        file: path,
        path: key,
        message: `one row expected (one run per input), found ${rows.length}`,
      });
    return rows[0] as Columns;
  };
  const run = single('run') ?? {};
  const software = single('software_version');
  const hardware = single('hardware_topology');
  const cluster = single('cluster_region');
  for (const [key, columns] of Object.entries(KEYS)) {
    const seen = new Set<string>();
    for (const row of rowsOf(key)) {
      const id = JSON.stringify(columns.map((c) => row[c] ?? null));
      if (seen.has(id))
        issues.push({
          file: path,
          path: key,
          message: `two rows for ${columns.map((c) => `${c} ${JSON.stringify(row[c] ?? null)}`).join(', ')}: one row per key`,
        });
      seen.add(id);
    }
  }
  if (issues.length === 0 && MEASURED.every((key) => rowsOf(key).length === 0))
    issues.push({
      file: path,
      path: '',
      message: `nothing to import: expected rows of at least one of ${MEASURED.join(', ')} (${MEASURED.map((k) => `${tableOf(k)}.csv`).join(', ')})`,
    });
  if (issues.length > 0) throw tooMany(issues);

  const workloads = rowsOf('workloads').map((w) => {
    const row: Columns = { kind: 'iteration', ...w };
    return { ...row, workload_spec_digest: row.workload_spec_digest ?? digestOf(row) };
  });
  return {
    source: 'generic',
    root: isDirectory ? absolute : dirname(absolute),
    files,
    runId: runIds.size === 1 ? ([...runIds][0] as string) : null,
    run,
    // Without their own sections, the dimensions hold what the run's columns say.
    software:
      software ??
      (run.engine || run.engine_version
        ? { server_engine: run.engine ?? null, server_version: run.engine_version ?? null }
        : null),
    hardware:
      hardware ??
      (run.gpu_type || run.gpu_count
        ? { gpu_model: run.gpu_type ?? null, gpu_count: run.gpu_count ?? null }
        : null),
    cluster,
    workloads,
    outcomes: rowsOf('serving_outcomes'),
    requests: rowsOf('requests'),
    training: rowsOf('training_outcomes'),
    telemetry: rowsOf('telemetry_slices'),
    notes: { request_fact: 'no request_fact rows in the input' },
    notApplicable: notApplicable(rowsOf('serving_outcomes')),
  };
}

/** rate_rps of closed-loop points and concurrency of open-loop ones mean nothing: not gaps. */
function notApplicable(outcomes: Columns[]): string[] {
  if (outcomes.length === 0) return [];
  if (outcomes.every((o) => o.mode === 'concurrency')) return ['serving_outcome_fact.rate_rps'];
  if (outcomes.every((o) => o.mode === 'rate' || o.mode === 'trace'))
    return ['serving_outcome_fact.concurrency'];
  return [];
}

function tableOf(key: string): string {
  return (GENERIC_SECTIONS.find((s) => s.key === key) as Section).table;
}

function expectedCsvNames(): string {
  return GENERIC_SECTIONS.map((s) => `${s.table}.csv`).join(', ');
}

function sectionOfCsv(name: string, display: string): Section {
  const table = name.replace(/\.csv$/i, '');
  const section = GENERIC_SECTIONS.find((s) => s.table === table);
  if (!section)
    throw badInput(
      display,
      `cannot tell which table this file fills: name it after the table (${expectedCsvNames()}) or give --table`,
    );
  return section;
}

function sectionOfTable(table: string): Section {
  const section = GENERIC_SECTIONS.find((s) => s.table === table);
  if (!section)
    throw new ValidationError([
      {
        path: '--table',
        value: table,
        message: `expected one of ${GENERIC_SECTIONS.map((s) => s.table).join(', ')}`,
      },
    ]);
  return section;
}

function readDocument(
  document: unknown,
  file: string,
  catalog: Catalog,
  issues: ValidationIssue[],
  add: (section: Section, rows: Columns[]) => void,
): void {
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    throw badInput(file, `expected a JSON object with "format": "${GENERIC_FORMAT}"`);
  const doc = document as Record<string, unknown>;
  if (doc.format !== GENERIC_FORMAT) {
    issues.push({
      file,
      path: 'format',
      ...(doc.format !== undefined ? { value: doc.format } : {}),
      message:
        doc.format === undefined
          ? `required field is missing (expected "${GENERIC_FORMAT}"; a vLLM or genai-bench result needs --from vllm or --from genai-bench)`
          : `expected "${GENERIC_FORMAT}"`,
    });
  }
  const keys = ['format', ...GENERIC_SECTIONS.map((s) => s.key)];
  for (const key of Object.keys(doc)) {
    if (!keys.includes(key))
      issues.push({ file, path: key, message: `unknown section; expected one of ${keys.join(', ')}` });
  }
  const reported = new Set<string>();
  for (const section of GENERIC_SECTIONS) {
    const value = doc[section.key];
    if (value === undefined || value === null) continue;
    const items = section.many ? value : [value];
    if (section.many && !Array.isArray(value)) {
      issues.push({ file, path: section.key, message: `expected a list of ${section.table} rows` });
      continue;
    }
    const rows: Columns[] = [];
    (items as unknown[]).forEach((item, i) => {
      const at = section.many ? formatPath([section.key, i]) : section.key;
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        issues.push({ file, path: at, message: `expected an object of ${section.table} columns` });
        return;
      }
      rows.push(
        checkRow(
          section,
          catalog,
          item as Record<string, unknown>,
          { file, at, kind: 'json' },
          issues,
          reported,
        ),
      );
    });
    add(section, rows);
  }
}

/** A CSV file's rows, read by DuckDB as text and checked against the table. */
async function readCsv(
  warehouse: Warehouse,
  catalog: Catalog,
  section: Section,
  absolute: string,
  relativePath: string,
  display: string,
  issues: ValidationIssue[],
): Promise<{ rows: Columns[]; file: InputFile }> {
  const { file } = await readInputFile(absolute, relativePath);
  let result: { columns: string[]; rows: Record<string, unknown>[] };
  try {
    result = await warehouse.json(
      `SELECT * FROM read_csv(${sqlString(absolute)}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')`,
    );
  } catch (error) {
    throw badInput(display, `cannot read as CSV (${String((error as Error).message).split('\n')[0]})`);
  }
  const reported = new Set<string>();
  // Header problems once per file, not once per row.
  const header = Object.fromEntries(result.columns.map((c) => [c, null]));
  checkRow(section, catalog, header, { file: display, at: 'header', kind: 'header' }, issues, reported);
  // Line 1 is the header: the first row is line 2.
  const rows = result.rows.map((raw, i) =>
    checkRow(section, catalog, raw, { file: display, at: `row ${i + 2}`, kind: 'csv' }, issues, reported),
  );
  return { rows, file };
}

interface Where {
  file: string;
  at: string;
  kind: 'json' | 'csv' | 'header';
}

/** One row checked against its table; values coerced to the column's type. */
function checkRow(
  section: Section,
  catalog: Catalog,
  input: Record<string, unknown>,
  where: Where,
  issues: ValidationIssue[],
  reported: Set<string>,
): Columns {
  const columns = catalog.get(section.table) ?? [];
  const writer = new Set(WRITER_COLUMNS[section.table] ?? []);
  const allowed = columns.map((c) => c.name).filter((name) => !writer.has(name));
  const once = (key: string, issue: ValidationIssue): void => {
    if (reported.has(key)) return;
    reported.add(key);
    issues.push(issue);
  };
  const path = (column: string): string =>
    where.kind === 'json'
      ? `${where.at}.${column}`
      : where.kind === 'header'
        ? `column "${column}"`
        : `${where.at}, column "${column}"`;
  const row: Columns = {};
  for (const [name, value] of Object.entries(input)) {
    const column = columns.find((c) => c.name === name);
    if (!column) {
      const guess = closest(name, allowed);
      once(`unknown:${name}`, {
        file: where.file,
        path: where.kind === 'json' ? `${where.at}.${name}` : `column "${name}"`,
        message: `unknown column of ${section.table}${guess ? ` (did you mean "${guess}"?)` : ''}; expected one of: ${allowed.join(', ')}`,
      });
      continue;
    }
    if (writer.has(name)) {
      once(`writer:${name}`, {
        file: where.file,
        path: where.kind === 'json' ? `${where.at}.${name}` : `column "${name}"`,
        message: `set by the importer, not taken from the input: remove it`,
      });
      continue;
    }
    if (where.kind === 'header') continue;
    const coerced = coerce(value, column.type, where.kind === 'csv');
    if ('error' in coerced) {
      once(`type:${where.at}:${name}`, {
        file: where.file,
        path: path(name),
        value,
        message: coerced.error,
      });
      continue;
    }
    row[name] = coerced.value;
  }
  const defaulted = new Set(DEFAULTED[section.table] ?? []);
  for (const column of columns) {
    if (column.nullable || writer.has(column.name) || column.name === 'run_id' || defaulted.has(column.name))
      continue;
    const missing = !(column.name in input);
    if (where.kind === 'header' && missing) {
      once(`required:${column.name}`, {
        file: where.file,
        path: `column "${column.name}"`,
        message: `required column of ${section.table} is missing`,
      });
    } else if (where.kind === 'json' && (missing || input[column.name] === null)) {
      issues.push({
        file: where.file,
        path: `${where.at}.${column.name}`,
        message: `required column of ${section.table} is missing`,
      });
    } else if (
      where.kind === 'csv' &&
      !missing &&
      (input[column.name] === null || input[column.name] === '')
    ) {
      issues.push({ file: where.file, path: path(column.name), message: 'required value is empty' });
    }
  }
  return row;
}

const INTEGER_BITS: Record<string, number> = { TINYINT: 8, SMALLINT: 16, INTEGER: 32, BIGINT: 64 };

type Coerced = { value: unknown } | { error: string };

const ISO_TIME =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** A value as the column's type needs it; CSV text is parsed, JSON values must already be of the type. */
function coerce(value: unknown, type: string, fromText: boolean): Coerced {
  if (value === null || value === undefined) return { value: null };
  if (fromText && value === '' && type !== 'VARCHAR') return { value: null };
  const text = typeof value === 'string' ? value.trim() : null;
  switch (type) {
    case 'VARCHAR':
      if (typeof value === 'string') return { value };
      if (typeof value === 'number' || typeof value === 'boolean') return { value: String(value) };
      return { error: 'expected text' };
    case 'TINYINT':
    case 'SMALLINT':
    case 'INTEGER':
    case 'BIGINT': {
      const n =
        typeof value === 'number'
          ? value
          : fromText && text !== null && /^[-+]?\d+$/.test(text)
            ? Number(text)
            : NaN;
      if (!Number.isSafeInteger(n)) return { error: 'expected an integer' };
      const bits = INTEGER_BITS[type] as number;
      return bits < 64 && Math.abs(n) >= 2 ** (bits - 1)
        ? { error: `expected an integer of at most ${bits} bits` }
        : { value: n };
    }
    case 'FLOAT':
    case 'DOUBLE': {
      const n =
        typeof value === 'number' ? value : fromText && text !== null && text !== '' ? Number(text) : NaN;
      return Number.isFinite(n) ? { value: n } : { error: 'expected a number' };
    }
    case 'BOOLEAN': {
      if (typeof value === 'boolean') return { value };
      const t = fromText ? text?.toLowerCase() : undefined;
      if (t === 'true' || t === '1') return { value: true };
      if (t === 'false' || t === '0') return { value: false };
      return { error: 'expected true or false' };
    }
    case 'TIMESTAMP WITH TIME ZONE':
    case 'TIMESTAMP': {
      const m = text === null ? null : ISO_TIME.exec(text);
      if (!m) return { error: 'expected an ISO 8601 time such as 2025-03-01T10:15:00Z' };
      const zone = zoneOf(m[3]);
      const date = new Date(`${m[1]}T${m[2] ?? '00:00:00'}${zone}`);
      return Number.isNaN(date.getTime())
        ? { error: 'expected an ISO 8601 time such as 2025-03-01T10:15:00Z' }
        : { value: date.toISOString() };
    }
    case 'JSON':
      if (typeof value === 'object') return { value: JSON.stringify(value) };
      if (typeof value === 'string') {
        try {
          JSON.parse(value);
          return { value };
        } catch {
          return { error: 'expected JSON' };
        }
      }
      return { error: 'expected JSON' };
    default:
      return { error: `columns of type ${type} cannot be imported` };
  }
}

/** `Z`, `+05`, `+0530` or `+05:30` as Date parses it; none means UTC. */
function zoneOf(zone: string | undefined): string {
  if (!zone || zone.toUpperCase() === 'Z') return 'Z';
  if (zone.length === 3) return `${zone}:00`;
  if (zone.length === 5) return `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return zone;
}

function tooMany(issues: ValidationIssue[]): ValidationError {
  if (issues.length <= MAX_ISSUES) return new ValidationError(issues);
  const shown = issues.slice(0, MAX_ISSUES);
  shown.push({ path: '', message: `... and ${issues.length - MAX_ISSUES} more` });
  return new ValidationError(shown);
}

/** The known name nearest to `name` by edit distance, when it is near enough to be a typo. */
function closest(name: string, known: string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  if (best !== null && bestDistance <= Math.max(2, Math.floor(name.length / 4))) return best;
  // `ttft_p99`, `p99_ttft` → `ttft_ms_p99`: every word of the name in a column's name.
  const words = name.toLowerCase().split('_').filter(Boolean);
  const containing = known.filter((candidate) => {
    const theirs = candidate.toLowerCase().split('_');
    return words.length > 1 && words.every((word) => theirs.includes(word));
  });
  return containing.sort((a, b) => a.length - b.length)[0] ?? null;
}

function distance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0] as number;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j] as number;
      previous[j] = Math.min(
        above + 1,
        (previous[j - 1] as number) + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return previous[b.length] as number;
}
