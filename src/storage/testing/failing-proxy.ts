/**
 * A node:http proxy on loopback in front of a test's storage server (s3rver,
 * azurite, the fakes): it answers 503 to (or resets the connection of) the first
 * `failFirst` requests that `matching` selects, forwards everything else, and counts what it saw. A test
 * compares those counts with the attempts its retry policy made, so a retry an SDK
 * adds on its own shows as a request the policy did not make.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Bodies are small in these tests; anything larger is refused rather than buffered. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface FailingProxyOptions {
  /** The server behind it, `http://127.0.0.1:PORT`. */
  target: string;
  /** Which requests count (and fail while failures remain). */
  matching(method: string, path: string): boolean;
  /** How many matching requests fail before the rest are forwarded. */
  failFirst: number;
  /** How they fail: a 503 answer (default), or the connection reset without one. */
  failWith?: 503 | 'reset';
  /**
   * Replace the target's origin by the proxy's in forwarded response bodies, for a
   * server that hands out its own URLs (GitHub's `upload_url`).
   */
  rewriteOrigin?: boolean;
}

export interface FailingProxy {
  /** `http://127.0.0.1:PORT`: what the store's endpoint parameter takes. */
  readonly endpoint: string;
  /** Matching requests seen so far, failed or forwarded. */
  matched(): number;
  /** Matching requests answered 503. */
  failed(): number;
  stop(): Promise<void>;
}

export async function startFailingProxy(options: FailingProxyOptions): Promise<FailingProxy> {
  const target = new URL(options.target);
  let matched = 0;
  let failed = 0;
  let endpoint = '';
  const server = createServer((req, res) => {
    readBody(req)
      .then(async (body) => {
        if (body === null) {
          res.writeHead(413).end();
          return;
        }
        const path = req.url ?? '/';
        if (options.matching(req.method ?? 'GET', path)) {
          matched++;
          if (failed < options.failFirst) {
            failed++;
            if (options.failWith === 'reset') req.socket.resetAndDestroy();
            else res.writeHead(503, { 'content-length': '0', connection: 'close' }).end();
            return;
          }
        }
        const upstream = await forward(target, req, body);
        const headers = { ...upstream.headers };
        let data = upstream.body;
        if (options.rewriteOrigin && data.length > 0) {
          data = Buffer.from(data.toString('utf8').replaceAll(target.origin, endpoint));
        }
        delete headers['transfer-encoding'];
        if (req.method !== 'HEAD') headers['content-length'] = String(data.length);
        res.writeHead(upstream.status, headers).end(data);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502, { 'content-length': '0' });
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    matched: () => matched,
    failed: () => failed,
    stop: () => stopServer(server),
  };
}

/** The whole body, or null past MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

interface Upstream {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** Sends the request on unchanged (headers included: signatures cover the proxy's host) and reads the answer. */
function forward(target: URL, req: IncomingMessage, body: Buffer): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const out = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        timeout: 10_000,
      },
      (res) => {
        readBody(res).then((data) => {
          if (data === null) reject(new Error('response body over the limit'));
          else resolve({ status: res.statusCode ?? 502, headers: res.headers, body: data });
        }, reject);
      },
    );
    out.on('timeout', () => out.destroy(new Error('upstream timed out')));
    out.on('error', reject);
    out.end(body);
  });
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
