// The SQL surface: a string literal that survives quotes, and the warehouse as a SqlHandle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sqlString, type SqlHandle } from './sql.js';
import { Warehouse } from './warehouse.js';

test('sqlString quotes text so that DuckDB reads it back unchanged', async () => {
  assert.equal(sqlString("it's"), "'it''s'");
  const handle: SqlHandle = await Warehouse.open(':memory:');
  try {
    for (const text of ["it's", "''", 'plain', "a'; DROP TABLE named_query; --"]) {
      const rows = await handle.all(`SELECT ${sqlString(text)} AS v`);
      assert.equal(rows[0]?.v, text);
    }
    assert.ok((await handle.json('SELECT count(*) AS n FROM named_query')).columns.includes('n'));
  } finally {
    (handle as Warehouse).close();
  }
});
