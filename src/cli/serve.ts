/**
 * `infermark serve`: the dashboard and its REST API over a warehouse, until
 * SIGINT/SIGTERM. This file only parses flags; the server is imported lazily.
 * The token may come from --token or INFERMARK_DASHBOARD_TOKEN (better: a flag
 * shows in the process list); it is registered as a secret so no error prints it.
 */
import type { Command } from 'commander';
import { ValidationError } from '../base/errors.js';
import { registerSecret } from '../base/redact.js';
import { untilStopSignal } from '../base/stop-signal.js';

interface ServeFlags {
  warehouse?: string;
  port: string;
  host: string;
  token?: string;
}

/** Register `serve` on the program. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the dashboard and its REST API over a warehouse (read-only)')
    .option('--warehouse <path>', 'warehouse file (default: $INFERMARK_WAREHOUSE or the user data dir)')
    .option('--port <port>', 'port to listen on (0: any free port)', '8080')
    .option('--host <host>', 'interface to listen on; anything but loopback requires a token', '127.0.0.1')
    .option('--token <token>', 'require this bearer token (default: $INFERMARK_DASHBOARD_TOKEN)')
    .action(async (flags: ServeFlags) => {
      const port = Number(flags.port);
      if (!/^\d{1,5}$/.test(flags.port) || port > 65_535) {
        throw new ValidationError([
          { path: '--port', value: flags.port, message: 'expected a port from 0 to 65535' },
        ]);
      }
      const envToken = process.env.INFERMARK_DASHBOARD_TOKEN;
      const token = flags.token ?? (envToken === '' ? undefined : envToken);
      if (token !== undefined) registerSecret(token);
      const { defaultWarehousePath } = await import('../warehouse/warehouse.js');
      const { startDashboard } = await import('../server/server.js');
      const dashboard = await startDashboard({
        warehousePath: flags.warehouse ?? defaultWarehousePath(),
        host: flags.host,
        port,
        ...(token !== undefined ? { token } : {}),
      });
      process.stdout.write(
        `infermark dashboard listening on ${dashboard.url}${token !== undefined ? ' (token required)' : ''}\n`,
      );
      await untilStopSignal();
      await dashboard.close();
    });
}
