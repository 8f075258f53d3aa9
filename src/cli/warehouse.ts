/**
 * `infermark warehouse ...` and `infermark lineage`: ingest run folders, list,
 * show and compare runs, run read-only SQL and named queries, and walk a number
 * back to its raw evidence. Output as a table (default), CSV or JSON.
 */
import type { Command } from 'commander';
import { ExitCode, InfermarkError, ValidationError } from '../base/errors.js';
// The warehouse module loads DuckDB's native library: imported only by the commands that use it.
import type { Warehouse } from '../warehouse/warehouse.js';
import {
  common,
  outputFormat,
  positiveNumber,
  print,
  withWarehouse,
  type OutputFlags,
} from './warehouse-common.js';
import { registerExportCommands } from './warehouse-export.js';
import { registerImportCommand } from './warehouse-import.js';

interface IngestFlags extends OutputFlags {
  costPerHour?: string;
  param?: string[];
  /** Seconds. */
  lockWait: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerWarehouseCommands(program: Command): void {
  const warehouse = program
    .command('warehouse')
    .description('the curated store: ingest runs, list, show, compare, query (DuckDB)');

  common(warehouse.command('ingest'))
    .description('ingest sealed runs (idempotent: a run already there is left as it is)')
    .argument(
      '<runs...>',
      'run folders, or runs in a store: s3://bucket/results/<run_id>, az://, gs://, oci://, pvc://',
    )
    .option('--param <name=value>', 'storage parameter for runs in a store (repeatable)', collect)
    .option(
      '--cost-per-hour <usd>',
      'what the deployment costs per hour (cost per request and per million tokens)',
    )
    .option(
      '--lock-wait <s>',
      'how long to wait while another process holds the warehouse (then exit 75, not ingested)',
      '15',
    )
    .action(async (dirs: string[], flags: IngestFlags) => {
      const { ingestRunFolder } = await import('../warehouse/ingest-run.js');
      const { ingestFromStore, isStoreUri } = await import('../warehouse/ingest-uri.js');
      const { parseParams } = await import('./upload.js');
      const parameters = parseParams(flags.param);
      const cost =
        flags.costPerHour === undefined ? undefined : positiveNumber('--cost-per-hour', flags.costPerHour);
      const lockWaitMs = positiveNumber('--lock-wait', flags.lockWait) * 1000;
      const ingestAll = async (w: Warehouse): Promise<void> => {
        const rows = [];
        for (const dir of dirs) {
          const options = cost === undefined ? {} : { costPerHourUsd: cost };
          const result = isStoreUri(dir)
            ? await ingestFromStore(w, dir, { ...options, parameters })
            : await ingestRunFolder(w, dir, options);
          rows.push({ run_dir: dir, ...result });
        }
        print(['run_dir', 'run_id', 'outcome', 'iterations', 'requests'], rows, flags);
      };
      await notIngestedWhenBusy(withWarehouse(flags, false, ingestAll, lockWaitMs), lockWaitMs);
    });

  common(warehouse.command('runs'))
    .description('list runs, newest first')
    .option('--model <name>')
    .option('--engine <name>')
    .option('--gpu <type>')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (flags: OutputFlags & { model?: string; engine?: string; gpu?: string; limit: string }) => {
      const { listRuns } = await import('../warehouse/queries.js');
      const limit = positiveNumber('--limit', flags.limit);
      await withWarehouse(flags, true, async (w) => {
        const result = await listRuns(w, { ...pick(flags, ['model', 'engine', 'gpu']), limit });
        print(result.columns, result.rows, flags);
      });
    });

  common(warehouse.command('show'))
    .description("one run: its facts and every point's outcome")
    .argument('<run>', 'run_id or a unique prefix')
    .action(async (run: string, flags: OutputFlags) => {
      const { showRun } = await import('../warehouse/queries.js');
      await withWarehouse(flags, true, async (w) => {
        const shown = await showRun(w, run);
        if (outputFormat(flags) === 'json') {
          process.stdout.write(`${JSON.stringify({ run: shown.run, points: shown.points.rows }, null, 2)}\n`);
          return;
        }
        const facts = Object.entries(shown.run).map(([field, value]) => ({ field, value }));
        print(['field', 'value'], facts, flags);
        process.stdout.write('\n');
        print(shown.points.columns, shown.points.rows, flags);
      });
    });

  common(warehouse.command('compare'))
    .description("two runs point by point: each metric in A and B, and B's change in percent")
    .argument('<run-a>')
    .argument('<run-b>')
    .action(async (a: string, b: string, flags: OutputFlags) => {
      const { compareRuns } = await import('../warehouse/queries.js');
      await withWarehouse(flags, true, async (w) => {
        const result = await compareRuns(w, a, b);
        print(result.columns, result.rows, flags);
      });
    });

  common(warehouse.command('query'))
    .description('run read-only SQL over the warehouse; --format table (default), json or csv')
    .argument('<sql>', 'one SQL query')
    .action(async (sql: string, flags: OutputFlags) => {
      await withWarehouse(flags, true, async (w) => {
        const result = await w.json(sql);
        print(result.columns, result.rows, flags);
      });
    });

  common(warehouse.command('named'))
    .description('list named queries, or run one')
    .argument('[name]')
    .action(async (name: string | undefined, flags: OutputFlags) => {
      const { namedQuery } = await import('../warehouse/queries.js');
      await withWarehouse(flags, true, async (w) => {
        if (!name) {
          const result = await w.json(
            'SELECT name, description, query_spec_digest FROM named_query ORDER BY name',
          );
          print(result.columns, result.rows, flags);
          return;
        }
        const query = await namedQuery(w, name);
        const result = await w.json(query.sql);
        if (outputFormat(flags) === 'table')
          process.stdout.write(`${query.name}  query_spec_digest ${query.query_spec_digest}\n`);
        print(result.columns, result.rows, flags);
      });
    });

  common(warehouse.command('save-query'))
    .description('save a named query: the definition of a published number')
    .argument('<name>')
    .argument('<sql>')
    .option('--description <text>', '', '')
    .action(async (name: string, sql: string, flags: OutputFlags & { description: string }) => {
      const { saveNamedQuery } = await import('../warehouse/queries.js');
      await withWarehouse(flags, false, async (w) => {
        // The SQL must run, and read only, before it is saved.
        await w.json(`SELECT * FROM (${sql}) LIMIT 0`);
        const saved = await saveNamedQuery(w, name, sql, flags.description);
        print(['name', 'query_spec_digest'], [{ ...saved }], flags);
      });
    });

  registerImportCommand(warehouse);
  registerExportCommands(warehouse);

  common(program.command('lineage'))
    .description('walk a number of a named query back to the run, its digests and the raw artifacts')
    .argument('<query>', 'named query')
    .requiredOption('--column <name>', 'the column holding the number')
    .option('--row <n>', 'row of the result (0-based)')
    .option('--run <run_id>', 'the row of this run (instead of --row)')
    .option('--iteration <n>', 'with --run: the row of this iteration')
    .action(
      async (
        query: string,
        flags: OutputFlags & { column: string; row?: string; run?: string; iteration?: string },
      ) => {
        const { traceLineage, renderLineage } = await import('../warehouse/lineage.js');
        await withWarehouse(flags, true, async (w) => {
          const report = await traceLineage(w, {
            query,
            column: flags.column,
            ...(flags.row !== undefined ? { row: wholeNumber('--row', flags.row) } : {}),
            ...(flags.run !== undefined ? { runId: flags.run } : {}),
            ...(flags.iteration !== undefined
              ? { iteration: wholeNumber('--iteration', flags.iteration) }
              : {}),
          });
          process.stdout.write(
            outputFormat(flags) === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderLineage(report),
          );
          if (!report.publication_safe) process.exitCode = ExitCode.failure;
        });
      },
    );
}

/**
 * A warehouse another process held past the wait: nothing was ingested, and the
 * exit code (75, EX_TEMPFAIL) tells a script to try again rather than give up.
 */
async function notIngestedWhenBusy(work: Promise<void>, lockWaitMs: number): Promise<void> {
  try {
    await work;
  } catch (error) {
    if (!(error instanceof InfermarkError) || error.code !== 'E_WAREHOUSE_BUSY') throw error;
    throw new InfermarkError(
      error.code,
      `${error.message.replace(/^warehouse busy/, 'warehouse busy, not ingested')}; waited ${lockWaitMs / 1000} s, try again`,
      error.exitCode,
      { cause: error },
    );
  }
}

function wholeNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw new ValidationError([{ path: flag, value: text, message: 'expected a whole number ≥ 0' }]);
  }
  return value;
}

function pick<T extends object, K extends keyof T>(object: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (object[key] !== undefined) out[key] = object[key];
  return out;
}
