/**
 * `infermark warehouse import --from vllm|genai-bench|generic PATH...`: results
 * other tools wrote, as the same canonical rows an infermark run gives. Prints per
 * input its run_id, outcome, points and requests written, and the canonical fields
 * the input could not fill (also kept in the warehouse's import_gap table).
 */
import type { Command } from 'commander';
import { ValidationError } from '../base/errors.js';
import type { ImportGap, ImportResult, ImportSource } from '../warehouse/import-common.js';
import { common, positiveNumber, print, withWarehouse, type OutputFlags } from './warehouse-common.js';

// Kept here, not imported: the importers load DuckDB, and only the action needs them.
const SOURCES: readonly ImportSource[] = ['vllm', 'genai-bench', 'generic'];

interface ImportFlags extends OutputFlags {
  from?: string;
  table?: string;
  costPerHour?: string;
}

export function registerImportCommand(warehouse: Command): void {
  common(warehouse.command('import'))
    .description(
      'import results other tools wrote (idempotent: an input imported before is left as it is) and say which fields they could not fill',
    )
    .argument('<paths...>', 'result files or folders')
    .option('--from <source>', `what wrote them: ${SOURCES.join(', ')}`)
    .option(
      '--table <table>',
      'generic CSV: the table a file fills, when its name does not say (<table>.csv)',
    )
    .option(
      '--cost-per-hour <usd>',
      'what the deployment cost per hour (cost per request and per million tokens)',
    )
    .action(async (paths: string[], flags: ImportFlags) => {
      const source = sourceOf(flags.from);
      const cost =
        flags.costPerHour === undefined ? undefined : positiveNumber('--cost-per-hour', flags.costPerHour);
      const { importInput } = await import('../warehouse/import-sources.js');
      await withWarehouse(flags, false, async (w) => {
        const results: ImportResult[] = [];
        for (const path of paths) {
          results.push(
            await importInput(w, source, path, {
              ...(cost !== undefined ? { costPerHourUsd: cost } : {}),
              ...(flags.table !== undefined ? { table: flags.table } : {}),
            }),
          );
        }
        printResults(results, flags);
      });
    });
}

function sourceOf(from: string | undefined): ImportSource {
  if (from === undefined)
    throw new ValidationError([{ path: '--from', message: `required: one of ${SOURCES.join(', ')}` }]);
  if (!(SOURCES as readonly string[]).includes(from))
    throw new ValidationError([
      { path: '--from', value: from, message: `expected one of ${SOURCES.join(', ')}` },
    ]);
  return from as ImportSource;
}

const COLUMNS = ['input', 'run_id', 'source', 'outcome', 'points', 'requests', 'unfilled'];

function printResults(results: ImportResult[], flags: OutputFlags): void {
  if (flags.format === 'json') {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  if (flags.format === 'csv') {
    // One line per input; the unfilled fields space-separated (their notes are in import_gap).
    print(
      COLUMNS,
      results.map((r) => ({ ...r, unfilled: r.gaps.map((g) => g.field).join(' ') })),
      flags,
    );
    return;
  }
  print(
    COLUMNS,
    results.map((r) => ({ ...r, unfilled: r.gaps.length })),
    flags,
  );
  for (const result of results) {
    if (result.gaps.length === 0) continue;
    process.stdout.write(`\nunfilled by ${result.input} (${result.run_id}):\n`);
    print(
      ['field', 'note'],
      groupGaps(result.gaps).map((g) => ({ ...g })),
      flags,
    );
  }
}

/**
 * The statistics of one distribution with one note, shown as one line:
 * `serving_outcome_fact.ttfb_ms_{count,mean,...}`. Only the display groups them;
 * import_gap keeps one row per field.
 */
export function groupGaps(gaps: ImportGap[]): ImportGap[] {
  const out: ImportGap[] = [];
  let i = 0;
  while (i < gaps.length) {
    const first = gaps[i] as ImportGap;
    const family = STATISTIC.exec(first.field)?.[1];
    let j = i + 1;
    while (
      family &&
      j < gaps.length &&
      gaps[j]?.note === first.note &&
      STATISTIC.exec(gaps[j]?.field ?? '')?.[1] === family
    )
      j++;
    if (j - i === 1) out.push(first);
    else {
      const stats = gaps.slice(i, j).map((g) => STATISTIC.exec(g.field)?.[2]);
      out.push({ field: `${family}_{${stats.join(',')}}`, note: first.note });
    }
    i = j;
  }
  return out;
}

const STATISTIC = /^(.+_ms)_(count|mean|stddev|min|max|p50|p90|p95|p99)$/;
