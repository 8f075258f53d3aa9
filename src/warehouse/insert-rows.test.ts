// Writing rows from objects, on a real DuckDB (in memory): one row, many, and in bulk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bulkInsert,
  columnsOf,
  insertIgnore,
  insertMany,
  insertRow,
  readCatalog,
  type Columns,
} from './insert-rows.js';
import { Warehouse } from './warehouse.js';

async function withTable(work: (w: Warehouse) => Promise<void>): Promise<void> {
  const w = await Warehouse.open(':memory:');
  try {
    await w.run(
      "CREATE TABLE t (id VARCHAR PRIMARY KEY, n BIGINT, x DOUBLE, ok BOOLEAN, note VARCHAR DEFAULT 'none')",
    );
    await work(w);
  } finally {
    w.close();
  }
}

test('one row: undefined members take their default, null is NULL; OR IGNORE keeps the row there', async () => {
  await withTable(async (w) => {
    await insertRow(w, 't', { id: 'a', n: 1, x: null, ok: true, note: undefined });
    await insertIgnore(w, 't', { id: 'a', n: 2, note: 'again' });
    await insertIgnore(w, 't', { id: 'b', n: 3 });
    assert.deepEqual(await w.all('SELECT id, n, x, ok, note FROM t ORDER BY id'), [
      { id: 'a', n: 1n, x: null, ok: true, note: 'none' },
      { id: 'b', n: 3n, x: null, ok: null, note: 'none' },
    ]);
    await assert.rejects(insertRow(w, 't', { id: 'a' }), /a/);
  });
});

test('many rows: in batches; a member missing from a row is NULL, a column no row has its default', async () => {
  await withTable(async (w) => {
    const catalog = await readCatalog(w);
    assert.deepEqual(
      columnsOf(catalog, 't').map((c) => [c.name, c.type, c.nullable]),
      [
        ['id', 'VARCHAR', false],
        ['n', 'BIGINT', true],
        ['x', 'DOUBLE', true],
        ['ok', 'BOOLEAN', true],
        ['note', 'VARCHAR', true],
      ],
    );
    assert.throws(() => columnsOf(catalog, 'nope'), /the warehouse has no table nope/);
    const rows: Columns[] = Array.from({ length: 1203 }, (_, i) =>
      i % 2 === 0 ? { x: i / 2, id: `r${i}` } : { id: `r${i}`, n: i },
    );
    await insertMany(w, catalog, 't', rows);
    await insertMany(w, catalog, 't', []);
    const [summary] = await w.all(
      "SELECT count(*) AS rows, count(n) AS n, count(x) AS x, count(*) FILTER (note = 'none') AS notes FROM t",
    );
    assert.deepEqual(summary, { rows: 1203n, n: 601n, x: 602n, notes: 1203n });
  });
});

test('bulk: the appender for many rows of types it writes, the same rows as INSERTs would give', async () => {
  await withTable(async (w) => {
    const catalog = await readCatalog(w);
    const rows: Columns[] = Array.from({ length: 700 }, (_, i) => ({
      id: `r${i}`,
      n: i + 0.4,
      x: i % 3 === 0 ? null : i * 1.5,
      ok: i % 2 === 0,
    }));
    await w.transaction(() => bulkInsert(w, catalog, 't', rows));
    assert.deepEqual(await w.all("SELECT id, n, x, ok, note FROM t WHERE id IN ('r0', 'r7') ORDER BY id"), [
      // The appender writes every column: a member missing from the row is NULL, not its default.
      { id: 'r0', n: 0n, x: null, ok: true, note: null },
      { id: 'r7', n: 7n, x: 10.5, ok: false, note: null },
    ]);
    assert.equal((await w.all('SELECT count(*) AS n FROM t'))[0]?.n, 700n);
  });
});
