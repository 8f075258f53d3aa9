/**
 * A run group read from the warehouse is the run group read from its folders: real
 * runs against the simulator (in its own process, with jitter, errors and /metrics
 * scraped under load), ingested into a DuckDB file on disk, then loaded both ways.
 * Same per-repeat values, same context (but the event-loop p99, which the warehouse
 * does not keep), same regression checks, the same per-request samples in the same
 * order; `infermark gate --warehouse` (the built CLI) gives the verdict the folders
 * give; and the warehouse way still works once the folders are deleted. Mixed cases and unknown runs are refused as loadRunGroup
 * refuses them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assertNoStack, cli } from '../cli/testing/harness.js';
import { executeRun } from '../engine/run.js';
import { spawnSimulator, type SpawnedSimulator } from '../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import { ingestRunFolder } from '../warehouse/ingest-run.js';
import { Warehouse } from '../warehouse/warehouse.js';
import type { Asset, Tolerances } from './assets.js';
import { baselineFrom } from './baseline.js';
import { budgetChecks, regressionChecks, type RegressionCheck } from './checks.js';
import { loadRunGroup, requestSamples, type RunGroup } from './run-group.js';
import type { GateVerdict } from './verdict.js';
import { loadRunGroupFromWarehouse, warehouseSamples } from './warehouse-group.js';

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
let warehousePath: string;
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
  await Warehouse.using(warehousePath, {}, (w) => ingestRunFolder(w, result.dir));
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
  warehousePath = join(tmp, 'warehouse.duckdb');
  for (let i = 0; i < 3; i++) {
    runs.a.push(await oneRun('D(16,8)', join(tmp, 'a')));
    runs.b.push(await oneRun('D(16,8)', join(tmp, 'b')));
  }
  runs.other.push(await oneRun('D(24,8)', join(tmp, 'other')));
});

after(async () => {
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

/** Read-only, as `report` and `gate --warehouse` open it; closed again so the CLI can open it too. */
function load(ids: string[]): Promise<RunGroup> {
  return Warehouse.using(warehousePath, { readOnly: true }, (w) => loadRunGroupFromWarehouse(w, ids));
}

const withoutContext = (checks: RegressionCheck[]): unknown =>
  checks.map((c) => ({ ...c, context: c.context.map((x) => ({ ...x, event_loop_p99_ms: null })) }));

test('the warehouse gives each repeat the values, context and testbed its folder gives', async () => {
  for (const side of [runs.a, runs.b]) {
    const fromFolders = await loadRunGroup(side.map((r) => r.dir));
    const fromWarehouse = await load(side.map((r) => r.id));
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
  const warehouseBaseline = baselineFrom(await load(ids(runs.a)), now);
  assert.deepEqual(warehouseBaseline, folderBaseline);
  const fromFolders = regressionChecks(
    { path: 'a', sha256: '', value: folderBaseline },
    TOLERANCES,
    await loadRunGroup(dirs(runs.b)),
  );
  const fromWarehouse = regressionChecks(
    { path: 'a', sha256: '', value: warehouseBaseline },
    TOLERANCES,
    await load(ids(runs.b)),
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
  assert.deepEqual(budgetOf(await load(ids(runs.b))), budgetOf(await loadRunGroup(dirs(runs.b))));
});

test('mixed cases and runs the warehouse lacks are refused (exit 2), naming the run', async () => {
  const mixed = [...runs.a, ...runs.other].map((r) => r.id);
  await assert.rejects(load(mixed), (error: Error & { exitCode?: number }) => {
    assert.match(error.message, new RegExp(`run ${runs.other[0]?.id}: benchmark_case_id .* differs`));
    assert.equal(error.exitCode, 2);
    return true;
  });
  await assert.rejects(load(['no-such-run']), /run no-such-run: not in the warehouse/);
  await assert.rejects(load([]), /no runs given/);
});

test("per-request samples from request_fact are the records file's values, in its order (same bootstrap intervals); ITL has none", async () => {
  const group = await loadRunGroup(runs.b.map((r) => r.dir));
  await Warehouse.using(warehousePath, { readOnly: true }, async (w) => {
    const samples = warehouseSamples(w);
    let compared = 0;
    for (const repeat of group.repeats) {
      for (const point of repeat.iterations.keys()) {
        for (const metric of ['ttft_ms', 'tpot_ms', 'e2e_latency_ms']) {
          const fromFile = await requestSamples(repeat, point, metric);
          assert.ok(fromFile.length > 0, `${repeat.run_id} ${point} ${metric}: no samples`);
          assert.deepEqual(await samples(repeat, point, metric), fromFile, `${point} ${metric}`);
          compared++;
        }
        assert.deepEqual(await samples(repeat, point, 'itl_ms'), []);
      }
    }
    assert.equal(compared, 3 * 2 * 3);
  });
});

test('infermark gate and gate baseline with --warehouse: the verdict of the run folders, from ids', async () => {
  const ids = (side: { id: string }[]): string[] => side.flatMap((r) => [flag, r.id]);
  let flag = '--from';
  const baselineOf = async (args: string[], file: string): Promise<Record<string, unknown>> => {
    const out = join(tmp, file);
    const result = await cli(['gate', 'baseline', ...args, '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    return { ...(JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>), created_at: null };
  };
  const fromFolders = await baselineOf(
    runs.a.flatMap((r) => ['--from', r.dir]),
    'baseline-folders.json',
  );
  const fromIds = await baselineOf([...ids(runs.a), '--warehouse', warehousePath], 'baseline-ids.json');
  assert.deepEqual(fromIds, fromFolders);

  const tolerances = join(tmp, 'tolerances.json');
  await writeFile(tolerances, JSON.stringify(TOLERANCES.value));
  flag = '--group';
  const verdictOf = async (
    args: string[],
    file: string,
  ): Promise<{ code: number | null; verdict: unknown }> => {
    const out = join(tmp, file);
    const result = await cli([
      'gate',
      '--mode',
      'regression',
      '--baseline',
      join(tmp, 'baseline-folders.json'),
      '--tolerances',
      tolerances,
      ...args,
      '--out',
      out,
      '--quiet',
    ]);
    assert.ok([0, 1, 3].includes(result.code ?? -1), result.stderr);
    const verdict = JSON.parse(await readFile(out, 'utf8')) as GateVerdict;
    // What the warehouse does not keep: the client's event-loop p99 and single ITL gaps.
    const normalized = {
      ...verdict,
      created_at: null,
      regression_checks: verdict.regression_checks.map((c) => ({
        ...c,
        context: c.context.map((x) => ({ ...x, event_loop_p99_ms: null })),
        bootstrap: c.key.includes('.itl_ms.') ? null : c.bootstrap,
      })),
    };
    return { code: result.code, verdict: normalized };
  };
  const folders = await verdictOf(
    runs.b.flatMap((r) => ['--group', r.dir]),
    'verdict-folders.json',
  );
  const fromWarehouse = await verdictOf([...ids(runs.b), '--warehouse', warehousePath], 'verdict-ids.json');
  assert.deepEqual(fromWarehouse, folders);
  const checks = (folders.verdict as GateVerdict).regression_checks;
  assert.ok(
    checks.some((c) => (c.bootstrap?.length ?? 0) > 0),
    'no bootstrap interval compared',
  );

  // A run folder with --warehouse is read for its id only, as `report` reads it.
  const byFolder = await verdictOf(
    [...runs.b.flatMap((r) => ['--group', r.dir]), '--warehouse', warehousePath],
    'verdict-by-folder.json',
  );
  assert.deepEqual(byFolder, fromWarehouse);
  const bad = await cli([
    'gate',
    '--mode',
    'budget',
    '--budgets',
    tolerances,
    '--job',
    'x.yaml',
    '--warehouse',
    warehousePath,
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--warehouse.*applies only with --group/);
  assertNoStack(bad);
});

test('with the run folders deleted, the group still loads from the warehouse, unchanged', async () => {
  const before = comparable(await load(runs.b.map((r) => r.id)));
  await rm(join(tmp, 'b'), { recursive: true, force: true });
  await assert.rejects(loadRunGroup(runs.b.map((r) => r.dir)), /no such folder/);
  const after = comparable(await load(runs.b.map((r) => r.id)));
  assert.deepEqual(after, before);
});
