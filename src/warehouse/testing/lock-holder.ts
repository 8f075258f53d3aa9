/**
 * Test support: another process that holds a warehouse open (DuckDB's file lock), as a
 * run's ingest does, until released. Tests of lock contention need a real second process:
 * DuckDB's lock is per process, so a second open in the test's own process is not contention.
 */
import { spawn } from 'node:child_process';

export interface LockHolder {
  /** Closes the warehouse and waits for the process to exit. */
  release(): Promise<void>;
}

/** Resolves once the other process has the warehouse at `path` open. */
export async function holdWarehouse(path: string): Promise<LockHolder> {
  const module = new URL('../warehouse.js', import.meta.url).href;
  const writer = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { Warehouse } = await import(${JSON.stringify(module)}); const w = await Warehouse.open(${JSON.stringify(path)}); process.stdout.write('open\\n'); process.stdin.resume(); process.stdin.on('end', () => { w.close(); process.exit(0); });`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => writer.once('exit', () => resolve()));
  const release = async (): Promise<void> => {
    writer.stdin.end();
    await exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      writer.stdout.once('data', () => resolve());
      writer.once('exit', (code) => reject(new Error(`warehouse holder exited ${code}`)));
    });
  } catch (error) {
    await release();
    throw error;
  }
  return { release };
}
