/**
 * The HTTP endpoint Prometheus scrapes during a run: `GET /metrics` renders one
 * Registry, anything else is 404. Loopback unless asked otherwise; closing it
 * drops idle keep-alive connections too, so the run's process exits at once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { RunEvents } from '../metrics/run-events.js';
import { ExitCode, InfermarkError, ValidationError } from '../base/errors.js';
import type { BenchmarkJob } from '../spec/job-schema.js';
import { HotMetrics, topologyLabels } from './hot-metrics.js';
import type { ShardTotalsSink } from './hot-totals.js';

export const DEFAULT_METRICS_HOST = '127.0.0.1';

export interface MetricsServer {
  /** `http://host:port/metrics`, with the port the OS gave when 0 was asked. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on host:port and serves the registry.
 * @throws InfermarkError (exit 2) when the address cannot be bound (in use, not local).
 */
export async function startMetricsServer(
  registry: Registry,
  options: { port: number; host?: string },
): Promise<MetricsServer> {
  const host = options.host ?? DEFAULT_METRICS_HOST;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found; try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`metrics unavailable: ${(error as Error).message}\n`);
      },
    );
  });
  await listen(server, options.port, host);
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new InfermarkError(
          'E_METRICS_LISTEN',
          `--metrics-port ${port} --metrics-host ${host}: cannot listen (${error.code ?? error.message})`,
          ExitCode.badInput,
          { cause: error },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A run's hot metrics, served: the events to give executeRun, the URL, and close. */
export interface ServedHotMetrics {
  url: string;
  /** The caller's events with the hot metrics' own called first. */
  events(own: RunEvents): RunEvents;
  /** Where a split run's coordinator hands its shards' totals (RunInputs `hot`). */
  shards: ShardTotalsSink;
  /** Closes the endpoint and stops watching the event loop. */
  close(): Promise<void>;
}

/**
 * `--metrics-port` / `--metrics-host`: checks them and the job's topology labels,
 * then listens, all before any load is sent.
 * @throws ValidationError for a bad port or a topology label a hot metric may not carry.
 */
export async function serveHotMetrics(
  job: BenchmarkJob,
  jobFile: string | null,
  options: { port: string; host?: string | undefined },
): Promise<ServedHotMetrics> {
  const port = Number(options.port);
  if (!/^\d+$/.test(options.port.trim()) || port > 65_535)
    throw new ValidationError([
      { path: '--metrics-port', value: options.port, message: 'must be a port number, 0 to 65535' },
    ]);
  const hot = new HotMetrics(topologyLabels(job, jobFile));
  let server: MetricsServer;
  try {
    server = await startMetricsServer(hot.registry, { port, host: options.host ?? DEFAULT_METRICS_HOST });
  } catch (error) {
    hot.close();
    throw error;
  }
  return {
    url: server.url,
    events: (own) => combineEvents(hot.events, own),
    shards: hot,
    close: async () => {
      hot.close();
      await server.close();
    },
  };
}

/** Both sets of events, `first`'s handler before `second`'s for each event. */
function combineEvents(first: RunEvents, second: RunEvents): RunEvents {
  const out: Record<string, (...args: never[]) => void> = {};
  for (const key of new Set([...Object.keys(first), ...Object.keys(second)]) as Set<keyof RunEvents>) {
    const a = first[key] as ((...args: unknown[]) => void) | undefined;
    const b = second[key] as ((...args: unknown[]) => void) | undefined;
    out[key] = (...args: unknown[]) => {
      a?.(...args);
      b?.(...args);
    };
  }
  return out as RunEvents;
}
