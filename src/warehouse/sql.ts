/**
 * What the warehouse's modules run SQL through: rows, parameters, and the statement
 * methods of an open warehouse. A module that only reads and writes rows types its
 * handle with this, not with the DuckDB file class (warehouse.ts), so the class may
 * itself use such modules (it seeds the named queries when it opens a file).
 */
import type { DuckDBValue } from '@duckdb/node-api';

export type SqlParams = DuckDBValue[] | Record<string, DuckDBValue>;
export type Row = Record<string, unknown>;

/** The statement methods of an open warehouse (see Warehouse for what each returns). */
export interface SqlHandle {
  /** Runs a statement; returns the rows it changed. */
  run(sql: string, params?: SqlParams): Promise<number>;
  /** Runs a query; rows as plain JS values. */
  all(sql: string, params?: SqlParams): Promise<Row[]>;
  /** Runs a query; rows as JSON-safe values, with the column names in order. */
  json(sql: string, params?: SqlParams): Promise<{ columns: string[]; rows: Row[] }>;
}

/** A SQL string literal (for table-function arguments, which cannot be bound parameters). */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
