/**
 * DuckDB lets one process write a file, or many read it. Opening the warehouse
 * while another process holds it (the dashboard, another run's ingest) waits for
 * the lock instead of failing at once; past the wait it fails with DuckDB's error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Warehouse } from './warehouse.js';

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
    await assert.rejects(Warehouse.open(path, { lockWaitMs: 300 }), /Could not set lock/);
    await held();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
