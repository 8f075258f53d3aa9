// The run list's columns, shared by the CLI's run list and the dashboard's, on a real DuckDB (in memory).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listRuns, runListColumns } from './queries.js';
import { Warehouse } from './warehouse.js';

test('the run list columns, bare or qualified by an alias', () => {
  assert.equal(
    runListColumns(),
    'started_at, source, status, intent, model, engine, engine_version, gpu_type, gpu_count, iterations_completed AS iterations',
  );
  assert.match(runListColumns('r'), /^r\.started_at, r\.source, .*, r\.iterations_completed AS iterations$/);
});

test('listRuns: run_id, the run list columns, benchmark_case_id; newest first, filtered', async () => {
  const w = await Warehouse.open(':memory:');
  try {
    for (const [runId, started, model] of [
      ['run-a', '2026-01-01T00:00:00Z', 'm1'],
      ['run-b', '2026-02-01T00:00:00Z', 'm2'],
    ] as const) {
      await w.run(
        "INSERT INTO benchmark_run_fact (run_id, source, started_at, model, iterations_completed, ingested_at) VALUES ($1, 'infermark', $2::TIMESTAMPTZ, $3, 2, now())",
        [runId, started, model],
      );
    }
    const all = await listRuns(w);
    assert.deepEqual(all.columns, [
      'run_id',
      'started_at',
      'source',
      'status',
      'intent',
      'model',
      'engine',
      'engine_version',
      'gpu_type',
      'gpu_count',
      'iterations',
      'benchmark_case_id',
    ]);
    assert.deepEqual(
      all.rows.map((r) => r.run_id),
      ['run-b', 'run-a'],
    );
    assert.deepEqual(
      (await listRuns(w, { model: 'm1' })).rows.map((r) => [r.run_id, r.iterations]),
      [['run-a', 2]],
    );
  } finally {
    w.close();
  }
});
