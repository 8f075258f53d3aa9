/**
 * What the importers share. An importer reads another tool's results and returns
 * the canonical rows as plain data (`ImportedRun`: no warehouse writes); `writeImport`
 * writes them the way an infermark run's rows are written: in one transaction,
 * under a run_id derived from the input's digest (importing the same input twice
 * changes nothing), with the input files as run_artifact rows under an
 * artifact_manifest_digest (so lineage walks an imported number back to its
 * bytes), and one import_gap row for every canonical field the input left empty.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { digestOf, sha256 } from '../base/digest.js';
import { servingCosts, type CostThroughputs } from '../metrics/cost.js';
import {
  bulkInsert,
  columnsOf,
  insertIgnore,
  insertMany,
  insertRow,
  readCatalog,
  type Catalog,
  type Columns,
} from './insert-rows.js';
import { type Warehouse } from './warehouse.js';
import { sqlString } from './sql.js';

/** The tools results can be imported from (the `source` of their benchmark_run_fact row). */
export const IMPORT_SOURCES = ['vllm', 'genai-bench', 'generic'] as const;
export type ImportSource = (typeof IMPORT_SOURCES)[number];

export interface ImportOptions {
  /** What the deployment cost per hour: fills price and cost columns (as `ingest --cost-per-hour`). */
  costPerHourUsd?: number;
  /** Generic CSV: the table a file's rows go to, when its name does not say. */
  table?: string;
}

/** A canonical field the input could not fill: `table.column` (or a whole table), and why. */
export interface ImportGap {
  field: string;
  note: string;
}

export interface ImportResult {
  /** The path as given. */
  input: string;
  run_id: string;
  source: ImportSource;
  /** `imported`, or `unchanged` when the same input was imported before. */
  outcome: 'imported' | 'unchanged';
  /** Outcome rows written (serving points and training scale points); 0 when unchanged. */
  points: number;
  /** request_fact rows written; 0 when unchanged. */
  requests: number;
  /** The run's import_gap rows (also when unchanged: read back from the warehouse). */
  gaps: ImportGap[];
}

/** One input file, as a run_artifact row: `path` relative to the lineage folder. */
export interface InputFile {
  path: string;
  size_bytes: number;
  /** `sha256:<hex>`. */
  sha256: string;
}

/** An importer's result: the canonical rows, before run_id, digests and timestamps are set. */
export interface ImportedRun {
  source: ImportSource;
  /** Absolute folder the raw files are in: artifact_lineage_dim.raw_uris, and the root of `files`. */
  root: string;
  files: InputFile[];
  /** A run_id the input names itself (generic only); otherwise it is derived from the input's digest. */
  runId?: string | null;
  /** benchmark_run_fact columns. */
  run: Columns;
  /** Dimension rows (their id is the digest of their columns); null when nothing of it is known. */
  software?: Columns | null;
  hardware?: Columns | null;
  cluster?: Columns | null;
  /** workload_dim rows, each with its workload_spec_digest. */
  workloads?: Columns[];
  /** serving_outcome_fact rows. */
  outcomes: Columns[];
  /** request_fact rows; null when the input holds no per-request data. */
  requests: Columns[] | null;
  training?: Columns[];
  telemetry?: Columns[];
  /** Why a field stays empty, by `table.column`; a key ending in `*` covers every column it prefixes. */
  notes: Record<string, string>;
  /** Fields that mean nothing for this input (rate_rps of a closed loop): left empty, not gaps. */
  notApplicable?: string[];
}

/** Columns the writer sets on every row: never gaps, never taken from the input. */
export const WRITER_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  benchmark_run_fact: [
    'source',
    'artifact_manifest_digest',
    'software_version_id',
    'hardware_topology_id',
    'cluster_region_id',
    'ingested_at',
  ],
  serving_outcome_fact: ['artifact_manifest_digest', 'ingested_at'],
  training_outcome_fact: ['ingested_at'],
  telemetry_slice_fact: ['ingested_at'],
  request_fact: [],
  software_version_dim: ['software_version_id'],
  hardware_topology_dim: ['hardware_topology_id'],
  cluster_region_dim: ['cluster_region_id'],
  workload_dim: [],
};

/** Notes that hold for every importer (an importer's own notes win). */
const COMMON_NOTES: Record<string, string> = {
  'benchmark_run_fact.run_group_id':
    'runs are grouped by the infermark job that started them; an import has none',
  'benchmark_run_fact.job_file_commit': 'no BenchmarkJob file: the run was not started by infermark',
  'benchmark_run_fact.job_namespace': 'no Kubernetes namespace recorded',
  'benchmark_run_fact.job_uid': 'no Kubernetes BenchmarkJob recorded (infermark records it in a pod)',
  'benchmark_run_fact.pod_uid': 'no Kubernetes pod recorded (infermark records it in a pod)',
  'benchmark_run_fact.node_name': 'no Kubernetes node recorded (infermark records it in a pod)',
  'benchmark_run_fact.scheduler_path': 'how the run was scheduled is not recorded',
  'benchmark_run_fact.software_version_id': 'no server engine or version recorded',
  'benchmark_run_fact.hardware_topology_id': 'no GPU type or count recorded',
  'benchmark_run_fact.cluster_region_id': 'no cluster, region or node pool recorded',
  'benchmark_run_fact.price_per_hour_usd': 'no price given (--cost-per-hour)',
  'serving_outcome_fact.cost_per_request_usd': 'no price given (--cost-per-hour)',
  'serving_outcome_fact.cost_per_million_output_tokens_usd': 'no price given (--cost-per-hour)',
  'serving_outcome_fact.cost_per_million_input_tokens_usd': 'no price given (--cost-per-hour)',
  'serving_outcome_fact.event_loop_flag':
    "infermark's check of its own client's event loop; other tools have none",
};

const GAP_TABLES = [
  'benchmark_run_fact',
  'serving_outcome_fact',
  'request_fact',
  'training_outcome_fact',
  'telemetry_slice_fact',
] as const;

const ALWAYS_SET = new Set(['run_id', 'source', 'artifact_manifest_digest', 'ingested_at']);

/**
 * Writes an importer's rows, or nothing when the run is already there with the
 * same digest. A run_id the input names itself that is already there with a
 * different digest is refused: a run never changes.
 */
export async function writeImport(
  warehouse: Warehouse,
  imported: ImportedRun,
  input: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const catalog = await readCatalog(warehouse);
  const files = [...imported.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const digest = digestOf(files);
  const runId = imported.runId ?? derivedRunId(files, digest);
  const base = { input, run_id: runId, source: imported.source };

  const existing = await warehouse.all(
    'SELECT artifact_manifest_digest AS d FROM benchmark_run_fact WHERE run_id = $1',
    [runId],
  );
  if (existing.length > 0) {
    if (imported.runId && existing[0]?.d !== digest && !(await sameBytes(warehouse, runId, files))) {
      throw new InfermarkError(
        'E_RUN_CHANGED',
        `${input}: run ${runId} is already in the warehouse with artifact_manifest_digest ${String(existing[0]?.d)}, not ${digest}`,
        ExitCode.badInput,
      );
    }
    const gaps = await warehouse.all('SELECT field, note FROM import_gap WHERE run_id = $1', [runId]);
    return {
      ...base,
      outcome: 'unchanged',
      points: 0,
      requests: 0,
      gaps: sortGaps(
        gaps.map((g) => ({ field: String(g.field), note: String(g.note) })),
        catalog,
      ),
    };
  }

  const now = new Date().toISOString();
  const dims = {
    software: dimension(imported.software),
    hardware: dimension(imported.hardware),
    cluster: dimension(imported.cluster),
  };
  const price =
    options.costPerHourUsd ?? (imported.run.price_per_hour_usd as number | null | undefined) ?? null;
  const run: Columns = {
    ...imported.run,
    run_id: runId,
    source: imported.source,
    artifact_manifest_digest: digest,
    software_version_id: dims.software?.id ?? null,
    hardware_topology_id: dims.hardware?.id ?? null,
    cluster_region_id: dims.cluster?.id ?? null,
    price_per_hour_usd: price,
    ingested_at: now,
  };
  const outcomes = imported.outcomes.map((o) => ({
    benchmark_case_id: run.benchmark_case_id ?? null,
    ...o,
    ...costs(price, o),
    run_id: runId,
    artifact_manifest_digest: digest,
    ingested_at: now,
  }));
  const requests = (imported.requests ?? []).map((r) => ({ ...r, run_id: runId }));
  const training = (imported.training ?? []).map((t) => ({ ...t, run_id: runId, ingested_at: now }));
  const telemetry = (imported.telemetry ?? []).map((t) => ({ ...t, run_id: runId, ingested_at: now }));

  const gaps = sortGaps(
    findGaps(imported, catalog, {
      benchmark_run_fact: [run],
      serving_outcome_fact: outcomes,
      request_fact: requests,
      training_outcome_fact: training,
      telemetry_slice_fact: telemetry,
    }),
    catalog,
  );

  await warehouse.transaction(async () => {
    for (const [table, key, dim] of [
      ['software_version_dim', 'software_version_id', dims.software],
      ['hardware_topology_dim', 'hardware_topology_id', dims.hardware],
      ['cluster_region_dim', 'cluster_region_id', dims.cluster],
    ] as const) {
      if (dim) await insertIgnore(warehouse, table, { [key]: dim.id, ...dim.columns });
    }
    for (const workload of imported.workloads ?? []) await insertIgnore(warehouse, 'workload_dim', workload);
    await insertRow(warehouse, 'benchmark_run_fact', run);
    await insertMany(warehouse, catalog, 'serving_outcome_fact', outcomes);
    await bulkInsert(warehouse, catalog, 'request_fact', requests);
    await insertMany(warehouse, catalog, 'training_outcome_fact', training);
    await insertMany(warehouse, catalog, 'telemetry_slice_fact', telemetry);
    await insertMany(
      warehouse,
      catalog,
      'run_artifact',
      files.map((f) => ({ run_id: runId, ...f })),
    );
    // started_at where the table keeps it: retention ages raw evidence by it.
    const withStart = columnsOf(catalog, 'artifact_lineage_dim').some((c) => c.name === 'started_at');
    await warehouse.run(
      `INSERT INTO artifact_lineage_dim (run_id, artifact_manifest_digest, raw_uris, signing_state${withStart ? ', started_at' : ''})
       VALUES ($1, $2, [${sqlString(imported.root)}]::VARCHAR[], 'unsigned'${withStart ? ', $3::TIMESTAMPTZ' : ''})`,
      withStart ? [runId, digest, (run.started_at as string | null) ?? null] : [runId, digest],
    );
    await insertMany(
      warehouse,
      catalog,
      'import_gap',
      gaps.map((g) => ({ run_id: runId, source: imported.source, field: g.field, note: g.note })),
    );
  });
  return {
    ...base,
    outcome: 'imported',
    points: outcomes.length + training.length,
    requests: requests.length,
    gaps,
  };
}

/** Whether a run's stored artifacts are these files' bytes (under other names, perhaps). */
async function sameBytes(warehouse: Warehouse, runId: string, files: InputFile[]): Promise<boolean> {
  const stored = await warehouse.all('SELECT sha256 FROM run_artifact WHERE run_id = $1', [runId]);
  const a = stored.map((r) => String(r.sha256)).sort();
  const b = files.map((f) => f.sha256).sort();
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `import-` and the first 32 hex digits of the file's sha256 (one file) or of the manifest digest (a folder). */
function derivedRunId(files: InputFile[], manifestDigest: string): string {
  const digest = files.length === 1 ? (files[0] as InputFile).sha256 : manifestDigest;
  return `import-${digest.replace(/^sha256:/, '').slice(0, 32)}`;
}

function dimension(columns: Columns | null | undefined): { id: string; columns: Columns } | null {
  if (!columns) return null;
  const known = Object.fromEntries(Object.entries(columns).filter(([, v]) => v !== null && v !== undefined));
  return Object.keys(known).length === 0 ? null : { id: digestOf(known), columns: known };
}

/** Costs from the hourly price (the formula ingest uses), where the input did not give them. */
function costs(price: number | null, o: Columns): Columns {
  const computed = servingCosts(price, o as CostThroughputs);
  return {
    cost_per_request_usd: o.cost_per_request_usd ?? computed.cost_per_request_usd,
    cost_per_million_input_tokens_usd:
      o.cost_per_million_input_tokens_usd ?? computed.cost_per_million_input_tokens_usd,
    cost_per_million_output_tokens_usd:
      o.cost_per_million_output_tokens_usd ?? computed.cost_per_million_output_tokens_usd,
  };
}

/** The canonical fields left empty in every row of a table the input fills. */
function findGaps(imported: ImportedRun, catalog: Catalog, rows: Record<string, Columns[]>): ImportGap[] {
  const notApplicable = new Set(imported.notApplicable ?? []);
  const note = (field: string): string => noteFor(imported, field);
  const gaps: ImportGap[] = [];
  const serving = (rows.serving_outcome_fact ?? []).length > 0;
  for (const table of GAP_TABLES) {
    const tableRows = rows[table] ?? [];
    if (table === 'request_fact' && serving && tableRows.length === 0) {
      gaps.push({ field: 'request_fact', note: note('request_fact') });
      continue;
    }
    if (tableRows.length === 0) continue;
    for (const column of columnsOf(catalog, table)) {
      const field = `${table}.${column.name}`;
      if (ALWAYS_SET.has(column.name) || notApplicable.has(field)) continue;
      if (tableRows.every((row) => row[column.name] === null || row[column.name] === undefined))
        gaps.push({ field, note: note(field) });
    }
  }
  return gaps;
}

function noteFor(imported: ImportedRun, field: string): string {
  const notes = { ...COMMON_NOTES, ...imported.notes };
  if (notes[field]) return notes[field];
  let best: string | null = null;
  for (const key of Object.keys(notes)) {
    if (
      key.endsWith('*') &&
      field.startsWith(key.slice(0, -1)) &&
      (best === null || key.length > best.length)
    )
      best = key;
  }
  if (best !== null) return notes[best] as string;
  if (field === 'request_fact') return 'the input holds no per-request data';
  const what = { vllm: "vLLM's result", 'genai-bench': 'the genai-bench experiment', generic: 'the input' };
  return `${what[imported.source]} has no value for it`;
}

/** Gaps in table order, then column order. */
function sortGaps(gaps: ImportGap[], catalog: Catalog): ImportGap[] {
  const rank = (field: string): [number, number] => {
    const [table = '', column] = field.split('.');
    const t = (GAP_TABLES as readonly string[]).indexOf(table);
    const c = column === undefined ? -1 : (catalog.get(table) ?? []).findIndex((x) => x.name === column);
    return [t < 0 ? GAP_TABLES.length : t, c];
  };
  return [...gaps].sort((a, b) => {
    const [ta, ca] = rank(a.field);
    const [tb, cb] = rank(b.field);
    return ta - tb || ca - cb || (a.field < b.field ? -1 : a.field > b.field ? 1 : 0);
  });
}

// ---- Reading inputs ----

/** The file or folder at `path`, or an error that says it is not there. */
export async function statInput(path: string): Promise<{ absolute: string; isDirectory: boolean }> {
  const absolute = resolve(path);
  const info = await stat(absolute).catch(() => null);
  if (info === null)
    throw new InfermarkError('E_NO_INPUT', `${path}: no such file or folder`, ExitCode.badInput);
  return { absolute, isDirectory: info.isDirectory() };
}

/** A file's bytes as text, with its run_artifact row (`path` relative to the lineage folder). */
export async function readInputFile(
  absolute: string,
  relativePath: string,
): Promise<{ text: string; file: InputFile }> {
  const bytes = await readFile(absolute).catch((error: NodeJS.ErrnoException) => {
    throw new InfermarkError(
      'E_NO_INPUT',
      `${absolute}: cannot read (${error.code ?? error.message})`,
      ExitCode.badInput,
    );
  });
  return {
    text: bytes.toString('utf8'),
    file: { path: relativePath, size_bytes: bytes.length, sha256: sha256(bytes) },
  };
}

/** An input that is not what the importer reads: exit 2, with what was expected. */
export function badInput(file: string, message: string): InfermarkError {
  return new InfermarkError('E_BAD_INPUT', `${file}: ${message}`, ExitCode.badInput);
}

/**
 * JSON as Python's json module writes it: `NaN`, `Infinity` and `-Infinity`
 * (not JSON, but what json.dump emits for such floats) are read as null.
 */
export function parsePythonJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (/NaN|Infinity/.test(text)) {
      try {
        return JSON.parse(replaceNonFinite(text));
      } catch {
        // Reported below with the original message.
      }
    }
    throw badInput(file, `not valid JSON (${(error as Error).message})`);
  }
}

/** `NaN`, `Infinity`, `-Infinity` outside strings → `null`. */
function replaceNonFinite(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const rest = text.slice(i, i + 9);
    const token = rest.startsWith('-Infinity')
      ? '-Infinity'
      : rest.startsWith('Infinity')
        ? 'Infinity'
        : rest.startsWith('NaN')
          ? 'NaN'
          : null;
    if (token) {
      out += 'null';
      i += token.length - 1;
    } else out += ch;
  }
  return out;
}

/** Seconds to milliseconds, keeping null. */
export function ms(seconds: number | null | undefined, factor = 1000): number | null {
  return seconds === null || seconds === undefined ? null : seconds * factor;
}

/** A `YYYYMMDD-HHMMSS`/`YYYYMMDD_HHMMSS` stamp (no zone recorded: read as UTC), as a Date. */
export function compactStamp(text: string): Date | null {
  const m = /(\d{4})(\d{2})(\d{2})[-_](\d{2})(\d{2})(\d{2})/.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const date = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? null : date;
}
