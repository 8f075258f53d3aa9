/**
 * The dashboard server: pages and the REST API over a warehouse opened
 * read-only, as a hono app (app.ts: middleware and a routes table) served by
 * node:http through @hono/node-server. Bound to loopback unless told otherwise;
 * bound anywhere else it requires a token (Bearer header, or `?token=` once,
 * which sets a cookie), compared in constant time and never logged or echoed.
 * Only GET and HEAD; every error is `{error: {code, message}}` (or an HTML page
 * for pages) with a 4xx status, and a 500 carries no detail.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExitCode, InfermarkError } from '../base/errors.js';
import { dashboardApp } from './app.js';
import { isLoopback } from './middleware/host-guard.js';
import { nodeListener } from './node-listener.js';
import { dashboardRoutes } from './routes.js';
import { WarehouseAccess } from './warehouse-access.js';

export { isLoopback };

export interface DashboardOptions {
  warehousePath: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  token?: string;
  /** Where the server writes its few lines (never a token, never a request URL). */
  log?: (line: string) => void;
  /** How long the warehouse stays open after the last request (ms). */
  idleCloseMs?: number;
}

export interface Dashboard {
  url: string;
  port: number;
  host: string;
  close(): Promise<void>;
}

const MIN_TOKEN_LENGTH = 16;

/** Refuses what would expose the warehouse: a non-loopback host without a token, or a weak token. */
export function checkExposure(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new InfermarkError(
      'E_WEAK_TOKEN',
      `the dashboard token must be at least ${MIN_TOKEN_LENGTH} characters`,
      ExitCode.badInput,
    );
  }
  if (!isLoopback(host) && token === undefined) {
    throw new InfermarkError(
      'E_NO_TOKEN',
      `--host ${host} is not loopback: give --token or set INFERMARK_DASHBOARD_TOKEN (every request must then carry it)`,
      ExitCode.badInput,
    );
  }
}

/** Starts the dashboard; resolves once it listens. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token;
  checkExposure(host, token);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const access = new WarehouseAccess(options.warehousePath, options.idleCloseMs);
  // Fail at start, not on the first request, when the warehouse is not there.
  await access.use(async () => undefined);

  const app = dashboardApp({
    routes: dashboardRoutes(access),
    host,
    log,
    ...(token !== undefined ? { token } : {}),
  });
  const server = createServer(nodeListener(app));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new InfermarkError(
          'E_LISTEN',
          `cannot listen on ${host}:${options.port ?? 0}: ${error.code ?? error.message}`,
          ExitCode.badInput,
        ),
      ),
    );
    server.listen(options.port ?? 0, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    host,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await access.close();
    },
  };
}
