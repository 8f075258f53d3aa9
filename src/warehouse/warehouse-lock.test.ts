/**
 * DuckDB lets one process write a file, or many read it. Opening the warehouse
 * while another process holds it (the dashboard, another run's ingest) waits for
 * the lock instead of failing at once, announcing itself as a waiting writer;
 * past the wait it fails as busy (exit 75). A damaged file is corrupt, not busy,
 * and any other DuckDB error names the file and carries a code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfermarkError } from '../base/errors.js';
import { Warehouse } from './warehouse.js';
import { WAREHOUSE_BUSY_EXIT } from './warehouse-errors.js';
import { announceWriter, intentPath, writerWaiting } from './writer-intent.js';

const MODULE = fileURLToPath(new URL('./warehouse.js', import.meta.url));

/** Another process that opens the file read-only, says so, and holds it for `holdMs`. */
function holdInAnotherProcess(path: string, holdMs: number): Promise<() => Promise<void>> {
  const script = `const { Warehouse } = await import(${JSON.stringify(MODULE)});
const w = await Warehouse.open(${JSON.stringify(path)}, { readOnly: true });
process.stdout.write('held\\n');
setTimeout(() => { w.close(); process.exit(0); }, ${holdMs});`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(() => exited));
    child.once('error', reject);
  });
}

test('opening for writing waits while another process reads the file, then proceeds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-lock-'));
  try {
    const path = join(dir, 'w.duckdb');
    (await Warehouse.open(path)).close();
    const exited = await holdInAnotherProcess(path, 800);
    const started = Date.now();
    const warehouse = await Warehouse.open(path, { lockWaitMs: 10_000 });
    const waited = Date.now() - started;
    warehouse.close();
    await exited();
    assert.ok(waited >= 300, `opened after ${waited} ms, while the other process still held the file`);

    const held = await holdInAnotherProcess(path, 3_000);
    const waiting = Warehouse.open(path, { lockWaitMs: 1_000 });
    // While it waits, the writer says so (the dashboard lets go when it reads this).
    let announced = false;
    for (let i = 0; i < 40 && !announced; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      announced = await writerWaiting(path);
    }
    await assert.rejects(waiting, (error: unknown) => {
      assert.ok(error instanceof InfermarkError, String(error));
      assert.equal(error.code, 'E_WAREHOUSE_BUSY');
      assert.equal(error.exitCode, WAREHOUSE_BUSY_EXIT);
      assert.match(error.message, /^warehouse busy \(E_WAREHOUSE_BUSY\): another process holds /);
      assert.ok(error.message.includes(path), error.message);
      assert.match(error.message, /Could not set lock/);
      return true;
    });
    assert.ok(announced, 'the waiting writer announced itself');
    assert.equal(await writerWaiting(path), false, 'and withdrew when it gave up');
    await held();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A copy of `path` with 16 bytes inverted at `offset`. */
async function flipped(path: string, copy: string, offset: number): Promise<string> {
  await copyFile(path, copy);
  const bytes = await readFile(copy);
  for (let i = 0; i < 16; i++) bytes[offset + i] = (bytes[offset + i] as number) ^ 0xff;
  await writeFile(copy, bytes);
  return copy;
}

test('a bit-flipped warehouse is corrupt, not busy; other DuckDB errors name the file and a code', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-corrupt-'));
  try {
    const path = join(dir, 'w.duckdb');
    (await Warehouse.open(path)).close();
    // The database headers sit at 4096 and 8192: DuckDB's checksum error names the
    // "block at location 4096", which a match on /lock/ took for a held lock.
    const broken = await flipped(path, join(dir, 'broken.duckdb'), 4096 + 20);
    const header = await flipped(path, join(dir, 'header.duckdb'), 8);
    for (const file of [broken, header]) {
      await assert.rejects(Warehouse.open(file, { readOnly: true, lockWaitMs: 300 }), (error: unknown) => {
        assert.ok(error instanceof InfermarkError, String(error));
        assert.equal(error.code, 'E_WAREHOUSE_CORRUPT', error.message);
        assert.equal(error.exitCode, 1);
        assert.ok(
          error.message.startsWith(`warehouse ${file} is corrupt (E_WAREHOUSE_CORRUPT)`),
          error.message,
        );
        assert.doesNotMatch(error.message, /busy|being written/);
        return true;
      });
    }

    const warehouse = await Warehouse.open(path, { readOnly: true });
    try {
      await assert.rejects(warehouse.all('SELEC 1'), (error: unknown) => {
        assert.ok(error instanceof InfermarkError, String(error));
        assert.equal(error.code, 'E_DUCKDB');
        assert.match(
          error.message,
          /^warehouse .+ \(E_DUCKDB\): Parser Error: syntax error at or near "SELEC"/,
        );
        assert.ok(error.message.includes(path));
        assert.ok(error.cause instanceof Error, "DuckDB's own error is the cause");
        return true;
      });
    } finally {
      warehouse.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a writer announcement counts only while its process lives and for 10 minutes at most', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-intent-'));
  try {
    const path = join(dir, 'w.duckdb');
    const withdraw = await announceWriter(path);
    assert.equal(await writerWaiting(path), true);
    assert.equal(await writerWaiting(path, Date.now() + 11 * 60_000), false, 'stale after 10 minutes');
    await withdraw();
    assert.equal(await writerWaiting(path), false);
    // A writer killed while it waited leaves its file: a pid that is gone does not count.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(intentPath(path), JSON.stringify({ pid: gone, since_ms: Date.now() }));
    assert.equal(await writerWaiting(path), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
