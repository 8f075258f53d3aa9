/**
 * `infermark warehouse export`, `prune`, `pin` and `unpin`: the warehouse as
 * Hive-partitioned Parquet for engines built for scale, and retention by tier
 * (hot request rows, warm curated facts, cold raw evidence) that never touches a
 * run a baseline, a named query or a pin still references.
 */
import type { Command } from 'commander';
import { common, positiveNumber, print, withWarehouse, type OutputFlags } from './warehouse-common.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface PruneFlags extends OutputFlags {
  dryRun?: boolean;
  deleteRaw?: boolean;
  hotDays: string;
  warmDays: string;
  coldDays: string;
}

export function registerExportCommands(warehouse: Command): void {
  common(warehouse.command('export'))
    .description(
      'write every canonical table as Parquet, Hive-partitioned: <to>/table=<name>/date=<YYYY-MM-DD>/, with _manifest.json',
    )
    .requiredOption('--to <dir|uri>', 'a local folder, or s3://, az://, gs://, oci://, pvc:// ...')
    .option('--param <name=value>', 'storage parameter, e.g. aws_region=us-east-1 (repeatable)', collect)
    .action(async (flags: OutputFlags & { to: string; param?: string[] }) => {
      const { exportWarehouse } = await import('../warehouse/export.js');
      const { parseParams } = await import('./upload.js');
      const parameters = parseParams(flags.param);
      // Not read-only: COPY ... TO writes files, which the read-only lockdown forbids.
      await withWarehouse(flags, false, async (w) => {
        const result = await exportWarehouse(w, flags.to, { parameters });
        if (flags.format === 'json') {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        const rows = result.manifest.tables.map((t) => ({
          table: t.name,
          partitioned_by: t.partitioned_by,
          partitions: t.files.length,
          rows: t.rows,
          bytes: t.files.reduce((sum, f) => sum + f.size_bytes, 0),
        }));
        print(['table', 'partitioned_by', 'partitions', 'rows', 'bytes'], rows, flags);
        if (flags.format === 'csv') return;
        process.stdout.write(
          `exported ${result.rows} rows in ${result.files} files to ${result.target}: ` +
            `${result.written} written (${result.bytes_written} bytes), ${result.unchanged} already there and identical\n` +
            `_manifest.json ${result.manifest_sha256} (schema version ${result.manifest.schema_version})\n`,
        );
        if (result.stale.length > 0) {
          process.stdout.write(
            `${result.stale.length} objects under table= are not in this export (runs pruned since an earlier one); ` +
              `they were left in place: readers should follow _manifest.json\n`,
          );
        }
      });
    });

  common(warehouse.command('prune'))
    .description(
      'delete what is past its retention tier: hot request rows, warm curated facts, cold raw evidence (never a referenced run)',
    )
    .option('--dry-run', 'show what would go, per tier; change nothing')
    .option('--hot-days <n>', 'request_fact and telemetry_slice_fact rows', '30')
    .option('--warm-days <n>', 'run facts, serving and training outcomes', '180')
    .option('--cold-days <n>', 'raw evidence: local run folders and their lineage rows', '730')
    .option('--delete-raw', 'also delete the local raw run folders past the cold tier')
    .action(async (flags: PruneFlags) => {
      const { prune, renderPrune, validatePolicy } = await import('../warehouse/retention.js');
      const policy = {
        hotDays: positiveNumber('--hot-days', flags.hotDays),
        warmDays: positiveNumber('--warm-days', flags.warmDays),
        coldDays: positiveNumber('--cold-days', flags.coldDays),
      };
      validatePolicy(policy);
      const dryRun = flags.dryRun === true;
      // A dry run opens the warehouse read-only: it cannot change anything even by mistake.
      await withWarehouse(flags, dryRun, async (w) => {
        const report = await prune(w, { policy, dryRun, deleteRaw: flags.deleteRaw === true });
        if (flags.format === 'json') {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          return;
        }
        if (flags.format === 'csv') {
          const rows = report.tiers.flatMap((t) =>
            Object.entries(t.rows).map(([table, rows]) => ({
              tier: t.tier,
              table,
              runs: t.runs.length,
              rows,
            })),
          );
          print(['tier', 'table', 'runs', 'rows'], rows, flags);
          return;
        }
        process.stdout.write(renderPrune(report));
      });
    });

  common(warehouse.command('pin'))
    .description('protect a run from pruning (a run_reference of kind pin)')
    .argument('<run>', 'run_id or a unique prefix')
    .option('--reason <text>', 'why it is kept')
    .action(async (run: string, flags: OutputFlags & { reason?: string }) => {
      const { pinRun, referencesTo } = await import('../warehouse/retention.js');
      await withWarehouse(flags, false, async (w) => {
        const runId = await pinRun(w, run, flags.reason);
        if (!flags.format || flags.format === 'table') process.stdout.write(`pinned ${runId}\n`);
        print(['run_id', 'kind', 'referrer', 'added_at'], await referencesTo(w, runId), flags);
      });
    });

  common(warehouse.command('unpin'))
    .description("remove a run's pin (baselines and named queries that reference it still protect it)")
    .argument('<run>', 'run_id or a unique prefix')
    .action(async (run: string, flags: OutputFlags) => {
      const { unpinRun, referencesTo } = await import('../warehouse/retention.js');
      await withWarehouse(flags, false, async (w) => {
        const { run_id, removed } = await unpinRun(w, run);
        const left = await referencesTo(w, run_id);
        if (!flags.format || flags.format === 'table') {
          process.stdout.write(removed > 0 ? `unpinned ${run_id}\n` : `${run_id} was not pinned\n`);
          if (left.length > 0) process.stdout.write('still referenced (kept by prune):\n');
        }
        if (left.length > 0 || flags.format === 'json' || flags.format === 'csv')
          print(['run_id', 'kind', 'referrer', 'added_at'], left, flags);
      });
    });
}
