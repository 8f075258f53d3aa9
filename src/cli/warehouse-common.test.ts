/**
 * What the warehouse commands share: the --format and number flags are refused with
 * the flag, the value and what was expected; a query on a warehouse that is not
 * there yet says to ingest first; a warehouse on disk (DuckDB) is opened and closed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.js';
import { outputFormat, positiveNumber, withWarehouse } from './warehouse-common.js';

test('outputFormat: table by default, csv and json as given, anything else refused naming the flag', () => {
  assert.equal(outputFormat({}), 'table');
  assert.equal(outputFormat({ format: 'csv' }), 'csv');
  assert.equal(outputFormat({ format: 'json' }), 'json');
  assert.throws(
    () => outputFormat({ format: 'xml' }),
    (error: unknown) =>
      error instanceof ValidationError &&
      error.issues[0]?.path === '--format' &&
      error.issues[0]?.value === 'xml' &&
      /table, csv, json/.test(error.message),
  );
});

test('positiveNumber: a positive number, or the flag, the text and what was expected', () => {
  assert.equal(positiveNumber('--days', '2.5'), 2.5);
  for (const text of ['0', '-1', '', ' ', 'abc', 'Infinity']) {
    assert.throws(
      () => positiveNumber('--days', text),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.issues[0]?.path === '--days' &&
        error.issues[0]?.value === text &&
        /expected a positive number/.test(error.message),
      text,
    );
  }
});

test('withWarehouse: read-only on a missing file says to ingest first; read-write creates it and closes it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-warehouse-common-'));
  try {
    const path = join(dir, 'w.duckdb');
    await assert.rejects(
      withWarehouse({ warehouse: path }, true, async () => {}),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.issues[0]?.path === '--warehouse' &&
        /ingest a run first/.test(error.message),
    );
    let version = -1;
    await withWarehouse({ warehouse: path }, false, async (w) => {
      version = await w.schemaVersion();
    });
    assert.ok(version > 0, `schema version ${version}`);
    // Closed: a second open (read-only, external access off) succeeds.
    await withWarehouse({ warehouse: path }, true, async (w) => {
      assert.equal(await w.schemaVersion(), version);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
