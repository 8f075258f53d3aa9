/**
 * Export for scale: every canonical table as Parquet in a Hive-partitioned layout,
 * so DuckDB, ClickHouse, Trino or Spark read the same warehouse once a team
 * outgrows one file:
 *
 *   <to>/table=<name>/date=<YYYY-MM-DD>/data_0.parquet   rows of runs started that UTC day
 *   <to>/table=<name>/date=__HIVE_DEFAULT_PARTITION__/…   rows whose run has no start time
 *   <to>/table=<name>/date=all/data_0.parquet            dimension tables (no run of their own)
 *   <to>/_manifest.json                                  tables, row counts, files with sha256
 *
 * A row's date is its run's `benchmark_run_fact.started_at` (UTC), joined by
 * `run_id`; a row whose run has no start time (or no run fact) goes to Hive's
 * NULL partition, so no row is lost. Dimension tables are shared by many runs and
 * are written whole under `date=all` (an export date would make the same data
 * land in a different place every day). Partition columns are not in the files,
 * as the Hive convention has it: readers get `table` and `date` from the path.
 *
 * Same data → same bytes: each partition is one file written with its rows in a
 * total order (ORDER BY ALL), and the manifest holds no timestamp. A local export
 * replaces each table's folder whole, so partitions of pruned runs go; a store
 * export skips objects already there with the same digest, and reports (never
 * deletes: the store interface has no delete) objects no longer in the manifest.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestFile, type FileDigests } from '../base/digest.js';
import { parseStorageUri } from '../spec/storage-uri.js';
import { DEFAULT_RETRY, preflightStore, withRetry } from '../storage/retry-policy.js';
import { StorageError } from '../storage/storage-error.js';
import type { ObjectStore, ObjectToPut } from '../storage/object-store.js';
import { CANONICAL_TABLES } from './migrations.js';
import { type Warehouse } from './warehouse.js';
import { sqlString } from './sql.js';

export const EXPORT_MANIFEST = '_manifest.json';
/** Hive's name for the partition of NULL values (DuckDB, Spark and Trino read it as NULL). */
export const NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';
/** The partition of tables that have no run (dimensions). */
export const ALL_PARTITION = 'all';
const DATA_FILE = 'data_0.parquet';

export interface ExportedFile {
  /** Relative to the export root, `/`-separated. */
  path: string;
  /** The partition: `YYYY-MM-DD`, `all` or NULL_PARTITION. */
  date: string;
  rows: number;
  size_bytes: number;
  /** `sha256:<hex>`. */
  sha256: string;
}

export interface ExportedTable {
  name: string;
  /** `run_date`: by its run's started_at (UTC day); `none`: one `date=all` partition. */
  partitioned_by: 'run_date' | 'none';
  rows: number;
  columns: { name: string; type: string }[];
  files: ExportedFile[];
}

export interface ExportManifest {
  format: 'infermark-warehouse-export';
  format_version: 1;
  /** The warehouse's schema version (its highest migration). */
  schema_version: number;
  layout: string;
  tables: ExportedTable[];
}

export interface ExportResult {
  /** The directory or store written to (a store as its display form, never a credential). */
  target: string;
  manifest: ExportManifest;
  /** Digest of `_manifest.json` as written. */
  manifest_sha256: string;
  files: number;
  rows: number;
  /** Files (objects) written, and those already there with the same bytes (stores only). */
  written: number;
  unchanged: number;
  bytes_written: number;
  /** Objects under `table=` in the store that this export no longer lists (left in place). */
  stale: string[];
}

export interface ExportOptions {
  /** For a store URI: its parameters (credentials, endpoint), as `outputLocation.parameters`. */
  parameters?: Record<string, string>;
  env?: Record<string, string | undefined>;
}

/** Exports to a local folder (a path or file:// URI) or to a store URI (s3://, az://, gs://, oci://, ...). */
export async function exportWarehouse(
  warehouse: Warehouse,
  to: string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const parsed = parseStorageUri(to);
  if (parsed.ok && parsed.location.scheme === 'file')
    return exportToDirectory(warehouse, parsed.location.path);
  const { openLocation } = await import('../storage/open-location.js');
  const store = await openLocation({
    uri: to,
    parameters: options.parameters ?? {},
    source: { path: '--to' },
    ...(options.env ? { env: options.env } : {}),
  });
  try {
    return await exportToStore(warehouse, store);
  } finally {
    await store.close();
  }
}

/**
 * Writes the export into `dir` (created if needed). Each table's folder is written
 * beside the old one and swapped in, then the manifest is written last.
 */
export async function exportToDirectory(warehouse: Warehouse, dir: string): Promise<ExportResult> {
  await mkdir(dir, { recursive: true });
  // Inside the target so the swap is a rename on one filesystem; dot-named, so `table=*` globs miss it.
  const staging = await mkdtemp(join(dir, '.export-'));
  try {
    const { manifest, text } = await writeTables(warehouse, staging);
    for (const table of manifest.tables) {
      const final = join(dir, `table=${table.name}`);
      const old = join(staging, `old-${table.name}`);
      await rename(final, old).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      if (table.files.length > 0) await rename(join(staging, `table=${table.name}`), final);
    }
    await writeFile(join(staging, EXPORT_MANIFEST), text);
    await rename(join(staging, EXPORT_MANIFEST), join(dir, EXPORT_MANIFEST));
    const files = manifest.tables.flatMap((t) => t.files);
    return {
      target: dir,
      manifest,
      manifest_sha256: (await digestFile(join(dir, EXPORT_MANIFEST))).sha256,
      files: files.length,
      rows: sumRows(manifest),
      written: files.length,
      unchanged: 0,
      bytes_written: files.reduce((sum, f) => sum + f.size_bytes, 0),
      stale: [],
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Writes the export to a temporary folder, then puts each file in the store and the manifest last. */
export async function exportToStore(warehouse: Warehouse, store: ObjectStore): Promise<ExportResult> {
  await preflightStore(store);
  const staging = await mkdtemp(join(tmpdir(), 'infermark-export-'));
  try {
    const { manifest } = await writeTables(warehouse, staging);
    const files = manifest.tables.flatMap((t) => t.files);
    const result: ExportResult = {
      target: store.display,
      manifest,
      manifest_sha256: '',
      files: files.length,
      rows: sumRows(manifest),
      written: 0,
      unchanged: 0,
      bytes_written: 0,
      stale: [],
    };
    // Digests with MD5: stores check Content-MD5 on arrival.
    const ship = async (path: string, digests: FileDigests, contentType: string): Promise<void> => {
      const wrote = await withRetry(path, DEFAULT_RETRY, {}, () =>
        putUnlessSame(store, {
          key: path,
          localPath: join(staging, ...path.split('/')),
          ...digests,
          content_type: contentType,
        }),
      );
      if (wrote) {
        result.written++;
        result.bytes_written += digests.size_bytes;
      } else {
        result.unchanged++;
      }
    };
    for (const file of files) {
      await ship(
        file.path,
        await digestFile(join(staging, ...file.path.split('/')), { md5: true }),
        'application/vnd.apache.parquet',
      );
    }
    // The manifest last: a store whose manifest is there holds every file it lists.
    const manifestDigests = await digestFile(join(staging, EXPORT_MANIFEST), { md5: true });
    await ship(EXPORT_MANIFEST, manifestDigests, 'application/json');
    result.manifest_sha256 = manifestDigests.sha256;
    const listed = new Set(files.map((f) => f.path));
    result.stale = (await store.list('table='))
      .map((o) => o.key)
      .filter((key) => !listed.has(key))
      .sort();
    return result;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Writes every canonical table's partitions and the manifest under `root`. */
async function writeTables(
  warehouse: Warehouse,
  root: string,
): Promise<{ manifest: ExportManifest; text: string }> {
  const order = await warehouse.all("SELECT current_setting('preserve_insertion_order') AS enabled");
  if (order[0]?.enabled !== true) await warehouse.run('SET preserve_insertion_order = true');
  const tables: ExportedTable[] = [];
  for (const name of CANONICAL_TABLES) tables.push(await writeTable(warehouse, root, name));
  const manifest: ExportManifest = {
    format: 'infermark-warehouse-export',
    format_version: 1,
    schema_version: await warehouse.schemaVersion(),
    layout: `table=<name>/date=<YYYY-MM-DD|${ALL_PARTITION}|${NULL_PARTITION}>/${DATA_FILE}`,
    tables,
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  await writeFile(join(root, EXPORT_MANIFEST), text);
  return { manifest, text };
}

async function writeTable(warehouse: Warehouse, root: string, name: string): Promise<ExportedTable> {
  const columns = (
    await warehouse.all(
      `SELECT column_name AS name, data_type AS type FROM information_schema.columns
       WHERE table_schema = 'main' AND table_name = $1 ORDER BY ordinal_position`,
      [name],
    )
  ).map((c) => ({ name: String(c.name), type: String(c.type) }));
  for (const reserved of ['table', 'date']) {
    if (columns.some((c) => c.name === reserved)) {
      throw new Error(`${name}.${reserved}: a column may not have the name of a partition key`);
    }
  }
  const byRun = columns.some((c) => c.name === 'run_id');
  // Rows in a total order (ORDER BY ALL, partition first), so the same rows always give the same
  // bytes: a scan of this table keeps that order (preserve_insertion_order), one partition at a time.
  await warehouse.run(
    byRun
      ? `CREATE OR REPLACE TEMP TABLE ${STAGED} AS SELECT d.date AS ${STAGED_DATE}, t.* FROM ${name} t
         LEFT JOIN (${RUN_DATES}) d ON d.run_id = t.run_id ORDER BY ALL`
      : `CREATE OR REPLACE TEMP TABLE ${STAGED} AS SELECT ${sqlString(ALL_PARTITION)} AS ${STAGED_DATE}, *
         FROM ${name} ORDER BY ALL`,
  );
  const partitions = await warehouse.all(
    `SELECT ${STAGED_DATE} AS date, count(*) AS n FROM ${STAGED} GROUP BY ALL ORDER BY 1 NULLS LAST`,
  );
  const files: ExportedFile[] = [];
  for (const partition of partitions) {
    const date = partition.date === null ? null : String(partition.date);
    const folder = date ?? NULL_PARTITION;
    const path = `table=${name}/date=${folder}/${DATA_FILE}`;
    const local = join(root, `table=${name}`, `date=${folder}`, DATA_FILE);
    await mkdir(join(root, `table=${name}`, `date=${folder}`), { recursive: true });
    const where = date === null ? `${STAGED_DATE} IS NULL` : `${STAGED_DATE} = ${sqlString(date)}`;
    await warehouse.run(
      `COPY (SELECT * EXCLUDE (${STAGED_DATE}) FROM ${STAGED} WHERE ${where}) TO ${sqlString(local)} (FORMAT PARQUET, COMPRESSION ZSTD)`,
    );
    const digests = await digestFile(local);
    files.push({
      path,
      date: folder,
      rows: Number(partition.n),
      size_bytes: digests.size_bytes,
      sha256: digests.sha256,
    });
  }
  await warehouse.run(`DROP TABLE ${STAGED}`);
  return {
    name,
    partitioned_by: byRun ? 'run_date' : 'none',
    rows: files.reduce((sum, f) => sum + f.rows, 0),
    columns,
    files,
  };
}

const STAGED = 'infermark_export_rows';
const STAGED_DATE = '__infermark_export_date';

/** Each run's partition: the UTC day it started, as text (NULL when it has no start time). */
const RUN_DATES = `SELECT run_id, strftime(started_at AT TIME ZONE 'UTC', '%Y-%m-%d') AS date FROM benchmark_run_fact`;

/** Puts an object unless the store holds the same bytes already, then checks it arrived. True if written. */
async function putUnlessSame(store: ObjectStore, object: ObjectToPut): Promise<boolean> {
  const before = await store.head(object.key);
  if (before && before.size_bytes === object.size_bytes && before.sha256 === object.sha256) return false;
  await store.put(object);
  const after = await store.head(object.key);
  if (
    !after ||
    after.size_bytes !== object.size_bytes ||
    (after.sha256 !== null && after.sha256 !== object.sha256)
  ) {
    throw new StorageError(
      `${store.display}: ${object.key} does not hold the ${object.size_bytes} bytes (${object.sha256}) just written`,
      { retryable: true },
    );
  }
  return true;
}

function sumRows(manifest: ExportManifest): number {
  return manifest.tables.reduce((sum, t) => sum + t.rows, 0);
}
