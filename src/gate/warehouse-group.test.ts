/**
 * A run group read from the warehouse is the run group read from its folders: real
 * runs against the simulator (in its own process, with jitter, errors and /metrics
 * scraped under load), ingested into a DuckDB file on disk, then loaded both ways.
 * Same per-repeat values, same context (but the event-loop p99, which the warehouse
 * does not keep), same regression checks; and the warehouse way still works once
 * the folders are deleted. Mixed cases and unknown runs are refused as loadRunGroup
 * refuses them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { executeRun } from '../engine/run.js';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { ingestRunFolder } from '../warehouse/ingest-run.js';
import { Warehouse } from '../warehouse/warehouse.js';
import type { Asset, Tolerances } from './assets.js';
import { baselineFrom } from './baseline.js';
import { budgetChecks, regressionChecks, type RegressionCheck } from './checks.js';
import { loadRunGroup, type RunGroup } from './run-group.js';
import { loadRunGroupFromWarehouse } from './warehouse-group.js';

const TOLERANCES: Asset<Tolerances> = {
  path: 'tolerances.json',
  sha256: '',
  value: {
    format: 'infermark-tolerances/v1',
    defaults: { relative: 0.05, alpha: 0.05, min_repeats: 3, test: 'mann-whitney' },
    rules: [],
  },
};

let tmp: string;
let sim: SpawnedSimulator;
let warehouse: Warehouse;
/** Three repeats each of one case (A, B), and one run of another case. */
const runs: Record<'a' | 'b' | 'other', { dir: string; id: string }[]> = { a: [], b: [], other: [] };

async function oneRun(scenario: string, out: string): Promise<{ dir: string; id: string }> {
  const job = jobFromCli({
    url: sim.url,
    model: 'm',
    name: 'warehouse-group',
    scenarios: [scenario],
    concurrency: [1, 3],
    maxRequests: 12,
    metricsIntervalSeconds: 0.1,
    seed: 7,
  });
  const result = await executeRun({ job, jobFile: null, endpoint: resolveEndpoint(job), outRoot: out });
  await ingestRunFolder(warehouse, result.dir);
  return { dir: result.dir, id: result.runId };
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-warehouse-group-'));
  sim = await spawnSimulator({
    model: 'm',
    ttftMs: 15,
    ttftPerInputTokenMs: 0,
    ttftJitterMs: 4,
    itlMs: 6,
    itlJitterMs: 2,
    errorRate: 0.1,
    seed: 11,
  });
  warehouse = await Warehouse.open(join(tmp, 'warehouse.duckdb'));
  for (let i = 0; i < 3; i++) {
    runs.a.push(await oneRun('D(16,8)', join(tmp, 'a')));
    runs.b.push(await oneRun('D(16,8)', join(tmp, 'b')));
  }
  runs.other.push(await oneRun('D(24,8)', join(tmp, 'other')));
});

after(async () => {
  warehouse?.close();
  await sim?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A group as JSON, without what the warehouse does not keep (the event-loop p99, the iteration folders). */
function comparable(group: RunGroup): unknown {
  return {
    ...group,
    repeats: group.repeats.map((r) => ({
      ...r,
      dir: resolve(r.dir),
      metrics: [...r.metrics.entries()],
      context: [...r.context.entries()].map(([point, c]) => [point, { ...c, event_loop_p99_ms: null }]),
      iterations: null,
    })),
  };
}

const withoutContext = (checks: RegressionCheck[]): unknown =>
  checks.map((c) => ({ ...c, context: c.context.map((x) => ({ ...x, event_loop_p99_ms: null })) }));

test('the warehouse gives each repeat the values, context and testbed its folder gives', async () => {
  for (const side of [runs.a, runs.b]) {
    const fromFolders = await loadRunGroup(side.map((r) => r.dir));
    const fromWarehouse = await loadRunGroupFromWarehouse(
      warehouse,
      side.map((r) => r.id),
    );
    assert.deepEqual(comparable(fromWarehouse), comparable(fromFolders));
    assert.equal(fromWarehouse.repeats.length, 3);
    assert.ok(fromWarehouse.repeats.every((r) => r.iterations.size === 0));
    // The comparison covers the parts that could differ: gated keys, errors and server counters.
    const first = fromWarehouse.repeats[0];
    assert.ok(first && first.metrics.size >= 30, `${first?.metrics.size} keys`);
    const contexts = fromWarehouse.repeats.flatMap((r) => [...r.context.values()]);
    assert.ok(
      contexts.some((c) => Object.keys(c.errors_by_class).length > 0),
      'no repeat had an error: the errors_by_class comparison is empty',
    );
    assert.ok(
      contexts.some((c) => Object.keys(c.server).length > 0),
      'no server counters: the /metrics comparison is empty',
    );
  }
});

test('regression and budget checks from the warehouse equal the checks from the folders', async () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const ids = (side: { id: string }[]): string[] => side.map((r) => r.id);
  const dirs = (side: { dir: string }[]): string[] => side.map((r) => r.dir);
  const folderBaseline = baselineFrom(await loadRunGroup(dirs(runs.a)), now);
  const warehouseBaseline = baselineFrom(await loadRunGroupFromWarehouse(warehouse, ids(runs.a)), now);
  assert.deepEqual(warehouseBaseline, folderBaseline);
  const fromFolders = regressionChecks(
    { path: 'a', sha256: '', value: folderBaseline },
    TOLERANCES,
    await loadRunGroup(dirs(runs.b)),
  );
  const fromWarehouse = regressionChecks(
    { path: 'a', sha256: '', value: warehouseBaseline },
    TOLERANCES,
    await loadRunGroupFromWarehouse(warehouse, ids(runs.b)),
  );
  assert.ok(fromFolders.length > 0);
  assert.deepEqual(withoutContext(fromWarehouse), withoutContext(fromFolders));
  const budgets = {
    path: 'budgets.json',
    sha256: '',
    value: { format: 'infermark-budgets/v1' as const, budgets: { '*.ttft_ms.p50': { max: 1000 } } },
  };
  const budgetOf = (group: RunGroup): unknown =>
    budgetChecks(budgets, group).map((c) => ({
      ...c,
      context: c.context.map((x) => ({ ...x, event_loop_p99_ms: null })),
    }));
  assert.deepEqual(
    budgetOf(await loadRunGroupFromWarehouse(warehouse, ids(runs.b))),
    budgetOf(await loadRunGroup(dirs(runs.b))),
  );
});

test('mixed cases and runs the warehouse lacks are refused (exit 2), naming the run', async () => {
  const mixed = [...runs.a, ...runs.other].map((r) => r.id);
  await assert.rejects(
    loadRunGroupFromWarehouse(warehouse, mixed),
    (error: Error & { exitCode?: number }) => {
      assert.match(error.message, new RegExp(`run ${runs.other[0]?.id}: benchmark_case_id .* differs`));
      assert.equal(error.exitCode, 2);
      return true;
    },
  );
  await assert.rejects(
    loadRunGroupFromWarehouse(warehouse, ['no-such-run']),
    /run no-such-run: not in the warehouse/,
  );
  await assert.rejects(loadRunGroupFromWarehouse(warehouse, []), /no runs given/);
});

test('with the run folders deleted, the group still loads from the warehouse, unchanged', async () => {
  const before = comparable(
    await loadRunGroupFromWarehouse(
      warehouse,
      runs.b.map((r) => r.id),
    ),
  );
  await rm(join(tmp, 'b'), { recursive: true, force: true });
  await assert.rejects(loadRunGroup(runs.b.map((r) => r.dir)), /no such folder/);
  const after = comparable(
    await loadRunGroupFromWarehouse(
      warehouse,
      runs.b.map((r) => r.id),
    ),
  );
  assert.deepEqual(after, before);
});
