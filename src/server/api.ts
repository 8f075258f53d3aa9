/**
 * The dashboard's REST API over the warehouse: the run list (filtered,
 * paginated), one run, two runs compared, the lineage of a number, and the
 * contracts (metric definitions, canonical table schemas). Every input is
 * checked against an allowlist before it reaches a query, and reaches it only
 * as a bound parameter; a bad one is an ApiError with a 4xx status.
 */
import { InfermarkError } from '../base/errors.js';
import { diagnose } from '../diagnose/diagnose.js';
import type { Diagnosis } from '../diagnose/diagnosis.js';
import { registryEntries, type RegistryEntry } from '../metrics/definitions.js';
import { traceLineage, type LineageReport } from '../warehouse/lineage.js';
import { CANONICAL_TABLES } from '../warehouse/migrations.js';
import { COMPARED, compareRuns, resolveRunId, runListColumns, showRun } from '../warehouse/queries.js';
import { type Warehouse } from '../warehouse/warehouse.js';
import { sqlString, type Row } from '../warehouse/sql.js';

/** An error the client caused (or a real internal one, 500); rendered as `{error: {code, message}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Warehouse error codes → HTTP statuses; an InfermarkError not listed is a 500. */
const STATUS_OF_CODE: Record<string, number> = {
  E_BAD_RUN_ID: 400,
  E_AMBIGUOUS_RUN: 400,
  E_NO_RUN: 404,
  E_NO_GROUP: 404,
  E_NO_QUERY: 404,
  E_NO_ROW: 404,
  E_NO_ITERATION: 404,
  E_NO_COLUMN: 400,
  E_NO_LINEAGE: 400,
  E_WAREHOUSE_BUSY: 503,
  E_NO_WAREHOUSE: 503,
  // Not 503: waiting will not mend a damaged file; the message says what to do.
  E_WAREHOUSE_CORRUPT: 500,
};

/** An ApiError for anything thrown by a handler; unknown errors become a 500 without detail. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof InfermarkError && STATUS_OF_CODE[error.code] !== undefined) {
    return new ApiError(STATUS_OF_CODE[error.code] as number, error.code, error.message);
  }
  return new ApiError(500, 'E_INTERNAL', 'internal error (see the server log)');
}

const bad = (code: string, message: string): ApiError => new ApiError(400, code, message);

/** Shown back in messages: bounded and without control characters. */
function shown(text: string): string {
  const clean = text.replace(/\p{Cc}/gu, '?');
  return JSON.stringify(clean.length > 64 ? `${clean.slice(0, 61)}...` : clean);
}

/** Filter values: the characters of model, engine, GPU and scenario names, nothing a query language needs. */
const FILTER_VALUE = /^[\p{L}\p{N} ._:/@+(),-]{1,200}$/u;
const RUN_ID = /^[0-9a-zA-Z._:-]{4,80}$/;
const NAME = /^[a-z][a-z0-9_]{0,63}$/;
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 50;

export interface RunFilters {
  model?: string;
  engine?: string;
  gpu?: string;
  scenario?: string;
  /** ISO timestamps, inclusive. */
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

const RUN_FILTER_KEYS = ['model', 'engine', 'gpu', 'scenario', 'from', 'to', 'limit', 'offset'] as const;

function only(params: URLSearchParams, allowed: readonly string[]): void {
  for (const key of new Set(params.keys())) {
    if (key === 'token') continue;
    if (!allowed.includes(key)) {
      throw bad('E_BAD_PARAM', `unknown parameter ${shown(key)} (expected: ${allowed.join(', ')})`);
    }
  }
  for (const key of allowed) {
    if (params.getAll(key).length > 1) throw bad('E_BAD_PARAM', `parameter ${key} given more than once`);
  }
}

function wholeNumber(name: string, text: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw bad('E_BAD_PARAM', `${name} ${shown(text)}: expected a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

function date(name: 'from' | 'to', text: string): string {
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const parsed = DATE.test(text) ? Date.parse(dayOnly ? `${text}T00:00:00Z` : text) : Number.NaN;
  // Date.parse rolls 2024-02-30 over to March: the day must exist.
  const day = text.slice(0, 10);
  const real =
    Number.isFinite(Date.parse(`${day}T00:00:00Z`)) &&
    new Date(`${day}T00:00:00Z`).toISOString().startsWith(day);
  if (!Number.isFinite(parsed) || !real) {
    throw bad('E_BAD_DATE', `${name} ${shown(text)}: expected a date (YYYY-MM-DD) or an ISO 8601 time`);
  }
  // A bare day as `to` means the whole of that day.
  const at = dayOnly && name === 'to' ? parsed + 86_400_000 - 1 : parsed;
  return new Date(at).toISOString();
}

/** The run-list filters from a query string; every problem is a 400. */
export function parseRunFilters(params: URLSearchParams): RunFilters {
  only(params, RUN_FILTER_KEYS);
  const filters: RunFilters = { limit: DEFAULT_PAGE, offset: 0 };
  for (const key of ['model', 'engine', 'gpu', 'scenario'] as const) {
    const value = params.get(key);
    if (value === null || value === '') continue;
    if (!FILTER_VALUE.test(value)) {
      throw bad(
        'E_BAD_FILTER',
        `${key} ${shown(value)}: expected up to 200 letters, digits, spaces and . _ : / @ + ( ) , -`,
      );
    }
    filters[key] = value;
  }
  for (const key of ['from', 'to'] as const) {
    const value = params.get(key);
    if (value !== null && value !== '') filters[key] = date(key, value);
  }
  if (filters.from && filters.to && filters.from > filters.to) {
    throw bad('E_BAD_DATE', 'from is after to');
  }
  const limit = params.get('limit');
  if (limit !== null && limit !== '') filters.limit = wholeNumber('limit', limit, 1, MAX_PAGE);
  const offset = params.get('offset');
  if (offset !== null && offset !== '') filters.offset = wholeNumber('offset', offset, 0, 100_000_000);
  return filters;
}

export interface RunPage {
  runs: Row[];
  total: number;
  limit: number;
  offset: number;
}

const FILTER_SQL = `($1::VARCHAR IS NULL OR r.model = $1) AND ($2::VARCHAR IS NULL OR r.engine = $2)
  AND ($3::VARCHAR IS NULL OR r.gpu_type = $3)
  AND ($4::VARCHAR IS NULL OR EXISTS (SELECT 1 FROM serving_outcome_fact s WHERE s.run_id = r.run_id AND s.scenario = $4))
  AND ($5::TIMESTAMPTZ IS NULL OR r.started_at >= $5::TIMESTAMPTZ)
  AND ($6::TIMESTAMPTZ IS NULL OR r.started_at <= $6::TIMESTAMPTZ)`;

/** One page of the run list, newest first: LIMIT/OFFSET in the query, scenarios only for the page's runs. */
export async function listRunPage(warehouse: Warehouse, filters: RunFilters): Promise<RunPage> {
  const params = [
    filters.model ?? null,
    filters.engine ?? null,
    filters.gpu ?? null,
    filters.scenario ?? null,
    filters.from ?? null,
    filters.to ?? null,
  ];
  const page = await warehouse.json(
    `WITH page AS (
       SELECT r.run_id, r.run_group_id, ${runListColumns('r')}
       FROM benchmark_run_fact r
       WHERE ${FILTER_SQL}
       ORDER BY r.started_at DESC NULLS LAST, r.run_id DESC
       LIMIT $7 OFFSET $8)
     SELECT page.*, (SELECT string_agg(DISTINCT s.scenario, ' ' ORDER BY s.scenario) FROM serving_outcome_fact s
       WHERE s.run_id = page.run_id) AS scenarios
     FROM page ORDER BY started_at DESC NULLS LAST, run_id DESC`,
    [...params, filters.limit, filters.offset],
  );
  const total = await warehouse.json(
    `SELECT count(*)::INTEGER AS n FROM benchmark_run_fact r WHERE ${FILTER_SQL}`,
    params,
  );
  return {
    runs: page.rows,
    total: Number(total.rows[0]?.n ?? 0),
    limit: filters.limit,
    offset: filters.offset,
  };
}

/** The distinct values a filter can take (for the run list's pickers). */
export async function filterChoices(warehouse: Warehouse): Promise<Record<string, string[]>> {
  const values = async (sql: string): Promise<string[]> =>
    (await warehouse.json(sql)).rows.map((r) => String(r.v));
  return {
    model: await values(
      'SELECT DISTINCT model AS v FROM benchmark_run_fact WHERE model IS NOT NULL ORDER BY 1 LIMIT 200',
    ),
    engine: await values(
      'SELECT DISTINCT engine AS v FROM benchmark_run_fact WHERE engine IS NOT NULL ORDER BY 1 LIMIT 200',
    ),
    gpu: await values(
      'SELECT DISTINCT gpu_type AS v FROM benchmark_run_fact WHERE gpu_type IS NOT NULL ORDER BY 1 LIMIT 200',
    ),
    scenario: await values(
      'SELECT DISTINCT scenario AS v FROM serving_outcome_fact WHERE scenario IS NOT NULL ORDER BY 1 LIMIT 200',
    ),
  };
}

/** A run id from a path segment or parameter: checked here so a bad one never reaches a query. */
export function parseRunId(name: string, text: string | null): string {
  if (text === null || text === '') throw bad('E_BAD_PARAM', `${name} is required (a run_id)`);
  if (!RUN_ID.test(text)) {
    throw bad(
      'E_BAD_RUN_ID',
      `${name} ${shown(text)}: expected a run_id or a prefix of at least 4 characters`,
    );
  }
  return text;
}

export interface RunDetail {
  run: Row;
  points: { columns: string[]; rows: Row[] };
  /** The other runs of its run group (repeats of the same job), oldest first. */
  group: Row[];
  artifacts: Row[];
}

export async function runDetail(warehouse: Warehouse, id: string): Promise<RunDetail> {
  const { run, points } = await showRun(warehouse, id);
  const group =
    typeof run.run_group_id === 'string'
      ? (
          await warehouse.json(
            'SELECT run_id, started_at, status FROM benchmark_run_fact WHERE run_group_id = $1 AND run_id <> $2 ORDER BY started_at, run_id',
            [run.run_group_id, run.run_id as string],
          )
        ).rows
      : [];
  const artifacts = (
    await warehouse.json(
      'SELECT path, size_bytes, sha256 FROM run_artifact WHERE run_id = $1 ORDER BY path',
      [run.run_id as string],
    )
  ).rows;
  return { run, points, group, artifacts };
}

export interface Comparison {
  a: Row;
  b: Row;
  columns: string[];
  rows: Row[];
}

const RUN_HEADLINE =
  'SELECT run_id, run_group_id, started_at, model, engine, engine_version, gpu_type, gpu_count, status FROM benchmark_run_fact WHERE run_id = $1';

export async function compare(warehouse: Warehouse, a: string, b: string): Promise<Comparison> {
  const [idA, idB] = [await resolveRunId(warehouse, a), await resolveRunId(warehouse, b)];
  const result = await compareRuns(warehouse, idA, idB);
  const headline = async (id: string): Promise<Row> =>
    (await warehouse.json(RUN_HEADLINE, [id])).rows[0] as Row;
  return { a: await headline(idA), b: await headline(idB), columns: result.columns, rows: result.rows };
}

/** What to compare: two runs (`a`, `b`) or two run groups (`ga`, `gb`), never a mix. */
export type ComparePair = { kind: 'runs'; a: string; b: string } | { kind: 'groups'; a: string; b: string };

export function parseCompare(params: URLSearchParams): ComparePair {
  only(params, ['a', 'b', 'ga', 'gb']);
  if (params.has('ga') || params.has('gb')) {
    if (params.has('a') || params.has('b'))
      throw bad('E_BAD_PARAM', 'give a and b (runs) or ga and gb (groups)');
    return { kind: 'groups', a: parseRunId('ga', params.get('ga')), b: parseRunId('gb', params.get('gb')) };
  }
  return { kind: 'runs', a: parseRunId('a', params.get('a')), b: parseRunId('b', params.get('b')) };
}

/** The metrics compared point by point: the same as `warehouse compare`. */
const GROUP_COMPARED = COMPARED;

async function groupHeadline(warehouse: Warehouse, label: string, id: string): Promise<Row> {
  const { rows } = await warehouse.json(
    `SELECT run_group_id, count(*)::INTEGER AS runs, list(run_id ORDER BY started_at, run_id) AS run_ids,
       min(started_at) AS started_at, any_value(model) AS model, any_value(engine) AS engine,
       any_value(engine_version) AS engine_version, any_value(gpu_type) AS gpu_type
     FROM benchmark_run_fact WHERE run_group_id = $1 GROUP BY run_group_id`,
    [id],
  );
  if (!rows[0])
    throw new ApiError(404, 'E_NO_GROUP', `${label}: no run group ${JSON.stringify(id)} in the warehouse`);
  return rows[0];
}

/**
 * Two run groups (repeats of a job) side by side: per point, the mean of each
 * metric over the group's runs, B's change relative to A in percent, and how
 * many runs each point has. The statistics belong to the gate; this is the view.
 */
export async function compareGroups(warehouse: Warehouse, a: string, b: string): Promise<Comparison> {
  const [headA, headB] = [await groupHeadline(warehouse, 'ga', a), await groupHeadline(warehouse, 'gb', b)];
  const means = GROUP_COMPARED.map((m) => `avg(o.${m}) AS ${m}`).join(', ');
  const metrics = GROUP_COMPARED.map(
    (m) =>
      `a.${m} AS ${m}_a, b.${m} AS ${m}_b, round(100.0 * (b.${m} - a.${m}) / nullif(a.${m}, 0), 2) AS ${m}_change_pct`,
  ).join(',\n       ');
  const side = (param: string): string =>
    `(SELECT o.scenario, o.mode, o.concurrency, o.rate_rps, count(*)::INTEGER AS runs, ${means}
      FROM serving_outcome_fact o JOIN benchmark_run_fact r USING (run_id) WHERE r.run_group_id = ${param}
      GROUP BY o.scenario, o.mode, o.concurrency, o.rate_rps)`;
  const result = await warehouse.json(
    `SELECT coalesce(a.scenario, b.scenario) AS scenario, coalesce(a.mode, b.mode) AS mode,
       coalesce(a.concurrency, b.concurrency) AS concurrency, coalesce(a.rate_rps, b.rate_rps) AS rate_rps,
       a.runs AS runs_a, b.runs AS runs_b,
       ${metrics}
     FROM ${side('$1')} a FULL OUTER JOIN ${side('$2')} b
       ON a.scenario = b.scenario AND a.mode = b.mode
      AND a.concurrency IS NOT DISTINCT FROM b.concurrency AND a.rate_rps IS NOT DISTINCT FROM b.rate_rps
     ORDER BY scenario, mode, concurrency, rate_rps`,
    [a, b],
  );
  return { a: headA, b: headB, columns: result.columns, rows: result.rows };
}

/** Runs or groups, as the pair says. */
export async function comparePair(warehouse: Warehouse, pair: ComparePair): Promise<Comparison> {
  return pair.kind === 'groups'
    ? compareGroups(warehouse, pair.a, pair.b)
    : compare(warehouse, pair.a, pair.b);
}

export interface LineageParams {
  query: string;
  column: string;
  run?: string;
  iteration?: number;
  row?: number;
}

export function parseLineage(params: URLSearchParams): LineageParams {
  only(params, ['query', 'column', 'run', 'iteration', 'row']);
  const name = (key: 'query' | 'column'): string => {
    const value = params.get(key);
    if (value === null || value === '') throw bad('E_BAD_PARAM', `${key} is required`);
    if (!NAME.test(value)) {
      throw bad('E_BAD_PARAM', `${key} ${shown(value)}: expected lowercase letters, digits and _`);
    }
    return value;
  };
  const out: LineageParams = { query: name('query'), column: name('column') };
  const run = params.get('run');
  if (run !== null) out.run = parseRunId('run', run);
  const iteration = params.get('iteration');
  if (iteration !== null) {
    if (out.run === undefined) throw bad('E_BAD_PARAM', 'iteration needs run');
    out.iteration = wholeNumber('iteration', iteration, 0, 1_000_000);
  }
  const row = params.get('row');
  if (row !== null) {
    if (out.run !== undefined) throw bad('E_BAD_PARAM', 'give run (and iteration) or row, not both');
    out.row = wholeNumber('row', row, 0, 100_000_000);
  }
  return out;
}

export async function lineage(warehouse: Warehouse, params: LineageParams): Promise<LineageReport> {
  return traceLineage(warehouse, {
    query: params.query,
    column: params.column,
    ...(params.run !== undefined ? { runId: params.run } : {}),
    ...(params.iteration !== undefined ? { iteration: params.iteration } : {}),
    ...(params.row !== undefined ? { row: params.row } : {}),
  });
}

export interface Contracts {
  /** The metric registry: request, iteration and point metrics, then the telemetry families (scope `telemetry`). */
  metrics: RegistryEntry[];
  tables: { name: string; columns: { name: string; type: string; nullable: boolean }[] }[];
  named_queries: Row[];
}

/** What a number means: the metric registry, the canonical tables' columns, and the named queries. */
export async function contracts(warehouse: Warehouse): Promise<Contracts> {
  const { rows } = await warehouse.json(
    `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
     WHERE table_schema = 'main' AND table_name IN (${CANONICAL_TABLES.map(sqlString).join(', ')})
     ORDER BY table_name, ordinal_position`,
  );
  const tables = CANONICAL_TABLES.map((name) => ({
    name,
    columns: rows
      .filter((r) => r.table_name === name)
      .map((r) => ({
        name: String(r.column_name),
        type: String(r.data_type),
        nullable: r.is_nullable === 'YES',
      })),
  }));
  const named = await warehouse.json(
    'SELECT name, description, query_spec_digest, sql FROM named_query ORDER BY name',
  );
  return { metrics: registryEntries(), tables, named_queries: named.rows };
}

export interface DiagnoseParams {
  run: string;
  vs?: string;
}

/** `?run=` (required) and `?vs=` (a baseline run), each a run id or unique prefix. */
export function parseDiagnose(params: URLSearchParams): DiagnoseParams {
  only(params, ['run', 'vs']);
  const out: DiagnoseParams = { run: parseRunId('run', params.get('run')) };
  const vs = params.get('vs');
  if (vs !== null) out.vs = parseRunId('vs', vs);
  return out;
}

/** The run diagnosed, against the baseline when given (both resolved from prefixes first). */
export async function diagnoseRuns(warehouse: Warehouse, params: DiagnoseParams): Promise<Diagnosis> {
  const runId = await resolveRunId(warehouse, params.run);
  const baselineRunId = params.vs === undefined ? undefined : await resolveRunId(warehouse, params.vs);
  return diagnose(warehouse, { runId, ...(baselineRunId !== undefined ? { baselineRunId } : {}) });
}
