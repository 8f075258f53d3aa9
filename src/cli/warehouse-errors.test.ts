/**
 * DuckDB failures through the built CLI: a clear line naming the warehouse and a
 * code, exit 1, no "internal error" and no stack trace unless --debug. DuckDB on
 * disk; no server needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Warehouse } from '../warehouse/warehouse.js';
import { assertNoStack, cli } from './testing/harness.js';

test('a DuckDB error is a line with the warehouse path and E_DUCKDB, exit 1; --debug adds the stack', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-duckdb-errors-'));
  try {
    const path = join(dir, 'w.duckdb');
    (await Warehouse.open(path)).close();

    const bad = await cli(['warehouse', 'query', 'SELEC 1', '--warehouse', path]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(
      bad.stderr,
      /^infermark: warehouse \S+w\.duckdb \(E_DUCKDB\): Parser Error: syntax error at or near "SELEC"$/m,
    );
    assert.doesNotMatch(bad.stderr, /internal error/);
    assertNoStack(bad);

    const debug = await cli(['--debug', 'warehouse', 'query', 'SELEC 1', '--warehouse', path]);
    assert.equal(debug.code, 1, debug.stderr);
    assert.match(debug.stderr, /^ {4}at /m, 'the stack, with --debug');
    assert.match(debug.stderr, /^caused by: Error: Parser Error/m, "and DuckDB's own error");

    // A damaged file: corrupt, with what to do, not an internal error nor "busy".
    const bytes = await readFile(path);
    for (let i = 0; i < 16; i++) bytes[4096 + 20 + i] = (bytes[4096 + 20 + i] as number) ^ 0xff;
    await writeFile(path, bytes);
    const corrupt = await cli(['warehouse', 'runs', '--warehouse', path]);
    assert.equal(corrupt.code, 1, corrupt.stderr);
    assert.match(
      corrupt.stderr,
      /^infermark: warehouse \S+w\.duckdb is corrupt \(E_WAREHOUSE_CORRUPT\): restore it from a backup, or move it aside and ingest the run folders again \(DuckDB: IO Error: Corrupt database file/m,
    );
    assertNoStack(corrupt);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
