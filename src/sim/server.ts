/**
 * The simulator: an OpenAI-compatible inference server on node:http that behaves
 * like a small batching model (queue beyond capacity, TTFT from prefill, ITL that
 * grows with the batch) and injects faults on request. It is the demo's target and
 * the tests' server. This module assembles the parts: the simulator's state
 * (simulator.ts), its routes (routes.ts) and one node:http server.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveSimulatorOptions, type SimulatorOptions } from './options.js';
import { routeRequests, simulatorRoutes } from './routes.js';
import { Simulator, type SimulatorStats } from './simulator.js';
import type { WriteLogSnapshot } from './write-log.js';

export type { SimulatorOptions } from './options.js';
export { DEFAULT_SIMULATOR_OPTIONS } from './options.js';
export type { FaultKind } from './faults.js';
export type { SimulatorStats } from './simulator.js';
export type { RequestWrites, WriteLogSnapshot } from './write-log.js';

/** A running simulator. */
export interface SimulatorHandle {
  /** Origin, e.g. `http://127.0.0.1:43127` (append `/v1/chat/completions`). */
  url: string;
  port: number;
  stats(): SimulatorStats;
  /** What was written when, per request; null unless `writeLogRequests` > 0. */
  writeLog(): WriteLogSnapshot | null;
  /** Stop listening and destroy open connections, streams included; never hangs. */
  close(): Promise<void>;
}

/**
 * Start a simulator on `options.host:options.port` (127.0.0.1 and an OS-chosen port by default).
 * Throws ValidationError when an option is out of range.
 */
export async function startSimulator(options: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle> {
  const resolved = resolveSimulatorOptions(options);
  const sim = new Simulator(resolved);
  const server = createServer({ noDelay: true, keepAlive: true }, routeRequests(sim, simulatorRoutes(sim)));
  // Long benchmark streams must not be cut by Node's default request timeouts.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    sim.close();
    const closing = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closing;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      const host = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
      resolve({
        url: `http://${host}:${port}`,
        port,
        stats: () => sim.stats(),
        writeLog: () => sim.writeLog?.snapshot() ?? null,
        close,
      });
    });
  });
}
