/**
 * What every `infermark warehouse ...` command shares (its --warehouse and --format
 * options, opening the warehouse, printing rows, number flags), apart from the
 * commands themselves so the sub-command files need not import the file that
 * registers them.
 */
import type { Command } from 'commander';
import { ValidationError } from '../base/errors.js';
import { formatRows, ROW_FORMATS, type RowFormat } from '../warehouse/format-rows.js';

// The warehouse module loads DuckDB's native library: imported only by the commands that use it.
import type { Warehouse } from '../warehouse/warehouse.js';

export interface OutputFlags {
  warehouse?: string;
  format?: string;
}

/** The options every warehouse command takes. */
export function common(command: Command): Command {
  return command
    .option('--warehouse <path>', 'warehouse file (default: $INFERMARK_WAREHOUSE or the user data dir)')
    .option('--format <format>', 'table, csv or json', 'table');
}

/** Opens the warehouse (read-only for queries), runs `work`, closes it. */
export async function withWarehouse(
  flags: OutputFlags,
  readOnly: boolean,
  work: (w: Warehouse) => Promise<void>,
  lockWaitMs?: number,
): Promise<void> {
  outputFormat(flags);
  const { defaultWarehousePath } = await import('../warehouse/warehouse.js');
  const path = flags.warehouse ?? defaultWarehousePath();
  const warehouse = await openOrExplain(path, readOnly, lockWaitMs);
  try {
    // User SQL reads the warehouse and nothing else: no files, no network, no ATTACH.
    if (readOnly) await warehouse.run('SET enable_external_access = false; SET lock_configuration = true');
    await work(warehouse);
  } finally {
    warehouse.close();
  }
}

async function openOrExplain(path: string, readOnly: boolean, lockWaitMs?: number): Promise<Warehouse> {
  try {
    const { Warehouse } = await import('../warehouse/warehouse.js');
    return await Warehouse.open(path, { readOnly, ...(lockWaitMs === undefined ? {} : { lockWaitMs }) });
  } catch (error) {
    const message = (error as Error).message;
    if (readOnly && /does not exist|No such file|Cannot open/i.test(message)) {
      throw new ValidationError([
        { path: '--warehouse', value: path, message: 'no warehouse there yet (ingest a run first)' },
      ]);
    }
    throw error;
  }
}

/** The --format flag, checked. */
export function outputFormat(flags: OutputFlags): RowFormat {
  const value = flags.format ?? 'table';
  if (!(ROW_FORMATS as readonly string[]).includes(value)) {
    throw new ValidationError([
      { path: '--format', value, message: `expected one of ${ROW_FORMATS.join(', ')}` },
    ]);
  }
  return value as RowFormat;
}

export function print(columns: string[], rows: Record<string, unknown>[], flags: OutputFlags): void {
  process.stdout.write(formatRows(columns, rows, outputFormat(flags)));
}

export function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new ValidationError([{ path: flag, value: text, message: 'expected a positive number' }]);
  }
  return value;
}
