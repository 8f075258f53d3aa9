/**
 * Parquet export, end to end: a warehouse filled by real runs against the
 * simulator (ingested by `run` itself), exported by the built CLI, read back by
 * DuckDB with Hive partitioning: every canonical table holds exactly the
 * warehouse's rows, each row in the partition of its run's start day. The same
 * export again gives the same bytes; into s3rver, the same objects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cli, cliRunFolder, runArgs, simulatorFixture, SMALL_RUN } from '../cli/testing/harness.js';
import { digestFile } from '../base/digest.js';
import { openLocation } from '../storage/open-location.js';
import { startS3rver, type S3rverHandle } from '../storage/testing/s3rver.js';
import type { ObjectStore } from '../storage/object-store.js';
import {
  ALL_PARTITION,
  EXPORT_MANIFEST,
  exportToStore,
  NULL_PARTITION,
  type ExportResult,
} from './export.js';
import { CANONICAL_TABLES } from './migrations.js';
import { Warehouse } from './warehouse.js';
import { sqlString } from './sql.js';

let s3: S3rverHandle;
let whPath: string;
let runA: string;
let runB: string;

const { sim, tmp } = simulatorFixture(
  'infermark-export-test-',
  { ttftMs: 2, ttftPerInputTokenMs: 0, itlMs: 1, itlJitterMs: 0, batchSlowdown: 0 },
  { setUp: fillWarehouse, tearDown: async () => await s3?.dispose() },
);

/** Two runs ingested by `run`, then rows no CLI run makes; and s3rver. */
async function fillWarehouse(): Promise<void> {
  s3 = await startS3rver();
  whPath = join(tmp(), 'warehouse.duckdb');
  const ids: string[] = [];
  // One after the other: each run ingests into the same warehouse file at its end.
  for (const name of ['a', 'b']) {
    const out = join(tmp(), `runs-${name}`);
    // Run b has an SLO, so slo_check_fact has rows too.
    const extra = name === 'b' ? ['--slo', 'p99_ttft_ms<=500'] : [];
    const folder = await cliRunFolder(
      runArgs({ url: sim().url, out, ...SMALL_RUN, warehouse: whPath, extra }),
      out,
    );
    const run = JSON.parse(await readFile(join(folder, 'run.json'), 'utf8')) as {
      run_id: string;
    };
    ids.push(run.run_id);
  }
  [runA, runB] = ids as [string, string];
  // Rows no CLI run makes, so every table and every kind of partition has rows:
  // run A moved to a known day (late in it, in UTC), a training outcome, import
  // gaps (one of a run that has no run fact), and a run with no start time.
  const w = await Warehouse.open(whPath);
  try {
    await w.run(
      "UPDATE benchmark_run_fact SET started_at = TIMESTAMPTZ '2024-02-29 23:30:00+00' WHERE run_id = $1",
      [runA],
    );
    await w.run(
      "INSERT INTO training_outcome_fact VALUES ($1, 'pretrain', '8xH100', 412.5, 1.9e6, NULL, 0.41, 0.93, 0.999, now())",
      [runA],
    );
    await w.run("INSERT INTO import_gap VALUES ($1, 'vllm', 'gpu_type', 'not in the result file')", [runB]);
    await w.run("INSERT INTO import_gap VALUES ('imported-without-fact', 'generic', 'started_at', NULL)");
    await w.run(
      "INSERT INTO benchmark_run_fact (run_id, source, model, ingested_at) VALUES ('undated-run', 'generic', 'm', now())",
    );
  } finally {
    w.close();
  }
}

async function exportWith(args: string[]): Promise<ExportResult> {
  const result = await cli(['warehouse', 'export', '--warehouse', whPath, '--format', 'json', ...args], {
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  return JSON.parse(result.stdout) as ExportResult;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** DuckDB in memory with the warehouse attached read-only as `wh`. */
async function withDuckDb<T>(work: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`ATTACH ${sqlString(whPath)} AS wh (READ_ONLY)`);
    return await work(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function one(c: DuckDBConnection, sql: string): Promise<number> {
  const rows = (await c.runAndReadAll(sql)).getRowObjectsJS();
  return Number(Object.values(rows[0] ?? {})[0]);
}

/**
 * Proves that the export under `dir` holds every canonical table's rows exactly
 * (EXCEPT ALL both ways is empty and the counts match), that each row of a
 * run-scoped table sits in its run's UTC start day (NULL when it has none), and
 * that the manifest's counts and digests are the files'.
 */
async function assertSameAsWarehouse(dir: string): Promise<void> {
  const manifest = JSON.parse(await readFile(join(dir, EXPORT_MANIFEST), 'utf8')) as ExportResult['manifest'];
  assert.deepEqual(
    manifest.tables.map((t) => t.name),
    [...CANONICAL_TABLES],
  );
  const listed = manifest.tables.flatMap((t) => t.files.map((f) => f.path));
  assert.deepEqual(await filesUnder(dir), [EXPORT_MANIFEST, ...listed].sort());
  for (const file of manifest.tables.flatMap((t) => t.files)) {
    assert.match(
      file.path,
      /^table=[a-z_]+\/date=(\d{4}-\d{2}-\d{2}|all|__HIVE_DEFAULT_PARTITION__)\/data_0\.parquet$/,
    );
    const digests = await digestFile(join(dir, file.path));
    assert.equal(file.sha256, digests.sha256, file.path);
    assert.equal(file.size_bytes, digests.size_bytes, file.path);
  }
  await withDuckDb(async (c) => {
    assert.equal(manifest.schema_version, await one(c, 'SELECT max(version) FROM wh.schema_migration'));
    for (const table of manifest.tables) {
      const count = await one(c, `SELECT count(*) FROM wh.${table.name}`);
      assert.ok(count > 0, `${table.name}: the test warehouse should have rows in every table`);
      assert.equal(table.rows, count, table.name);
      const parquet = `read_parquet(${sqlString(`${dir}/table=${table.name}/**/*.parquet`)}, hive_partitioning = true)`;
      const exported = `SELECT * EXCLUDE (date, "table") FROM ${parquet}`;
      assert.equal(await one(c, `SELECT count(*) FROM ${parquet}`), count, table.name);
      assert.equal(
        await one(c, `SELECT count(*) FROM (SELECT * FROM wh.${table.name} EXCEPT ALL ${exported})`),
        0,
        `${table.name}: rows in the warehouse missing from the export`,
      );
      assert.equal(
        await one(c, `SELECT count(*) FROM (${exported} EXCEPT ALL SELECT * FROM wh.${table.name})`),
        0,
        `${table.name}: rows in the export not in the warehouse`,
      );
      assert.equal(
        await one(c, `SELECT count(*) FROM ${parquet} WHERE "table" <> ${sqlString(table.name)}`),
        0,
      );
      const misplaced =
        table.partitioned_by === 'run_date'
          ? `SELECT count(*) FROM ${parquet} p LEFT JOIN wh.benchmark_run_fact r ON r.run_id = p.run_id
             WHERE p.date IS DISTINCT FROM (r.started_at AT TIME ZONE 'UTC')::DATE`
          : `SELECT count(*) FROM ${parquet} WHERE date IS DISTINCT FROM ${sqlString(ALL_PARTITION)}`;
      assert.equal(await one(c, misplaced), 0, `${table.name}: rows outside their date partition`);
    }
  });
}

test('export to a folder: Hive partitions by table and run date; every table reads back with the same rows', async () => {
  const dir = join(tmp(), 'export');
  const started = performance.now();
  const result = await exportWith(['--to', dir]);
  const elapsed = performance.now() - started;
  await assertSameAsWarehouse(dir);
  const files = await filesUnder(dir);
  for (const expected of [
    'table=benchmark_run_fact/date=2024-02-29/data_0.parquet',
    'table=request_fact/date=2024-02-29/data_0.parquet',
    'table=training_outcome_fact/date=2024-02-29/data_0.parquet',
    `table=benchmark_run_fact/date=${NULL_PARTITION}/data_0.parquet`,
    `table=import_gap/date=${NULL_PARTITION}/data_0.parquet`,
    `table=workload_dim/date=${ALL_PARTITION}/data_0.parquet`,
  ]) {
    assert.ok(files.includes(expected), `${expected} in\n${files.join('\n')}`);
  }
  // Run B started today (whatever day that is in UTC): its partition is not A's.
  const requestPartitions = files.filter((f) => f.startsWith('table=request_fact/'));
  assert.equal(requestPartitions.length, 2, requestPartitions.join(', '));
  assert.equal(result.files, files.length - 1);
  assert.equal(result.written, result.files);
  assert.ok(runB);
  process.stderr.write(
    `# export of ${result.rows} rows in ${result.files} files: ${elapsed.toFixed(0)} ms (CLI)\n`,
  );
});

test('export to s3 (s3rver): the same objects, digests in the store, the manifest last; a second export writes nothing', async () => {
  const local = join(tmp(), 'export-for-s3');
  const localResult = await exportWith(['--to', local]);
  const uri = `s3://${s3.bucket}/exports/warehouse`;
  const params = Object.entries(s3.parameters()).flatMap(([k, v]) => ['--param', `${k}=${v}`]);
  const first = await exportWith(['--to', uri, ...params]);
  assert.equal(first.written, first.files + 1);
  assert.equal(first.unchanged, 0);
  assert.equal(first.manifest_sha256, localResult.manifest_sha256, 'the same data gives the same manifest');
  assert.deepEqual(first.stale, []);

  const store = await openLocation({ uri, parameters: s3.parameters(), source: { path: 'URI' } });
  const back = join(tmp(), 'export-from-s3');
  try {
    const objects = await store.list('');
    const expected = localResult.manifest.tables.flatMap((t) => t.files);
    assert.deepEqual(
      objects.map((o) => o.key).sort(),
      [EXPORT_MANIFEST, ...expected.map((f) => f.path)].sort(),
    );
    for (const file of expected) {
      const head = await store.head(file.path);
      assert.equal(head?.sha256, file.sha256, file.path);
      assert.equal(head?.size_bytes, file.size_bytes, file.path);
    }
    // Read back what the store holds: the Parquet there round-trips like the local export.
    for (const object of objects) {
      const path = join(back, object.key);
      await mkdir(dirname(path), { recursive: true });
      await store.get(object.key, path);
    }
  } finally {
    await store.close();
  }
  assert.deepEqual(await readFile(join(back, EXPORT_MANIFEST)), await readFile(join(local, EXPORT_MANIFEST)));
  await assertSameAsWarehouse(back);

  const second = await exportWith(['--to', uri, ...params]);
  assert.equal(second.written, 0);
  assert.equal(second.unchanged, first.files + 1);

  // In order: every Parquet file, then the manifest (a store holding the manifest holds the export).
  const fresh = await openLocation({
    uri: `s3://${s3.bucket}/exports/ordered`,
    parameters: s3.parameters(),
    source: { path: 'URI' },
  });
  const puts: string[] = [];
  const recording: ObjectStore = {
    display: fresh.display,
    preflight: () => fresh.preflight(),
    head: (key) => fresh.head(key),
    get: (key, path) => fresh.get(key, path),
    list: (prefix) => fresh.list(prefix),
    close: () => fresh.close(),
    put: async (object) => {
      puts.push(object.key);
      await fresh.put(object);
    },
  };
  const w = await Warehouse.open(whPath);
  try {
    const result = await exportToStore(w, recording);
    assert.equal(result.manifest_sha256, localResult.manifest_sha256);
  } finally {
    w.close();
    await fresh.close();
  }
  assert.equal(puts.length, first.files + 1);
  assert.equal(puts.at(-1), EXPORT_MANIFEST);
});

test('export again: the same bytes; after a run moves to another day its old partition goes', async () => {
  const dir = join(tmp(), 'export-twice');
  const first = await exportWith(['--to', dir]);
  const firstManifest = await readFile(join(dir, EXPORT_MANIFEST));
  const second = await exportWith(['--to', dir]);
  assert.deepEqual(await readFile(join(dir, EXPORT_MANIFEST)), firstManifest);
  assert.deepEqual(second.manifest, first.manifest);
  assert.deepEqual(await filesUnder(dir), [EXPORT_MANIFEST, ...listedFiles(first)].sort());

  const w = await Warehouse.open(whPath);
  try {
    await w.run(
      "UPDATE benchmark_run_fact SET started_at = TIMESTAMPTZ '2024-03-01 00:30:00+00' WHERE run_id = $1",
      [runA],
    );
  } finally {
    w.close();
  }
  const third = await exportWith(['--to', dir]);
  const files = await filesUnder(dir);
  assert.ok(!files.some((f) => f.includes('date=2024-02-29')), files.join('\n'));
  assert.ok(files.includes('table=request_fact/date=2024-03-01/data_0.parquet'));
  assert.deepEqual(files, [EXPORT_MANIFEST, ...listedFiles(third)].sort());
  assert.ok(!(await readdir(dir)).some((name) => name.startsWith('.export-')), 'no staging folder left');
  await assertSameAsWarehouse(dir);
});

function listedFiles(result: ExportResult): string[] {
  return result.manifest.tables.flatMap((t) => t.files.map((f) => f.path));
}
