/**
 * Writing rows given as plain objects, the one way ingest and the importers do it:
 * one row (`insertRow`, `insertIgnore`), rows in multi-row INSERTs (`insertMany`), or
 * in bulk through DuckDB's appender (`bulkInsert`), with the table's columns read
 * from the warehouse's catalog (migrations may add some).
 */
import type { DuckDBAppender } from '@duckdb/node-api';
import { InfermarkError } from '../base/errors.js';
import type { Warehouse } from './warehouse.js';

/** A row as an object: column name to value. */
export type Columns = Record<string, unknown>;

export interface ColumnInfo {
  name: string;
  /** DuckDB's type name: VARCHAR, INTEGER, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP WITH TIME ZONE, JSON, ... */
  type: string;
  nullable: boolean;
}

/** Every table's columns, in order, as the warehouse has them (migrations may add some). */
export type Catalog = Map<string, ColumnInfo[]>;

/** Reads every table's columns, in order, from the warehouse's information schema. */
export async function readCatalog(warehouse: Warehouse): Promise<Catalog> {
  const rows = await warehouse.all(
    `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
     WHERE table_schema = 'main' ORDER BY table_name, ordinal_position`,
  );
  const catalog: Catalog = new Map();
  for (const row of rows) {
    const table = String(row.table_name);
    const columns = catalog.get(table) ?? [];
    columns.push({
      name: String(row.column_name),
      type: String(row.data_type),
      nullable: row.is_nullable === 'YES',
    });
    catalog.set(table, columns);
  }
  return catalog;
}

/** A table's columns; an error when the warehouse has no such table. */
export function columnsOf(catalog: Catalog, table: string): ColumnInfo[] {
  const columns = catalog.get(table);
  if (!columns) throw new InfermarkError('E_NO_TABLE', `the warehouse has no table ${table}`);
  return columns;
}

/** INSERT of one row from an object; undefined members are left to their default (NULL). */
export async function insertRow(warehouse: Warehouse, table: string, row: Columns): Promise<void> {
  await insertOne(warehouse, 'INSERT INTO', table, row);
}

/** INSERT OR IGNORE: a dimension row already there (same digest) stays as it is. */
export async function insertIgnore(warehouse: Warehouse, table: string, row: Columns): Promise<void> {
  await insertOne(warehouse, 'INSERT OR IGNORE INTO', table, row);
}

async function insertOne(warehouse: Warehouse, verb: string, table: string, row: Columns): Promise<void> {
  const names = Object.keys(row).filter((name) => row[name] !== undefined);
  const { tuples, params } = valueTuples([row], names);
  await warehouse.run(`${verb} ${table} (${names.join(', ')}) VALUES ${tuples}`, params);
}

/** Rows per INSERT statement (and the least number of rows worth the appender). */
const BATCH_ROWS = 500;

/** Multi-row INSERTs of rows whose columns the table has; a member missing from a row is NULL. */
export async function insertMany(
  warehouse: Warehouse,
  catalog: Catalog,
  table: string,
  rows: Columns[],
): Promise<void> {
  if (rows.length === 0) return;
  const present = new Set(rows.flatMap((row) => Object.keys(row)));
  const names = columnsOf(catalog, table)
    .map((c) => c.name)
    .filter((name) => present.has(name));
  for (let start = 0; start < rows.length; start += BATCH_ROWS) {
    const { tuples, params } = valueTuples(rows.slice(start, start + BATCH_ROWS), names);
    await warehouse.run(`INSERT INTO ${table} (${names.join(', ')}) VALUES ${tuples}`, params);
  }
}

/** `($1, $2), ($3, $4)` for the rows' values under `names` (a missing one is NULL), and those values. */
function valueTuples(rows: readonly Columns[], names: readonly string[]): { tuples: string; params: never } {
  const params: unknown[] = [];
  const tuples = rows.map((row) => {
    const placeholders = names.map((name) => {
      params.push(row[name] ?? null);
      return `$${params.length}`;
    });
    return `(${placeholders.join(', ')})`;
  });
  // DuckDB's parameter type is a union of its value classes; the rows hold plain JS values it accepts.
  return { tuples: tuples.join(', '), params: params as never };
}

type Append = (appender: DuckDBAppender, value: unknown) => void;

/** How the appender writes a value of each column type it is used for. */
const APPENDERS: Readonly<Record<string, Append>> = {
  VARCHAR: (a, v) => a.appendVarchar(String(v)),
  INTEGER: (a, v) => a.appendInteger(v as number),
  BIGINT: (a, v) => a.appendBigInt(BigInt(Math.round(v as number))),
  DOUBLE: (a, v) => a.appendDouble(v as number),
  BOOLEAN: (a, v) => a.appendBoolean(v as boolean),
};

/**
 * Rows in bulk: DuckDB's appender (inside the open transaction) when every column's
 * type is one it is used for, which makes large request tables fast; else INSERTs.
 */
export async function bulkInsert(
  warehouse: Warehouse,
  catalog: Catalog,
  table: string,
  rows: Columns[],
): Promise<void> {
  const columns = columnsOf(catalog, table);
  const appenders = columns.map((c) => APPENDERS[c.type]);
  if (rows.length <= BATCH_ROWS || appenders.some((a) => a === undefined))
    return insertMany(warehouse, catalog, table, rows);
  const appender = await warehouse.connection.createAppender(table);
  try {
    for (const row of rows) {
      columns.forEach((column, i) => {
        const value = row[column.name];
        if (value === null || value === undefined) appender.appendNull();
        else (appenders[i] as Append)(appender, value);
      });
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}
