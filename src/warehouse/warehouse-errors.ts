/**
 * DuckDB's errors as a user reads them: the warehouse's path, a stable code (also
 * in the message, which is all the CLI prints) and DuckDB's own words, instead of an "internal error" with a stack. A lock held by
 * another process (busy: try again) is told apart from a damaged file (corrupt:
 * trying again will not help) by DuckDB's message, not by a loose match on "lock"
 * (a checksum error names the "block at location ..." it could not read).
 */
import { ExitCode, InfermarkError } from '../base/errors.js';

/** Exit code when another process holds the warehouse past the wait (EX_TEMPFAIL: try again later). */
export const WAREHOUSE_BUSY_EXIT = ExitCode.tempFail;

export type WarehouseErrorCode = 'E_WAREHOUSE_BUSY' | 'E_WAREHOUSE_CORRUPT' | 'E_DUCKDB';

const LOCK = /Could not set lock on file/i;
const CORRUPT =
  /not a valid DuckDB database file|Corrupt database file|does not match stored checksum|database file is corrupted|file is truncated|Serialization Error/i;

/** Whether an error came from DuckDB (its messages open with `<Kind> Error: `). */
export function isDuckDbError(error: unknown): error is Error {
  return (
    error instanceof Error &&
    !(error instanceof InfermarkError) &&
    /^[A-Z][A-Za-z ]{1,40} Error: /.test(error.message)
  );
}

/** Which kind of warehouse failure a DuckDB message describes. */
export function classifyDuckDbMessage(message: string): WarehouseErrorCode {
  if (LOCK.test(message)) return 'E_WAREHOUSE_BUSY';
  if (CORRUPT.test(message)) return 'E_WAREHOUSE_CORRUPT';
  return 'E_DUCKDB';
}

/**
 * The InfermarkError for a DuckDB error on the warehouse at `path`; anything else
 * (an InfermarkError of ours thrown inside a transaction, a bug) is returned as it is.
 * The DuckDB error stays the cause, for --debug.
 */
export function warehouseError(path: string, error: unknown): unknown {
  if (!isDuckDbError(error)) return error;
  const said = error.message.trim();
  const code = classifyDuckDbMessage(said);
  if (code === 'E_WAREHOUSE_BUSY') {
    return new InfermarkError(
      code,
      `warehouse busy (${code}): another process holds ${path} (DuckDB: ${said})`,
      WAREHOUSE_BUSY_EXIT,
      { cause: error },
    );
  }
  if (code === 'E_WAREHOUSE_CORRUPT') {
    return new InfermarkError(
      code,
      `warehouse ${path} is corrupt (${code}): restore it from a backup, or move it aside and ingest the run folders again (DuckDB: ${said})`,
      ExitCode.failure,
      { cause: error },
    );
  }
  return new InfermarkError(code, `warehouse ${path} (${code}): ${said}`, ExitCode.failure, { cause: error });
}
