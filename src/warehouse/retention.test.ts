/**
 * Retention by tier, end to end with the built CLI: real runs against the
 * simulator are ingested, then aged by moving their start back in time, in
 * `benchmark_run_fact.started_at` and in the folder's run.json alike (the only
 * way to have old runs in a test; the edited run.json no longer matches the
 * folder's seal, which nothing here checks). Dry runs change nothing; prune removes exactly
 * each tier's rows; runs a baseline, a pin or a named query references survive
 * every tier; raw folders go only with --delete-raw, and only when the folder is
 * the run's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  cli,
  cliRunFolder,
  runArgs,
  simulatorFixture,
  SMALL_RUN,
  type CliResult,
} from '../cli/testing/harness.js';
import { CANONICAL_TABLES } from './migrations.js';
import { prune, TIER_TABLES, type PruneReport } from './retention.js';
import { Warehouse } from './warehouse.js';

/** The runs of the test, and how many days ago each (says the warehouse) started. */
const AGES = {
  fresh: 1,
  hot: 60,
  warm: 300,
  cold: 1000,
  pinned: 1000,
  baseline: 1000,
  named: 1000,
  unsafe: 1000,
} as const;
type Name = keyof typeof AGES;
const DAY_MS = 86_400_000;
const NAMES = Object.keys(AGES) as Name[];

let whPath: string;
const id = {} as Record<Name, string>;
const folder = {} as Record<Name, string>;

const { sim, tmp } = simulatorFixture(
  'infermark-retention-',
  { ttftMs: 2, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0, batchSlowdown: 0 },
  { setUp: runAndAge },
);

/** The runs, ingested and aged; a baseline, a pin and a named query on theirs. */
async function runAndAge(): Promise<void> {
  whPath = join(tmp(), 'warehouse.duckdb');
  // The runs in parallel, not ingested; then one ingest of all of them (one writer to the warehouse).
  await Promise.all(
    NAMES.map(async (name) => {
      const out = join(tmp(), 'runs', name);
      folder[name] = await cliRunFolder(
        runArgs({ url: sim().url, out, ...SMALL_RUN, warehouse: false }),
        out,
        {
          timeoutMs: 60_000,
        },
      );
      id[name] = folder[name].split('/').pop() as string;
    }),
  );
  await ok(cli(['warehouse', 'ingest', ...NAMES.map((n) => folder[n]), '--warehouse', whPath]));

  const w = await Warehouse.open(whPath);
  try {
    for (const name of NAMES) {
      const startedAt = new Date(Date.now() - AGES[name] * DAY_MS).toISOString();
      await w.run('UPDATE benchmark_run_fact SET started_at = $2::TIMESTAMPTZ WHERE run_id = $1', [
        id[name],
        startedAt,
      ]);
      // The folder says the same: a run past the warm tier has no fact row left, and is aged by it.
      const runJson = join(folder[name], 'run.json');
      const run = JSON.parse(await readFile(runJson, 'utf8')) as { started_at: string };
      await writeFile(runJson, JSON.stringify({ ...run, started_at: startedAt }, null, 2));
    }
    await w.run("INSERT INTO run_reference VALUES ($1, 'main-baseline', 'baseline', now())", [id.baseline]);
    // The cold run also lives in a bucket: that copy is never deleted here.
    await w.run(
      "UPDATE artifact_lineage_dim SET raw_uris = list_append(raw_uris, 's3://bench/runs/' || run_id) WHERE run_id = $1",
      [id.cold],
    );
    // A folder that is not named by its run_id (moved by hand): never deleted.
    const moved = join(dirname(folder.unsafe), 'moved-by-hand');
    await rename(folder.unsafe, moved);
    folder.unsafe = moved;
    await w.run('UPDATE artifact_lineage_dim SET raw_uris = [$2] WHERE run_id = $1', [id.unsafe, moved]);
  } finally {
    w.close();
  }
  await ok(
    cli([
      'warehouse',
      'save-query',
      'launch_claim',
      `SELECT run_id, iteration, ttft_ms_p99 FROM serving_outcome_fact WHERE run_id = '${id.named}'`,
      '--warehouse',
      whPath,
    ]),
  );
  // A prefix is enough to pin, as for `show`.
  const pinned = await ok(
    cli(['warehouse', 'pin', id.pinned.slice(0, -4), '--reason', 'launch blog post', '--warehouse', whPath]),
  );
  assert.match(pinned.stdout, new RegExp(`pinned ${id.pinned}`));
  assert.match(pinned.stdout, /pin: launch blog post/);
}

async function ok(pending: Promise<CliResult>): Promise<CliResult> {
  const result = await pending;
  assert.equal(result.code, 0, result.stdout + result.stderr);
  return result;
}

function pruneCli(...args: string[]): Promise<CliResult> {
  return cli(['warehouse', 'prune', '--warehouse', whPath, ...args], { timeoutMs: 60_000 });
}

/** Rows per table per run (run-scoped tables), and per table (dimensions and bookkeeping). */
type Snapshot = Record<string, Record<string, number>>;

async function snapshot(): Promise<Snapshot> {
  const w = await Warehouse.open(whPath, { readOnly: true });
  try {
    const out: Snapshot = {};
    const tables = [...CANONICAL_TABLES, 'run_reference', 'named_query'];
    for (const table of tables) {
      const columns = await w.all(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND column_name = 'run_id'",
        [table],
      );
      const rows = await w.all(
        columns.length > 0
          ? `SELECT run_id AS k, count(*) AS n FROM ${table} GROUP BY run_id`
          : `SELECT '*' AS k, count(*) AS n FROM ${table}`,
      );
      out[table] = Object.fromEntries(rows.map((r) => [String(r.k), Number(r.n)]));
    }
    return out;
  } finally {
    w.close();
  }
}

/** The snapshot with `tables`' rows of `runs` removed. */
function without(before: Snapshot, tables: readonly string[], runs: Name[]): Snapshot {
  const out = structuredClone(before);
  for (const table of tables) for (const name of runs) delete out[table]?.[id[name]];
  return out;
}

function rowsOf(before: Snapshot, tables: readonly string[], runs: Name[]): Record<string, number> {
  return Object.fromEntries(
    tables.map((t) => [t, runs.reduce((sum, name) => sum + (before[t]?.[id[name]] ?? 0), 0)]),
  );
}

const ids = (names: Name[]): string[] => names.map((n) => id[n]).sort();

test('pin refuses a run the warehouse does not have; the policy must be hot ≤ warm ≤ cold', async () => {
  const result = await cli(['warehouse', 'pin', 'no-such-run', '--warehouse', whPath]);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /no run no-such-run in the warehouse/);
  const bad = await pruneCli('--dry-run', '--hot-days', '200', '--warm-days', '100');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--hot-days: 200: must be ≤ --warm-days \(100\)/);
});

test('--dry-run shows per tier what would go (runs, rows, folders, bytes) and changes nothing', async () => {
  const before = await snapshot();
  const text = await ok(pruneCli('--dry-run'));
  assert.match(text.stdout, /^dry run: nothing was changed/);
  assert.match(
    text.stdout,
    /hot {2}\(30 days, started before \d{4}-\d{2}-\d{2}\): 4 runs, would delete \d+ rows/,
  );
  assert.match(text.stdout, /warm \(180 days, .*\): 3 runs, would delete \d+ rows/);
  assert.match(
    text.stdout,
    /cold \(730 days, .*\): 1 run, 1 raw folders \(\d+ bytes\) past the tier, kept: raw evidence is deleted only with --delete-raw/,
  );
  assert.match(text.stdout, new RegExp(`kept ${id.pinned}: referenced by pin: pin: launch blog post`));
  assert.match(text.stdout, new RegExp(`kept ${id.baseline}: referenced by baseline: main-baseline`));
  assert.match(text.stdout, new RegExp(`kept ${id.named}: referenced by named_query sql: launch_claim`));
  assert.match(text.stdout, /kept: .*moved-by-hand: the folder is not named by the run_id/);

  const json = await ok(pruneCli('--dry-run', '--delete-raw', '--format', 'json'));
  const report = JSON.parse(json.stdout) as PruneReport;
  const [hot, warm, cold] = report.tiers;
  assert.equal(report.applied, false);
  assert.deepEqual(hot?.runs, ids(['hot', 'warm', 'cold', 'unsafe']));
  assert.deepEqual(hot?.rows, rowsOf(before, TIER_TABLES.hot, ['hot', 'warm', 'cold', 'unsafe']));
  assert.deepEqual(warm?.runs, ids(['warm', 'cold', 'unsafe']));
  assert.deepEqual(warm?.rows, {
    ...rowsOf(before, TIER_TABLES.warm, ['warm', 'cold', 'unsafe']),
    // Every run here shares its dimensions with a run that stays.
    software_version_dim: 0,
    hardware_topology_dim: 0,
    cluster_region_dim: 0,
    workload_dim: 0,
  });
  assert.deepEqual(cold?.runs, [id.cold]);
  assert.equal(cold?.action, 'delete');
  assert.deepEqual(cold?.rows, rowsOf(before, TIER_TABLES.cold, ['cold']));
  const deletable = cold?.folders.filter((f) => f.state === 'delete') ?? [];
  assert.deepEqual(
    deletable.map((f) => f.path),
    [folder.cold],
  );
  assert.ok((deletable[0]?.bytes ?? 0) > 0);
  assert.deepEqual(
    cold?.folders.filter((f) => f.state === 'unsafe').map((f) => f.path),
    [folder.unsafe],
  );
  assert.deepEqual(report.remote, [{ run_id: id.cold, uri: `s3://bench/runs/${id.cold}` }]);
  assert.deepEqual(
    report.referenced.map((r) => r.run_id),
    ids(['pinned', 'baseline', 'named']),
  );

  assert.deepEqual(await snapshot(), before, 'a dry run changes nothing');
  for (const name of NAMES) assert.ok(existsSync(folder[name]), name);
});

test('prune removes exactly the hot and warm rows; without --delete-raw no raw folder and no lineage goes', async () => {
  const before = await snapshot();
  const result = await ok(pruneCli());
  assert.match(result.stdout, /^pruned/);
  assert.match(result.stdout, /raw evidence is deleted only with --delete-raw/);
  const expected = without(
    without(before, TIER_TABLES.hot, ['hot', 'warm', 'cold', 'unsafe']),
    TIER_TABLES.warm,
    ['warm', 'cold', 'unsafe'],
  );
  assert.deepEqual(await snapshot(), expected);
  for (const name of NAMES) assert.ok(existsSync(folder[name]), name);
  // Referenced and recent runs keep every row.
  const after = await snapshot();
  for (const name of ['fresh', 'pinned', 'baseline', 'named'] as const) {
    for (const table of [...TIER_TABLES.hot, ...TIER_TABLES.warm, ...TIER_TABLES.cold]) {
      assert.equal(after[table]?.[id[name]], before[table]?.[id[name]], `${name} ${table}`);
    }
  }
  assert.ok((after.request_fact?.[id.fresh] ?? 0) > 0);
  // The hot run keeps its curated facts.
  assert.equal(after.serving_outcome_fact?.[id.hot], before.serving_outcome_fact?.[id.hot]);
  assert.equal(after.request_fact?.[id.hot], undefined);

  const again = await ok(pruneCli('--format', 'json'));
  const report = JSON.parse(again.stdout) as PruneReport;
  assert.deepEqual(
    report.tiers.map((t) => t.runs.length),
    [0, 0, 1],
    'a second prune finds nothing left in hot and warm',
  );
  assert.deepEqual(await snapshot(), expected);
});

test('--delete-raw deletes the cold run folder and its lineage, never a moved folder, a bucket copy or a referenced run', async () => {
  const before = await snapshot();
  const result = await ok(pruneCli('--delete-raw'));
  assert.match(result.stdout, new RegExp(`deleted: ${folder.cold} \\(\\d+ bytes\\)`));
  assert.match(result.stdout, /not deleted: 1 raw evidence copies in object stores/);
  assert.ok(!existsSync(folder.cold));
  for (const name of NAMES.filter((n) => n !== 'cold')) assert.ok(existsSync(folder[name]), name);
  assert.deepEqual(await snapshot(), without(before, TIER_TABLES.cold, ['cold']));
});

test('unpin: the run is pruned by the next prune; the baseline and the named query still protect theirs', async () => {
  const unpinned = await ok(cli(['warehouse', 'unpin', id.pinned, '--warehouse', whPath]));
  assert.match(unpinned.stdout, new RegExp(`unpinned ${id.pinned}`));
  const before = await snapshot();
  await ok(pruneCli('--delete-raw'));
  assert.ok(!existsSync(folder.pinned));
  assert.ok(existsSync(folder.baseline) && existsSync(folder.named));
  const all = [...TIER_TABLES.hot, ...TIER_TABLES.warm, ...TIER_TABLES.cold];
  assert.deepEqual(await snapshot(), without(before, all, ['pinned']));
});

test('a run whose facts are gone is aged by its own run.json; dimensions only pruned runs used go with them', async () => {
  const w = await Warehouse.open(whPath);
  try {
    // The fresh run gets a software dimension of its own.
    await w.run(
      "INSERT INTO software_version_dim (software_version_id, infermark_version) VALUES ('sha256:only-fresh', 'x')",
    );
    await w.run("UPDATE benchmark_run_fact SET software_version_id = 'sha256:only-fresh' WHERE run_id = $1", [
      id.fresh,
    ]);
    // 450 days from now: the warm run (300 days old, no fact row left, dated by its
    // run.json) is 750 days old and past the cold tier; the hot run (510) is not yet.
    const later = new Date(Date.now() + 450 * DAY_MS);
    const report = await prune(w, { now: later, dryRun: true, deleteRaw: true });
    const [hot, warm, cold] = report.tiers;
    assert.deepEqual(hot?.runs, ids(['fresh']));
    assert.deepEqual(warm?.runs, ids(['fresh', 'hot']));
    assert.equal(warm?.rows.software_version_dim, 1);
    assert.deepEqual(cold?.runs, ids(['warm']));
    assert.deepEqual(report.undated, []);
    const nothing = await prune(w, { now: new Date(), dryRun: true });
    assert.deepEqual(
      nothing.tiers.map((t) => t.runs.length),
      [0, 0, 0],
    );
  } finally {
    w.close();
  }
});
