/**
 * `infermark tools ...`: thin surfaces over the warehouse for other programs. For now
 * `tools benchmark-contracts`, the JSON of the dashboard's GET /api/benchmark/contracts
 * (the metric registry, the canonical tables' columns, the named queries).
 */
import type { Command } from 'commander';
import { withWarehouse } from './warehouse-common.js';

/** Register `tools` and its sub-commands on the program. */
export function registerToolsCommands(program: Command): void {
  const tools = program.command('tools').description('machine-readable surfaces of the warehouse (JSON)');
  tools
    .command('benchmark-contracts')
    .description('print the contracts as JSON: metric registry, canonical table schemas, named queries')
    .option('--warehouse <path>', 'warehouse file (default: $INFERMARK_WAREHOUSE or the user data dir)')
    .action(async (flags: { warehouse?: string }) => {
      const { contracts } = await import('../server/api.js');
      await withWarehouse(flags, true, async (w) => {
        process.stdout.write(`${JSON.stringify(await contracts(w), null, 2)}\n`);
      });
    });
}
