/**
 * Retention in the tiers of performance-warehouse.md, aged from each run's
 * `benchmark_run_fact.started_at`:
 *
 *   hot  (30 d)   request-grain rows: request_fact, telemetry_slice_fact
 *   warm (180 d)  curated facts: benchmark_run_fact, serving_outcome_fact, slo_check_fact,
 *                 training_outcome_fact, import_gap, and dimension rows that only
 *                 the pruned runs referenced
 *   cold (730 d)  raw evidence: the local run folders in artifact_lineage_dim.raw_uris,
 *                 and with them the lineage rows that point at them
 *                 (artifact_lineage_dim, run_artifact)
 *
 * The lineage rows outlive the warm tier on purpose: they are how the cold tier
 * finds the raw folders later. A run whose fact row is gone is aged by the
 * `started_at` in its own folder's run.json; a run that cannot be dated is kept.
 *
 * Never pruned, in any tier: a run that something still references, i.e. that has
 * a `run_reference` row (a baseline, a named query, a user's pin) or whose run_id
 * appears literally in a named query's SQL. Raw folders are deleted only with
 * `deleteRaw`, only when local, only when the folder is named by the run_id and
 * holds that run's run.json; evidence in object stores is never deleted here (a
 * store's own lifecycle rules do that).
 */
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfermarkError, ValidationError, type ValidationIssue } from '../base/errors.js';
import { resolveRunId } from './queries.js';
import type { Warehouse } from './warehouse.js';
import type { Row } from './sql.js';

export type Tier = 'hot' | 'warm' | 'cold';

export interface RetentionPolicy {
  hotDays: number;
  warmDays: number;
  coldDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { hotDays: 30, warmDays: 180, coldDays: 730 };

/** The run-scoped tables each tier removes rows from, in deletion order. */
export const TIER_TABLES: Record<Tier, readonly string[]> = {
  hot: ['request_fact', 'telemetry_slice_fact'],
  warm: [
    'slo_check_fact',
    'serving_outcome_fact',
    'training_outcome_fact',
    'import_gap',
    'benchmark_run_fact',
  ],
  cold: ['run_artifact', 'artifact_lineage_dim'],
};

/** Dimension tables, the column that keys them, and where runs reference them. */
const DIMENSIONS: { table: string; key: string; refs: { table: string; column: string }[] }[] = [
  {
    table: 'software_version_dim',
    key: 'software_version_id',
    refs: [{ table: 'benchmark_run_fact', column: 'software_version_id' }],
  },
  {
    table: 'hardware_topology_dim',
    key: 'hardware_topology_id',
    refs: [{ table: 'benchmark_run_fact', column: 'hardware_topology_id' }],
  },
  {
    table: 'cluster_region_dim',
    key: 'cluster_region_id',
    refs: [{ table: 'benchmark_run_fact', column: 'cluster_region_id' }],
  },
  {
    table: 'workload_dim',
    key: 'workload_spec_digest',
    refs: [
      { table: 'benchmark_run_fact', column: 'workload_spec_digest' },
      { table: 'serving_outcome_fact', column: 'workload_spec_digest' },
    ],
  },
];

export interface RawFolder {
  run_id: string;
  path: string;
  /**
   * delete: safe to delete; missing: already gone; unsafe: not named by the run_id, or not its
   * run folder; kept: safe, but kept (with another of its run's folders, or deleting it failed).
   */
  state: 'delete' | 'missing' | 'unsafe' | 'kept';
  why?: string;
  bytes: number;
}

export interface TierPlan {
  tier: Tier;
  days: number;
  /** Runs that started before this are past the tier. */
  cutoff: string;
  runs: string[];
  /** Rows that go, per table. */
  rows: Record<string, number>;
  /** Cold tier: the local raw folders of its runs. */
  folders: RawFolder[];
  /** What happens: `delete`, or `keep` (the cold tier without deleteRaw). */
  action: 'delete' | 'keep';
}

export interface PruneReport {
  now: string;
  policy: RetentionPolicy;
  dry_run: boolean;
  delete_raw: boolean;
  /** Whether anything was changed. */
  applied: boolean;
  tiers: TierPlan[];
  /** Runs past a tier but kept because something references them. */
  referenced: { run_id: string; references: string[] }[];
  /** Runs with lineage but no start time anywhere: kept, as their age is unknown. */
  undated: string[];
  /** Raw evidence in object stores, never deleted here. */
  remote: { run_id: string; uri: string }[];
}

export interface PruneOptions {
  policy?: RetentionPolicy;
  dryRun?: boolean;
  /** Delete the cold tier's local raw folders (and their lineage rows). */
  deleteRaw?: boolean;
  /** The time ages are measured to (tests move it). */
  now?: Date;
}

/** Checks the policy: every tier positive, hot ≤ warm ≤ cold (a fact row must outlive the rows aged by it). */
export function validatePolicy(policy: RetentionPolicy): void {
  const issues: ValidationIssue[] = [];
  for (const [flag, value] of [
    ['--hot-days', policy.hotDays],
    ['--warm-days', policy.warmDays],
    ['--cold-days', policy.coldDays],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0)
      issues.push({ path: flag, value, message: 'expected a positive number of days' });
  }
  if (policy.hotDays > policy.warmDays)
    issues.push({
      path: '--hot-days',
      value: policy.hotDays,
      message: `must be ≤ --warm-days (${policy.warmDays}): request rows are aged by the run fact the warm tier removes`,
    });
  if (policy.warmDays > policy.coldDays)
    issues.push({
      path: '--warm-days',
      value: policy.warmDays,
      message: `must be ≤ --cold-days (${policy.coldDays})`,
    });
  if (issues.length > 0) throw new ValidationError(issues);
}

/** Plans what each tier removes, and unless `dryRun`, removes it: `planPrune`, then `applyPrune`. */
export async function prune(warehouse: Warehouse, options: PruneOptions = {}): Promise<PruneReport> {
  const plan = await planPrune(warehouse, options);
  return options.dryRun === true ? plan : applyPrune(warehouse, plan);
}

/**
 * What each tier would remove, read from the warehouse and the raw folders; changes
 * nothing. The report of a dry run (`dry_run`, not `applied`), and what `applyPrune` takes.
 */
export async function planPrune(warehouse: Warehouse, options: PruneOptions = {}): Promise<PruneReport> {
  const policy = options.policy ?? DEFAULT_RETENTION;
  validatePolicy(policy);
  const now = options.now ?? new Date();
  const deleteRaw = options.deleteRaw === true;
  const cutoff = (days: number): Date => new Date(now.getTime() - days * 86_400_000);
  const [hotCut, warmCut, coldCut] = [
    cutoff(policy.hotDays),
    cutoff(policy.warmDays),
    cutoff(policy.coldDays),
  ];

  const facts = await warehouse.all('SELECT run_id, started_at FROM benchmark_run_fact');
  const startedAt = new Map(facts.map((r) => [String(r.run_id), toDate(r.started_at)]));
  const olderThan = (date: Date): string[] =>
    [...startedAt]
      .filter(([, started]) => started !== null && started < date)
      .map(([id]) => id)
      .sort();
  const protection = await protectionOf(warehouse);

  // Hot: runs past the hot tier that still have request-grain rows.
  const withHotRows = new Set(
    (
      await warehouse.all(`SELECT run_id FROM request_fact UNION SELECT run_id FROM telemetry_slice_fact`)
    ).map((r) => String(r.run_id)),
  );
  const hotRuns = protection.unreferenced(olderThan(hotCut).filter((id) => withHotRows.has(id)));
  const warmRuns = protection.unreferenced(olderThan(warmCut));
  const cold = await planCold(warehouse, startedAt, coldCut, protection.unreferenced);

  const tiers: TierPlan[] = [
    {
      tier: 'hot',
      days: policy.hotDays,
      cutoff: hotCut.toISOString(),
      runs: hotRuns,
      rows: await countRows(warehouse, rowsOfRuns(TIER_TABLES.hot), hotRuns),
      folders: [],
      action: 'delete',
    },
    {
      tier: 'warm',
      days: policy.warmDays,
      cutoff: warmCut.toISOString(),
      runs: warmRuns,
      rows: await countRows(warehouse, [...rowsOfRuns(TIER_TABLES.warm), ...ORPHANED_DIMENSIONS], warmRuns),
      folders: [],
      action: 'delete',
    },
    {
      tier: 'cold',
      days: policy.coldDays,
      cutoff: coldCut.toISOString(),
      runs: cold.runs,
      rows: await countRows(warehouse, rowsOfRuns(TIER_TABLES.cold), cold.runs),
      folders: cold.folders,
      action: deleteRaw ? 'delete' : 'keep',
    },
  ];
  return {
    now: now.toISOString(),
    policy,
    dry_run: true,
    delete_raw: deleteRaw,
    applied: false,
    tiers,
    referenced: protection.referenced(),
    undated: cold.undated,
    remote: cold.remote,
  };
}

/**
 * Removes what a plan names: the hot and warm rows in one transaction, then, with
 * `delete_raw`, the cold tier's raw folders and the lineage rows of the runs whose
 * folders all went. The report says what was done (a folder that could not be
 * deleted is `kept`, and its run stays); the plan itself is left as it was.
 */
export async function applyPrune(warehouse: Warehouse, plan: PruneReport): Promise<PruneReport> {
  const report: PruneReport = { ...structuredClone(plan), dry_run: false };
  const tier = (name: Tier): TierPlan => report.tiers.find((t) => t.tier === name) as TierPlan;
  const [hot, warm] = [tier('hot'), tier('warm')];
  await warehouse.transaction(async () => {
    await deleteRows(warehouse, rowsOfRuns(TIER_TABLES.hot), hot.runs);
    // Dimensions first: which are orphaned is decided while the pruned runs' rows still say what they used.
    await deleteRows(warehouse, ORPHANED_DIMENSIONS, warm.runs);
    await deleteRows(warehouse, rowsOfRuns(TIER_TABLES.warm), warm.runs);
  });
  if (report.delete_raw) await deleteRawEvidence(warehouse, tier('cold'));
  await warehouse.run('CHECKPOINT');
  report.applied = true;
  return report;
}

/**
 * The cold tier's plan: runs with lineage past its cutoff, dated by their fact row, else
 * by their own run.json (undated ones are kept); their local folders, each inspected, and
 * their copies in object stores (never deleted here). A run's evidence goes whole or not
 * at all: one folder that is unsafe to delete keeps the others and the lineage.
 */
async function planCold(
  warehouse: Warehouse,
  startedAt: ReadonlyMap<string, Date | null>,
  coldCut: Date,
  unreferenced: (runIds: string[]) => string[],
): Promise<{ runs: string[]; folders: RawFolder[]; remote: PruneReport['remote']; undated: string[] }> {
  const lineage = await warehouse.all('SELECT run_id, raw_uris FROM artifact_lineage_dim ORDER BY run_id');
  const undated: string[] = [];
  const candidates: { runId: string; uris: string[] }[] = [];
  for (const row of lineage) {
    const runId = String(row.run_id);
    const uris = (row.raw_uris as string[] | null) ?? [];
    const started = startedAt.get(runId) ?? (await startedFromFolders(runId, uris));
    if (started === null || started === undefined) {
      undated.push(runId);
      continue;
    }
    if (started < coldCut) candidates.push({ runId, uris });
  }
  const kept = new Set(unreferenced(candidates.map((c) => c.runId)));
  const folders: RawFolder[] = [];
  const remote: PruneReport['remote'] = [];
  for (const { runId, uris } of candidates.filter((c) => kept.has(c.runId))) {
    for (const uri of uris) {
      const path = localPathOf(uri);
      if (path === null) remote.push({ run_id: runId, uri });
      else folders.push(await inspectFolder(runId, path));
    }
  }
  const runs = [...kept].filter((id) => folders.every((f) => f.run_id !== id || f.state !== 'unsafe'));
  for (const folder of folders) {
    if (folder.state === 'delete' && !runs.includes(folder.run_id)) {
      folder.state = 'kept';
      folder.why = 'another folder of this run cannot be deleted safely';
    }
  }
  return { runs, folders, remote, undated: undated.sort() };
}

/**
 * Deletes the cold tier's safe folders run by run, then the lineage rows of the runs
 * whose folders all went; a folder that fails is marked `kept`, and the tier's runs and
 * rows are counted again without its run.
 */
async function deleteRawEvidence(warehouse: Warehouse, cold: TierPlan): Promise<void> {
  const gone = new Set<string>();
  for (const runId of cold.runs) {
    let ok = true;
    for (const folder of cold.folders.filter((f) => f.run_id === runId && f.state === 'delete')) {
      try {
        await rm(folder.path, { recursive: true });
      } catch (error) {
        ok = false;
        folder.state = 'kept';
        folder.why = `could not delete it: ${(error as Error).message}`;
      }
    }
    if (ok) gone.add(runId);
  }
  if (gone.size !== cold.runs.length) {
    cold.runs = [...gone].sort();
    cold.rows = await countRows(warehouse, rowsOfRuns(TIER_TABLES.cold), cold.runs);
  }
  await warehouse.transaction(() => deleteRows(warehouse, rowsOfRuns(TIER_TABLES.cold), [...gone]));
}

/**
 * What protects runs from pruning: `unreferenced` keeps the runs nothing references
 * and remembers the others, which `referenced` lists by run_id.
 */
async function protectionOf(warehouse: Warehouse): Promise<{
  unreferenced: (runIds: string[]) => string[];
  referenced: () => PruneReport['referenced'];
}> {
  const references = await referencesOf(warehouse);
  const referenced = new Map<string, string[]>();
  return {
    unreferenced: (runIds) =>
      runIds.filter((id) => {
        const refs = references(id);
        if (refs.length > 0) referenced.set(id, refs);
        return refs.length === 0;
      }),
    referenced: () =>
      [...referenced]
        .map(([run_id, refs]) => ({ run_id, references: refs }))
        .sort((a, b) => a.run_id.localeCompare(b.run_id)),
  };
}

/** A function giving the references that protect a run: run_reference rows and named queries naming it. */
async function referencesOf(warehouse: Warehouse): Promise<(runId: string) => string[]> {
  const refs = await warehouse.all(
    'SELECT run_id, kind, referrer FROM run_reference ORDER BY kind, referrer',
  );
  const byRun = new Map<string, string[]>();
  for (const r of refs) {
    const id = String(r.run_id);
    byRun.set(id, [...(byRun.get(id) ?? []), `${String(r.kind)}: ${String(r.referrer)}`]);
  }
  const queries = await warehouse.all('SELECT name, sql FROM named_query ORDER BY name');
  return (runId) => [
    ...(byRun.get(runId) ?? []),
    ...queries.filter((q) => String(q.sql).includes(runId)).map((q) => `named_query sql: ${String(q.name)}`),
  ];
}

/** A local path from a raw URI (an absolute path or file://), else null (an object store). */
export function localPathOf(uri: string): string | null {
  if (uri.startsWith('file://')) {
    try {
      return fileURLToPath(uri);
    } catch {
      return null;
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return null;
  return isAbsolute(uri) ? uri : null;
}

/** Only a real folder named by the run_id that holds that run's run.json is deleted. */
async function inspectFolder(runId: string, path: string): Promise<RawFolder> {
  const folder = path.replace(/[\\/]+$/, '');
  const base = { run_id: runId, path: folder, bytes: 0 };
  if (basename(folder) !== runId)
    return { ...base, state: 'unsafe', why: 'the folder is not named by the run_id' };
  const stat = await lstat(folder).catch(() => null);
  if (stat === null) return { ...base, state: 'missing' };
  if (!stat.isDirectory()) return { ...base, state: 'unsafe', why: 'not a folder (or a symbolic link)' };
  const ownRunId = await readFile(join(folder, 'run.json'), 'utf8')
    .then((text) => (JSON.parse(text) as { run_id?: unknown }).run_id)
    .catch(() => undefined);
  if (ownRunId !== runId) return { ...base, state: 'unsafe', why: `its run.json is not run ${runId}'s` };
  return { ...base, state: 'delete', bytes: await folderBytes(folder) };
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await lstat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** The started_at recorded in the first local raw folder's run.json that has one. */
async function startedFromFolders(runId: string, uris: string[]): Promise<Date | null> {
  for (const uri of uris) {
    const path = localPathOf(uri);
    if (path === null) continue;
    try {
      const run = JSON.parse(await readFile(join(path, 'run.json'), 'utf8')) as {
        run_id?: unknown;
        started_at?: unknown;
      };
      if (run.run_id !== runId) continue;
      const started = toDate(run.started_at);
      if (started !== null) return started;
    } catch {
      // Not there or not readable: try the next copy.
    }
  }
  return null;
}

function toDate(value: unknown): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value === 'string') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }
  return null;
}

/** The run ids as one bound parameter (a JSON list; DuckDB turns it into a set to join). */
const IN_RUNS = `run_id IN (SELECT unnest(from_json($1, '["VARCHAR"]')))`;

/** Rows a tier removes: in `table`, those `where` holds for the runs bound as $1 (IN_RUNS form). */
interface TierRows {
  table: string;
  where: string;
}

/** A run-scoped table's rows of the runs. */
const rowsOfRuns = (tables: readonly string[]): TierRows[] =>
  tables.map((table) => ({ table, where: IN_RUNS }));

/** SQL for the keys of `dim` that the pruned runs reference and no other run does. */
function orphanedKeys(dim: (typeof DIMENSIONS)[number]): string {
  const used = (pruned: boolean): string =>
    dim.refs
      .map(
        (ref) =>
          `SELECT ${ref.column} AS k FROM ${ref.table} WHERE ${ref.column} IS NOT NULL AND ${pruned ? '' : 'NOT '}${IN_RUNS}`,
      )
      .join(' UNION ');
  return `SELECT k FROM (${used(true)}) EXCEPT SELECT k FROM (${used(false)})`;
}

/** Dimension rows that only the runs reference (decided while their fact rows are still there). */
const ORPHANED_DIMENSIONS: readonly TierRows[] = DIMENSIONS.map((dim) => ({
  table: dim.table,
  where: `${dim.key} IN (${orphanedKeys(dim)})`,
}));

/** How many rows each table would lose. */
async function countRows(
  warehouse: Warehouse,
  targets: readonly TierRows[],
  runIds: string[],
): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  for (const { table, where } of targets) {
    const result =
      runIds.length === 0
        ? [{ n: 0 }]
        : await warehouse.all(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, [JSON.stringify(runIds)]);
    rows[table] = Number(result[0]?.n ?? 0);
  }
  return rows;
}

async function deleteRows(
  warehouse: Warehouse,
  targets: readonly TierRows[],
  runIds: string[],
): Promise<void> {
  if (runIds.length === 0) return;
  for (const { table, where } of targets) {
    await warehouse.run(`DELETE FROM ${table} WHERE ${where}`, [JSON.stringify(runIds)]);
  }
}

/** Resolves a run the warehouse knows: a run_id or unique prefix of a run fact, else an exact id with lineage. */
async function knownRun(warehouse: Warehouse, idOrPrefix: string): Promise<string> {
  try {
    return await resolveRunId(warehouse, idOrPrefix);
  } catch (error) {
    if (!(error instanceof InfermarkError) || error.code !== 'E_NO_RUN') throw error;
    // A run past the warm tier keeps its lineage (and raw evidence) until the cold tier: it can still be pinned.
    const rows = await warehouse.all(
      'SELECT run_id FROM artifact_lineage_dim WHERE run_id = $1 UNION SELECT run_id FROM run_reference WHERE run_id = $1',
      [idOrPrefix],
    );
    if (rows.length > 0) return idOrPrefix;
    throw error;
  }
}

export type RunReference = {
  run_id: string;
  kind: string;
  referrer: string;
  added_at: string;
};

/** Every reference to a run, oldest first. */
export async function referencesTo(warehouse: Warehouse, runId: string): Promise<RunReference[]> {
  const rows: Row[] = await warehouse.all(
    `SELECT run_id, kind, referrer, strftime(added_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS added_at
     FROM run_reference WHERE run_id = $1 ORDER BY added_at, kind, referrer`,
    [runId],
  );
  return rows.map((r) => ({
    run_id: String(r.run_id),
    kind: String(r.kind),
    referrer: String(r.referrer),
    added_at: String(r.added_at),
  }));
}

/**
 * Pins a run so no tier prunes it: one `run_reference` row of kind 'pin' whose
 * referrer is `pin: <reason>` (pinning again replaces the reason).
 */
export async function pinRun(warehouse: Warehouse, idOrPrefix: string, reason?: string): Promise<string> {
  const runId = await knownRun(warehouse, idOrPrefix);
  const referrer = reason && reason.trim() !== '' ? `pin: ${reason.trim()}` : 'pin';
  await warehouse.transaction(async () => {
    await warehouse.run("DELETE FROM run_reference WHERE run_id = $1 AND kind = 'pin'", [runId]);
    await warehouse.run("INSERT INTO run_reference VALUES ($1, $2, 'pin', now())", [runId, referrer]);
  });
  return runId;
}

/** Removes a run's pin (baselines and named queries that reference it still protect it). */
export async function unpinRun(
  warehouse: Warehouse,
  idOrPrefix: string,
): Promise<{ run_id: string; removed: number }> {
  const runId = await knownRun(warehouse, idOrPrefix);
  const rows = await warehouse.all(
    "SELECT count(*) AS n FROM run_reference WHERE run_id = $1 AND kind = 'pin'",
    [runId],
  );
  await warehouse.run("DELETE FROM run_reference WHERE run_id = $1 AND kind = 'pin'", [runId]);
  return { run_id: runId, removed: Number(rows[0]?.n ?? 0) };
}

/** The report for people: one line per tier, then what was kept and why. */
export function renderPrune(report: PruneReport): string {
  const verb = report.dry_run ? 'would delete' : 'deleted';
  const lines: string[] = [];
  lines.push(
    report.dry_run
      ? `dry run: nothing was changed (ages measured to ${report.now})`
      : `pruned (ages measured to ${report.now})`,
  );
  for (const tier of report.tiers) {
    const rows = Object.values(tier.rows).reduce((a, b) => a + b, 0);
    const deletable = tier.folders.filter((f) => f.state === 'delete');
    const bytes = deletable.reduce((a, f) => a + f.bytes, 0);
    const head = `${tier.tier.padEnd(4)} (${tier.days} days, started before ${tier.cutoff.slice(0, 10)}): ${tier.runs.length} run${tier.runs.length === 1 ? '' : 's'}`;
    if (tier.tier !== 'cold') {
      lines.push(`${head}, ${verb} ${rows} rows${perTable(tier.rows)}`);
    } else if (tier.action === 'delete') {
      lines.push(
        `${head}, ${verb} ${deletable.length} raw folders (${bytes} bytes) and ${rows} lineage rows${perTable(tier.rows)}`,
      );
    } else {
      lines.push(
        `${head}, ${deletable.length} raw folders (${bytes} bytes) past the tier, kept: raw evidence is deleted only with --delete-raw`,
      );
    }
    for (const run of tier.runs.slice(0, LISTED)) lines.push(`       ${run}`);
    if (tier.runs.length > LISTED)
      lines.push(`       ... and ${tier.runs.length - LISTED} more (--format json lists them all)`);
    for (const folder of tier.folders) {
      if (folder.state === 'delete')
        lines.push(
          `       ${tier.action === 'delete' ? verb : 'kept'}: ${folder.path} (${folder.bytes} bytes)`,
        );
      else if (folder.state === 'unsafe' || folder.state === 'kept')
        lines.push(`       kept: ${folder.path}: ${folder.why ?? folder.state}`);
      else lines.push(`       already gone: ${folder.path}`);
    }
  }
  for (const ref of report.referenced) {
    lines.push(`kept ${ref.run_id}: referenced by ${ref.references.join('; ')}`);
  }
  if (report.undated.length > 0)
    lines.push(
      `kept ${report.undated.length} runs whose start time is unknown: ${report.undated.join(', ')}`,
    );
  if (report.remote.length > 0) {
    lines.push(
      `not deleted: ${report.remote.length} raw evidence copies in object stores (use the store's lifecycle rules):`,
    );
    for (const r of report.remote) lines.push(`       ${r.run_id}: ${r.uri}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Runs listed per tier in the text report. */
const LISTED = 20;

function perTable(rows: Record<string, number>): string {
  const parts = Object.entries(rows)
    .filter(([, n]) => n > 0)
    .map(([table, n]) => `${table} ${n}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}
