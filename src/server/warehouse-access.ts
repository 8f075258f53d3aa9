/**
 * The dashboard's hold on the warehouse: opened read-only on demand and closed
 * again after a short idle time, because DuckDB lets a file have one writer or
 * readers, never both: a dashboard left open must not stop `infermark run` from
 * ingesting. Work is serialized, one query at a time on one connection. A page
 * polled more often than the idle time would still hold it forever, so before each
 * request the dashboard looks for a waiting writer (writer-intent.ts) and, when
 * there is one, closes the file and answers busy until the writer is done.
 */
import { ExitCode, InfermarkError } from '../base/errors.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { writerWaiting } from '../warehouse/writer-intent.js';

const busy = (why: string): InfermarkError =>
  new InfermarkError('E_WAREHOUSE_BUSY', `the warehouse is being written (${why}); try again in a moment`);

export class WarehouseAccess {
  private warehouse: Warehouse | null = null;
  private opening: Promise<Warehouse> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly path: string,
    private readonly idleCloseMs = 2_000,
  ) {}

  /** Runs `work` with the warehouse open; calls are queued, never concurrent. */
  use<T>(work: (warehouse: Warehouse) => Promise<T>): Promise<T> {
    this.pending += 1;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const result = this.queue.then(async () => {
      if (await writerWaiting(this.path)) {
        this.closeNow();
        throw busy('a run is waiting to ingest');
      }
      return work(await this.open());
    });
    this.queue = result.catch(() => undefined).finally(() => this.release());
    return result;
  }

  /** Closes the warehouse now (the server is stopping). */
  async close(): Promise<void> {
    await this.queue;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.warehouse?.close();
    this.warehouse = null;
  }

  private release(): void {
    this.pending -= 1;
    if (this.pending > 0 || this.warehouse === null) return;
    this.idleTimer = setTimeout(() => {
      if (this.pending > 0) return;
      this.closeNow();
    }, this.idleCloseMs);
    this.idleTimer.unref();
  }

  /** Lets go of the file; only called between queued calls, never under one. */
  private closeNow(): void {
    this.warehouse?.close();
    this.warehouse = null;
  }

  private async open(): Promise<Warehouse> {
    if (this.warehouse) return this.warehouse;
    this.opening ??= openReadOnly(this.path);
    try {
      this.warehouse = await this.opening;
      return this.warehouse;
    } finally {
      this.opening = null;
    }
  }
}

async function openReadOnly(path: string): Promise<Warehouse> {
  const { Warehouse } = await import('../warehouse/warehouse.js');
  let warehouse: Warehouse;
  try {
    // A page waits a moment for an ingest to end, then answers 503 (Retry-After) rather than hang.
    warehouse = await Warehouse.open(path, { readOnly: true, lockWaitMs: 1_000 });
  } catch (error) {
    // Warehouse.open has told a held lock (busy) from a damaged file (corrupt) by DuckDB's own error.
    const code = error instanceof InfermarkError ? error.code : '';
    if (code === 'E_WAREHOUSE_BUSY') throw busy('a run is ingesting');
    if (code === 'E_WAREHOUSE_CORRUPT') throw error;
    const message = (error as Error).message;
    if (/does not exist|No such file|Cannot open/i.test(message)) {
      throw new InfermarkError(
        'E_NO_WAREHOUSE',
        `no warehouse at ${path} (ingest a run first)`,
        ExitCode.badInput,
      );
    }
    throw error;
  }
  // The dashboard only reads the warehouse: no files, no network, no ATTACH.
  await warehouse.run('SET enable_external_access = false; SET lock_configuration = true');
  return warehouse;
}
