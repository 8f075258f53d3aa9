/**
 * The curated store: one embedded DuckDB file (`--warehouse PATH`, else
 * $INFERMARK_WAREHOUSE, else `<user data dir>/infermark/warehouse.duckdb`). Opening
 * it applies any migration it has not seen yet, in order, each in a transaction.
 * Raw evidence stays in run folders; only curated rows live here.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MIGRATIONS } from './migrations.js';
import { seedNamedQueries } from './queries.js';
import type { Row, SqlHandle, SqlParams } from './sql.js';
import { warehouseError } from './warehouse-errors.js';
import { announceWriter } from './writer-intent.js';

/** Where the warehouse lives when no path is given. */
export function defaultWarehousePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.INFERMARK_WAREHOUSE) return env.INFERMARK_WAREHOUSE;
  const dataHome = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(dataHome, 'infermark', 'warehouse.duckdb');
}

export class Warehouse implements SqlHandle {
  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    readonly readOnly: boolean,
  ) {}

  /**
   * Opens (creating if needed) and migrates; `readOnly` opens an existing file without
   * write access. DuckDB allows one writer or many readers per file: while another
   * process holds it (the dashboard between requests, another run's ingest), opening
   * waits and retries for up to `lockWaitMs` before it gives up (E_WAREHOUSE_BUSY, exit 75).
   * A writer that has to wait announces itself (writer-intent.ts) so the dashboard lets go.
   * Every DuckDB error becomes an InfermarkError naming the file (warehouse-errors.ts).
   */
  static async open(
    path: string,
    options: { readOnly?: boolean; lockWaitMs?: number } = {},
  ): Promise<Warehouse> {
    const readOnly = options.readOnly === true;
    if (!readOnly && path !== ':memory:') await mkdir(dirname(path), { recursive: true });
    let instance: DuckDBInstance;
    let connection: DuckDBConnection;
    try {
      instance = await openWaitingForLock(path, readOnly, options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
      connection = await instance.connect();
    } catch (error) {
      throw warehouseError(path, error);
    }
    const warehouse = new Warehouse(path, instance, connection, readOnly);
    if (!readOnly) {
      try {
        await warehouse.migrate();
        await seedNamedQueries(warehouse);
      } catch (error) {
        warehouse.close();
        throw error;
      }
    }
    return warehouse;
  }

  /** Opens the warehouse, runs `work` on it, and closes it whatever happens. */
  static async using<T>(
    path: string,
    options: { readOnly?: boolean; lockWaitMs?: number },
    work: (warehouse: Warehouse) => Promise<T>,
  ): Promise<T> {
    const warehouse = await Warehouse.open(path, options);
    try {
      return await work(warehouse);
    } finally {
      warehouse.close();
    }
  }

  /** Runs a statement; returns the rows it changed (inserted, updated, deleted). */
  async run(sql: string, params?: SqlParams): Promise<number> {
    try {
      return (await this.connection.run(sql, params)).rowsChanged;
    } catch (error) {
      throw warehouseError(this.path, error);
    }
  }

  /** Runs a query; rows as plain JS values (BIGINT as bigint, TIMESTAMP as Date). */
  async all(sql: string, params?: SqlParams): Promise<Row[]> {
    try {
      const reader = await this.connection.runAndReadAll(sql, params);
      return reader.getRowObjectsJS() as Row[];
    } catch (error) {
      throw warehouseError(this.path, error);
    }
  }

  /** Runs a query; rows as JSON-safe values, with the column names in order. */
  async json(sql: string, params?: SqlParams): Promise<{ columns: string[]; rows: Row[] }> {
    try {
      const reader = await this.connection.runAndReadAll(sql, params);
      return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() as Row[] };
    } catch (error) {
      throw warehouseError(this.path, error);
    }
  }

  /** Runs `work` in one transaction: all of it or none of it. */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.run('BEGIN TRANSACTION');
    try {
      const result = await work();
      await this.run('COMMIT');
      return result;
    } catch (error) {
      await this.run('ROLLBACK');
      throw error;
    }
  }

  /** The highest migration applied. */
  async schemaVersion(): Promise<number> {
    const rows = await this.all('SELECT coalesce(max(version), 0) AS v FROM schema_migration');
    return Number(rows[0]?.v ?? 0);
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }

  private async migrate(): Promise<void> {
    await this.run(
      'CREATE TABLE IF NOT EXISTS schema_migration (version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)',
    );
    const applied = await this.schemaVersion();
    for (const migration of MIGRATIONS) {
      if (migration.version <= applied) continue;
      await this.transaction(async () => {
        for (const statement of migration.statements) await this.run(statement);
        await this.run('INSERT INTO schema_migration VALUES ($1, $2, now())', [
          migration.version,
          migration.description,
        ]);
      });
    }
  }
}

/** Long enough for the dashboard to let go of the file (it closes it after 2 s idle) and for an ingest to end. */
export const DEFAULT_LOCK_WAIT_MS = 15_000;

async function openWaitingForLock(path: string, readOnly: boolean, waitMs: number): Promise<DuckDBInstance> {
  const deadline = Date.now() + waitMs;
  let withdraw: (() => Promise<void>) | null = null;
  try {
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await DuckDBInstance.create(path, readOnly ? { access_mode: 'READ_ONLY' } : {});
      } catch (error) {
        if (!/Could not set lock/i.test((error as Error).message) || Date.now() + delay > deadline)
          throw error;
        if (!readOnly && path !== ':memory:') withdraw ??= await announceWriter(path);
        await sleep(delay);
      }
    }
  } finally {
    await withdraw?.();
  }
}
