/**
 * `infermark mcp`: the warehouse as a Model Context Protocol server over stdio, for an
 * assistant (docs/mcp.md). This file only parses the flag; the server (server/mcp.ts)
 * is imported lazily. It ends when its input ends or on SIGINT/SIGTERM.
 */
import type { Command } from 'commander';
import { untilStopSignal } from '../base/stop-signal.js';

/** Register `mcp` on the program. */
export function registerMcpCommand(program: Command): void {
  program
    .command('mcp')
    .description(
      'serve the warehouse to an assistant over stdio (Model Context Protocol, read-only): ' +
        'benchmark_contracts, list_runs, compare, lineage, diagnose',
    )
    .option('--warehouse <path>', 'warehouse file (default: $INFERMARK_WAREHOUSE or the user data dir)')
    .action(async (flags: { warehouse?: string }) => {
      const { defaultWarehousePath } = await import('../warehouse/warehouse.js');
      const { serveMcp } = await import('../server/mcp.js');
      await serveMcp({ warehousePath: flags.warehouse ?? defaultWarehousePath(), stop: untilStopSignal() });
    });
}
