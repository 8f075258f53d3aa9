/**
 * What people ask the warehouse: the run list, one run, two runs compared, and
 * named queries. A published number is defined by a named query (saved SQL with
 * its `query_spec_digest`), so the same name always means the same computation
 * and a number can be walked back through it (lineage.ts).
 */
import { ExitCode, InfermarkError } from '../base/errors.js';
import { digestOf } from '../base/digest.js';
import { COMPARED_COLUMNS } from '../metrics/definitions.js';
import type { Row, SqlHandle } from './sql.js';

export interface NamedQuery {
  name: string;
  description: string;
  sql: string;
  query_spec_digest: string;
}

/** The digest that pins a named query: its SQL, whitespace-normalized. */
export function querySpecDigest(sql: string): string {
  return digestOf({ sql: sql.trim().replace(/\s+/g, ' ') });
}

/** Named queries every warehouse has; each returns `run_id` (and `iteration` where rows are per point), so lineage can walk it. */
export const BUILTIN_QUERIES: Omit<NamedQuery, 'query_spec_digest'>[] = [
  {
    name: 'serving_points',
    description: 'Latency and throughput of every run at every scenario × concurrency/rate point',
    sql: `SELECT r.run_id, o.iteration, r.started_at, r.model, r.engine, r.gpu_type, o.scenario, o.mode, o.concurrency, o.rate_rps,
  o.requests_completed, o.error_rate, o.ttft_ms_p50, o.ttft_ms_p99, o.tpot_ms_p50, o.tpot_ms_p99, o.itl_ms_p99,
  o.e2e_latency_ms_p99, o.output_throughput_tokens_per_s, o.request_throughput_rps, o.goodput_rps
FROM serving_outcome_fact o JOIN benchmark_run_fact r USING (run_id)
ORDER BY r.started_at, o.iteration`,
  },
  {
    name: 'latest_by_case',
    description: "Each benchmark case's most recent run, per point",
    sql: `SELECT o.run_id, o.iteration, r.benchmark_case_id, r.started_at, o.scenario, o.concurrency, o.rate_rps,
  o.ttft_ms_p99, o.tpot_ms_p99, o.output_throughput_tokens_per_s, o.error_rate
FROM serving_outcome_fact o JOIN benchmark_run_fact r USING (run_id)
QUALIFY rank() OVER (PARTITION BY r.benchmark_case_id ORDER BY r.started_at DESC) = 1
ORDER BY r.benchmark_case_id, o.iteration`,
  },
];

/** Adds the built-in named queries that are missing (a user's query of the same name is kept). */
export async function seedNamedQueries(warehouse: SqlHandle): Promise<void> {
  for (const query of BUILTIN_QUERIES) {
    await warehouse.run('INSERT OR IGNORE INTO named_query VALUES ($1, $2, $3, $4, now())', [
      query.name,
      query.description,
      query.sql,
      querySpecDigest(query.sql),
    ]);
  }
}

export async function saveNamedQuery(
  warehouse: SqlHandle,
  name: string,
  sql: string,
  description = '',
): Promise<NamedQuery> {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) {
    throw new InfermarkError(
      'E_BAD_NAME',
      `query name "${name}": expected lowercase letters, digits and _`,
      ExitCode.badInput,
    );
  }
  const query = { name, description, sql, query_spec_digest: querySpecDigest(sql) };
  await warehouse.run('INSERT OR REPLACE INTO named_query VALUES ($1, $2, $3, $4, now())', [
    name,
    description,
    sql,
    query.query_spec_digest,
  ]);
  return query;
}

export async function namedQuery(warehouse: SqlHandle, name: string): Promise<NamedQuery> {
  const rows = await warehouse.all(
    'SELECT name, description, sql, query_spec_digest FROM named_query WHERE name = $1',
    [name],
  );
  const row = rows[0];
  if (!row) {
    const names = (await warehouse.all('SELECT name FROM named_query ORDER BY name')).map((r) =>
      String(r.name),
    );
    throw new InfermarkError(
      'E_NO_QUERY',
      `no named query "${name}" (there are: ${names.join(', ')})`,
      ExitCode.badInput,
    );
  }
  return row as unknown as NamedQuery;
}

/** What the run lists show of each run after its ids (`infermark warehouse runs`, the dashboard's run list). */
export const RUN_LIST_COLUMNS: readonly string[] = [
  'started_at',
  'source',
  'status',
  'intent',
  'model',
  'engine',
  'engine_version',
  'gpu_type',
  'gpu_count',
  'iterations_completed AS iterations',
];

/** RUN_LIST_COLUMNS as a select list, each qualified by the table alias when one is given. */
export function runListColumns(alias?: string): string {
  return RUN_LIST_COLUMNS.map((column) => (alias ? `${alias}.${column}` : column)).join(', ');
}

/** The run list, newest first, with optional filters. */
export async function listRuns(
  warehouse: SqlHandle,
  filters: { model?: string; engine?: string; gpu?: string; limit?: number } = {},
): Promise<{ columns: string[]; rows: Row[] }> {
  return warehouse.json(
    `SELECT run_id, ${runListColumns()}, benchmark_case_id
     FROM benchmark_run_fact
     WHERE ($1::VARCHAR IS NULL OR model = $1) AND ($2::VARCHAR IS NULL OR engine = $2) AND ($3::VARCHAR IS NULL OR gpu_type = $3)
     ORDER BY started_at DESC NULLS LAST, run_id DESC
     LIMIT $4`,
    [filters.model ?? null, filters.engine ?? null, filters.gpu ?? null, filters.limit ?? 1000],
  );
}

/** A run's facts and its outcome per point; throws when there is no such run. */
export async function showRun(
  warehouse: SqlHandle,
  runId: string,
): Promise<{ run: Row; points: { columns: string[]; rows: Row[] } }> {
  const run = (
    await warehouse.json('SELECT * FROM benchmark_run_fact WHERE run_id = $1', [
      await resolveRunId(warehouse, runId),
    ])
  ).rows[0] as Row;
  const points = await warehouse.json(
    `SELECT iteration, scenario, mode, concurrency, rate_rps, requests_completed, requests_errored, error_rate,
       ttft_ms_p50, ttft_ms_p99, tpot_ms_p50, tpot_ms_p99, itl_ms_p99, e2e_latency_ms_p99,
       output_throughput_tokens_per_s, request_throughput_rps, goodput_rps
     FROM serving_outcome_fact WHERE run_id = $1 ORDER BY iteration`,
    [run.run_id as string],
  );
  return { run, points };
}

/** Metrics compared point by point (same scenario, mode and concurrency or rate): the registry's. */
export const COMPARED = COMPARED_COLUMNS;

/** Two runs side by side: each point's metrics in A and B, and B's change relative to A in percent. */
export async function compareRuns(
  warehouse: SqlHandle,
  a: string,
  b: string,
): Promise<{ columns: string[]; rows: Row[] }> {
  const [runA, runB] = [await resolveRunId(warehouse, a), await resolveRunId(warehouse, b)];
  const metrics = COMPARED.map(
    (m) =>
      `a.${m} AS ${m}_a, b.${m} AS ${m}_b, round(100.0 * (b.${m} - a.${m}) / nullif(a.${m}, 0), 2) AS ${m}_change_pct`,
  ).join(',\n       ');
  return warehouse.json(
    `SELECT coalesce(a.scenario, b.scenario) AS scenario, coalesce(a.mode, b.mode) AS mode,
       coalesce(a.concurrency, b.concurrency) AS concurrency, coalesce(a.rate_rps, b.rate_rps) AS rate_rps,
       ${metrics}
     FROM (SELECT * FROM serving_outcome_fact WHERE run_id = $1) a
     FULL OUTER JOIN (SELECT * FROM serving_outcome_fact WHERE run_id = $2) b
       ON a.scenario = b.scenario AND a.mode = b.mode
      AND a.concurrency IS NOT DISTINCT FROM b.concurrency AND a.rate_rps IS NOT DISTINCT FROM b.rate_rps
     ORDER BY scenario, mode, concurrency, rate_rps`,
    [runA, runB],
  );
}

/** A full run_id, or a unique prefix of one (as git takes commits); a clear error otherwise. */
export async function resolveRunId(warehouse: SqlHandle, idOrPrefix: string): Promise<string> {
  if (!/^[0-9a-zA-Z._:-]{4,80}$/.test(idOrPrefix)) {
    throw new InfermarkError(
      'E_BAD_RUN_ID',
      `run id "${idOrPrefix.slice(0, 80)}": expected a run_id or a prefix of at least 4 characters`,
      ExitCode.badInput,
    );
  }
  const rows = await warehouse.all(
    'SELECT run_id FROM benchmark_run_fact WHERE starts_with(run_id, $1) ORDER BY run_id LIMIT 3',
    [idOrPrefix],
  );
  if (rows.length === 0)
    throw new InfermarkError('E_NO_RUN', `no run ${idOrPrefix} in the warehouse`, ExitCode.badInput);
  const exact = rows.find((r) => r.run_id === idOrPrefix);
  if (exact) return idOrPrefix;
  if (rows.length > 1) {
    throw new InfermarkError(
      'E_AMBIGUOUS_RUN',
      `run id prefix ${idOrPrefix} matches several runs: ${rows.map((r) => r.run_id).join(', ')}...`,
      ExitCode.badInput,
    );
  }
  return String(rows[0]?.run_id);
}
