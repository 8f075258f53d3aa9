/**
 * The simulator's HTTP routes as a table, method then path to handler: an inference
 * route per response format (POST), health, version, models, the write log, stats,
 * /metrics and the telemetry of each node (its vLLM metrics, GPUs, host) and of the
 * cluster (GET and HEAD); anything else is 404. The request's arrival time is read
 * before anything else, since the latency model's TTFT clock starts there.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { createClusterRegistry } from './cluster.js';
import { createDcgmRegistry } from './dcgm.js';
import { RESPONSE_FORMATS } from './formats/registry.js';
import { readBody, sendError, sendJson } from './http-io.js';
import { NODE_HEADER } from './node.js';
import { createNodeExporterRegistry } from './node-exporter.js';
import type { Simulator } from './simulator.js';
import { WRITE_LOG_PATH } from './write-log.js';

/** The telemetry routes (each node's under `/sim/nodes/<name>/`). */
export const SIM_PATHS = {
  stats: '/sim/stats',
  dcgm: '/sim/dcgm',
  cluster: '/sim/cluster',
  nodeMetrics: (node: string) => `/sim/nodes/${node}/metrics`,
  nodeDcgm: (node: string) => `/sim/nodes/${node}/dcgm`,
  nodeExporter: (node: string) => `/sim/nodes/${node}/node-exporter`,
} as const;

/** Answers one request that arrived at `arrived_ms` (performance.now()). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, arrived_ms: number) => void;

/** Method, then path, to handler. */
export type RouteTable = ReadonlyMap<string, ReadonlyMap<string, RouteHandler>>;

/** The simulator's routes. */
export function simulatorRoutes(sim: Simulator): RouteTable {
  const post = new Map<string, RouteHandler>();
  for (const format of Object.values(RESPONSE_FORMATS)) {
    post.set(format.path, (req, res, arrived_ms) => {
      const node = sim.pickNode();
      res.setHeader(NODE_HEADER, node.name);
      const writes = sim.writeLog?.open(req.headers['x-request-id'], arrived_ms, node.name) ?? null;
      readBody(req, res, (body) => sim.inference(format, body, arrived_ms, res, writes, node));
    });
  }
  const version = readVersion();
  const model = sim.options.model;
  const models = {
    object: 'list',
    data: [{ id: model, object: 'model', created: 0, owned_by: 'infermark', root: model, parent: null }],
  };
  const get = new Map<string, RouteHandler>([
    ['/health', (_req, res) => void res.writeHead(200, { 'content-length': '0' }).end()],
    ['/version', (_req, res) => sendJson(res, 200, { version })],
    ['/v1/models', (_req, res) => sendJson(res, 200, models)],
    [
      WRITE_LOG_PATH,
      (_req, res) => {
        if (sim.writeLog) sendJson(res, 200, sim.writeLog.snapshot());
        else sendError(res, 404, 'the write log is off (start with writeLogRequests > 0)', 'not_found_error');
      },
    ],
    ['/metrics', serveRegistry(sim.metrics.registry)],
    [SIM_PATHS.stats, (_req, res) => sendJson(res, 200, sim.stats())],
    [SIM_PATHS.dcgm, serveRegistry(createDcgmRegistry(sim.nodes))],
    [SIM_PATHS.cluster, serveRegistry(createClusterRegistry(sim.nodes))],
  ]);
  for (const node of sim.nodes) {
    get.set(SIM_PATHS.nodeMetrics(node.name), serveRegistry(node.nodeMetrics.registry));
    get.set(SIM_PATHS.nodeDcgm(node.name), serveRegistry(createDcgmRegistry([node])));
    get.set(SIM_PATHS.nodeExporter(node.name), serveRegistry(createNodeExporterRegistry(node)));
  }
  return new Map([
    ['POST', post],
    ['GET', get],
    ['HEAD', get],
  ]);
}

/** Answers with `registry`'s text, read now. */
function serveRegistry(registry: Registry): RouteHandler {
  return (_req, res) => {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      },
      (error: unknown) => sendError(res, 500, String(error), 'server_error'),
    );
  };
}

/** The request listener serving `routes`; requests on a socket `sim` is closing are dropped unread. */
export function routeRequests(
  sim: Simulator,
  routes: RouteTable,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (sim.closer.has(req.socket)) {
      // Arrived on a connection already being closed after a response: dropped unread, not counted.
      req.socket.destroy();
      return;
    }
    const arrived_ms = performance.now();
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query >= 0 ? url.slice(0, query) : url;
    const method = req.method ?? 'GET';
    const handler = routes.get(method)?.get(path);
    if (handler) {
      handler(req, res, arrived_ms);
      return;
    }
    req.resume();
    sendError(res, 404, `Not found: ${method} ${path}`, 'not_found_error');
  };
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
