/**
 * A writer waiting for the warehouse says so in a file beside it
 * (`<warehouse>.writer-waiting`: its pid and since when). DuckDB lets a file have
 * one writer or many readers, and gives no writer priority: a dashboard polled
 * every 0.5 s would hold its read lock forever. The dashboard checks this file
 * before each request and lets go of the warehouse while a writer waits, so an
 * ingest gets the file within one query's time.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';

/** An announcement older than this is stale whatever its pid says (the pid may have been reused). */
const STALE_AFTER_MS = 10 * 60_000;

export function intentPath(warehousePath: string): string {
  return `${warehousePath}.writer-waiting`;
}

interface Intent {
  pid: number;
  since_ms: number;
}

/** Announces this process as a waiting writer; the returned function withdraws it (only its own). */
export async function announceWriter(warehousePath: string): Promise<() => Promise<void>> {
  const path = intentPath(warehousePath);
  const intent: Intent = { pid: process.pid, since_ms: Date.now() };
  // Best effort: a folder we cannot write to only loses the dashboard's courtesy.
  await writeFile(path, JSON.stringify(intent)).catch(() => undefined);
  return async () => {
    const current = await readIntent(path);
    if (current?.pid === process.pid) await rm(path, { force: true }).catch(() => undefined);
  };
}

/** Whether a live process is waiting to write the warehouse. */
export async function writerWaiting(warehousePath: string, now_ms: number = Date.now()): Promise<boolean> {
  const intent = await readIntent(intentPath(warehousePath));
  if (!intent || now_ms - intent.since_ms > STALE_AFTER_MS) return false;
  return isAlive(intent.pid);
}

async function readIntent(path: string): Promise<Intent | null> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<Intent>;
    return Number.isSafeInteger(value.pid) && Number.isFinite(value.since_ms) ? (value as Intent) : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
