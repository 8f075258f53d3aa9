/**
 * Plan and apply, on a DuckDB file with hand-made rows (no runs, no CLI; retention.test.ts
 * covers the whole path): the plan reads and changes nothing, and is what a dry run reports;
 * applying it removes exactly what it names and reports what was done, folder by folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPrune, planPrune, prune } from './retention.js';
import { Warehouse } from './warehouse.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const daysAgo = (days: number): string => new Date(NOW.getTime() - days * 86_400_000).toISOString();

/** Runs by age: one per tier, a referenced old one, and an old one whose facts are already gone. */
async function seeded(dir: string): Promise<Warehouse> {
  const w = await Warehouse.open(join(dir, 'warehouse.duckdb'));
  const runs: [string, number][] = [
    ['run-fresh', 1],
    ['run-hot', 60],
    ['run-warm', 300],
    ['run-kept', 900],
  ];
  for (const [runId, age] of runs) {
    await w.run(
      "INSERT INTO benchmark_run_fact (run_id, source, started_at, software_version_id, ingested_at) VALUES ($1, 'infermark', $2::TIMESTAMPTZ, $3, now())",
      [runId, daysAgo(age), `sw-${runId}`],
    );
    await w.run('INSERT INTO software_version_dim (software_version_id) VALUES ($1)', [`sw-${runId}`]);
    await w.run(
      "INSERT INTO request_fact (run_id, iteration, request_id) VALUES ($1, 0, '0-0'), ($1, 0, '0-1')",
      [runId],
    );
    await w.run('INSERT INTO serving_outcome_fact (run_id, iteration, ingested_at) VALUES ($1, 0, now())', [
      runId,
    ]);
  }
  await w.run("INSERT INTO run_reference VALUES ('run-kept', 'main', 'baseline', now())");
  // Past the warm tier long ago: only its lineage and its folder are left.
  const folder = join(dir, 'runs', 'run-cold');
  await mkdir(folder, { recursive: true });
  await writeFile(
    join(folder, 'run.json'),
    JSON.stringify({ run_id: 'run-cold', started_at: daysAgo(1000) }),
  );
  await writeFile(join(folder, 'requests.jsonl'), '{}\n');
  await w.run(
    "INSERT INTO artifact_lineage_dim (run_id, raw_uris, signing_state) VALUES ('run-cold', [$1, 's3://bucket/run-cold']::VARCHAR[], 'unsigned')",
    [folder],
  );
  await w.run("INSERT INTO run_artifact VALUES ('run-cold', 'run.json', 10, 'sha256:00')");
  return w;
}

async function counts(w: Warehouse): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of [
    'benchmark_run_fact',
    'software_version_dim',
    'request_fact',
    'serving_outcome_fact',
    'artifact_lineage_dim',
    'run_artifact',
  ]) {
    out[table] = Number((await w.all(`SELECT count(*) AS n FROM ${table}`))[0]?.n);
  }
  return out;
}

test('the plan changes nothing and is the dry run; applying it removes what it names, rows then folders', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-prune-plan-'));
  const w = await seeded(dir);
  try {
    const before = await counts(w);
    const plan = await planPrune(w, { now: NOW, deleteRaw: true });
    assert.deepEqual(await counts(w), before, 'planning reads only');
    assert.equal(existsSync(join(dir, 'runs', 'run-cold')), true);
    assert.deepEqual(await prune(w, { now: NOW, deleteRaw: true, dryRun: true }), plan);
    assert.equal(plan.dry_run, true);
    assert.equal(plan.applied, false);
    assert.deepEqual(
      plan.tiers.map((t) => [t.tier, t.runs]),
      [
        ['hot', ['run-hot', 'run-warm']],
        ['warm', ['run-warm']],
        ['cold', ['run-cold']],
      ],
    );
    assert.deepEqual(plan.tiers[1]?.rows, {
      slo_check_fact: 0,
      serving_outcome_fact: 1,
      training_outcome_fact: 0,
      import_gap: 0,
      benchmark_run_fact: 1,
      software_version_dim: 1,
      hardware_topology_dim: 0,
      cluster_region_dim: 0,
      workload_dim: 0,
    });
    assert.deepEqual(plan.referenced, [{ run_id: 'run-kept', references: ['baseline: main'] }]);
    assert.deepEqual(plan.remote, [{ run_id: 'run-cold', uri: 's3://bucket/run-cold' }]);
    assert.equal(plan.tiers[2]?.folders[0]?.state, 'delete');
    assert.ok((plan.tiers[2]?.folders[0]?.bytes ?? 0) > 0);
    const frozen = structuredClone(plan);

    const done = await applyPrune(w, plan);
    assert.deepEqual(plan, frozen, 'the plan is left as it was');
    assert.deepEqual(done, { ...plan, dry_run: false, applied: true });
    assert.deepEqual(await counts(w), {
      benchmark_run_fact: 3,
      software_version_dim: 3,
      request_fact: 4,
      serving_outcome_fact: 3,
      artifact_lineage_dim: 0,
      run_artifact: 0,
    });
    assert.equal(existsSync(join(dir, 'runs', 'run-cold')), false);
  } finally {
    w.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a raw folder that cannot be deleted is reported kept, and its run keeps its lineage', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-prune-plan-'));
  const w = await seeded(dir);
  try {
    const plan = await planPrune(w, { now: NOW, deleteRaw: true });
    // Gone between plan and apply (another prune, a person): deleting it fails.
    await rm(join(dir, 'runs', 'run-cold'), { recursive: true });
    const done = await applyPrune(w, plan);
    const cold = done.tiers[2];
    assert.deepEqual(cold?.runs, []);
    assert.deepEqual(cold?.rows, { run_artifact: 0, artifact_lineage_dim: 0 });
    assert.equal(cold?.folders[0]?.state, 'kept');
    assert.match(cold?.folders[0]?.why ?? '', /^could not delete it: .*ENOENT/);
    assert.equal(plan.tiers[2]?.folders[0]?.state, 'delete', 'the plan still says what was meant');
    assert.equal(Number((await w.all('SELECT count(*) AS n FROM artifact_lineage_dim'))[0]?.n), 1);
    assert.equal(Number((await w.all('SELECT count(*) AS n FROM request_fact'))[0]?.n), 4, 'rows went');
  } finally {
    w.close();
    await rm(dir, { recursive: true, force: true });
  }
});
