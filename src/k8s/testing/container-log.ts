/**
 * The tests' kubelet's container logs: each container's stdout and stderr go to one bounded
 * file, and an HTTPS server answers the kubelet API's `GET /containerLogs/{ns}/{pod}/{container}`
 * (tailLines, limitBytes, follow), which the API server proxies for `kubectl logs` and
 * `readNamespacedPodLog`.
 */
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A container's log beyond this is dropped, with a note where it stopped. */
export const LOG_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * One container's log file. Writes and reads are synchronous so a follower that reads the file
 * and then subscribes in the same turn of the event loop misses and repeats nothing.
 */
export class ContainerLog extends EventEmitter {
  private fd: number | null;
  private written_bytes = 0;
  private truncated = false;
  ended = false;

  constructor(
    readonly path: string,
    private readonly limit_bytes = LOG_LIMIT_BYTES,
  ) {
    super();
    this.fd = openSync(path, 'w', 0o600);
  }

  write(chunk: Buffer): void {
    if (this.fd === null || this.truncated) return;
    let part = chunk;
    if (this.written_bytes + chunk.length > this.limit_bytes) {
      part = Buffer.concat([
        chunk.subarray(0, this.limit_bytes - this.written_bytes),
        Buffer.from(`\n[log truncated at ${this.limit_bytes} bytes]\n`),
      ]);
      this.truncated = true;
    }
    writeSync(this.fd, part);
    this.written_bytes += part.length;
    this.emit('data', part);
  }

  end(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    this.ended = true;
    this.emit('end');
  }

  read(): Buffer {
    return readFileSync(this.path);
  }

  /** The last `max_bytes` of the log (for FallbackToLogsOnError). */
  tail(max_bytes: number): string {
    const all = this.read();
    return all.subarray(Math.max(0, all.length - max_bytes)).toString('utf8');
  }
}

/** The last `lines` lines of `text` (a final newline does not count as a line). */
export function tailLines(text: Buffer, lines: number): Buffer {
  if (lines <= 0) return Buffer.alloc(0);
  let end = text.length;
  if (end > 0 && text[end - 1] === 0x0a) end -= 1;
  let cut = end;
  for (let seen = 0; cut > 0;) {
    const at = text.lastIndexOf(0x0a, cut - 1);
    if (at < 0) return text;
    seen += 1;
    if (seen === lines) return text.subarray(at + 1);
    cut = at;
  }
  return text;
}

export type LogLookup = (namespace: string, pod: string, container: string) => ContainerLog | null;

export interface LogServer {
  readonly port: number;
  close(): Promise<void>;
}

function intParam(params: URLSearchParams, name: string): number | null {
  const value = params.get(name);
  if (value === null || value === '') return null;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

function serve(lookup: LogLookup, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (req.method !== 'GET' || parts.length !== 4 || parts[0] !== 'containerLogs') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const [, namespace, pod, container] = parts as [string, string, string, string];
  const log = lookup(namespace, pod, container);
  if (!log) {
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end(`container "${container}" of pod "${namespace}/${pod}" has not started on this node\n`);
    return;
  }
  const tail = intParam(url.searchParams, 'tailLines');
  const limit_bytes = intParam(url.searchParams, 'limitBytes') ?? Infinity;
  const follow = url.searchParams.get('follow') === 'true';
  let sent_bytes = 0;
  res.writeHead(200, { 'content-type': 'text/plain' });
  // Returns false once the byte limit is reached.
  const send = (chunk: Buffer): boolean => {
    const room = limit_bytes - sent_bytes;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (part.length > 0) res.write(part);
    sent_bytes += part.length;
    return sent_bytes < limit_bytes;
  };
  const existing = tail === null ? log.read() : tailLines(log.read(), tail);
  if (!send(existing) || !follow || log.ended) {
    res.end();
    return;
  }
  const onData = (chunk: Buffer): void => {
    if (!send(chunk)) finish();
  };
  const finish = (): void => {
    log.off('data', onData);
    log.off('end', finish);
    res.end();
  };
  log.on('data', onData);
  log.once('end', finish);
  res.once('close', () => {
    log.off('data', onData);
    log.off('end', finish);
  });
}

/** Serves container logs over HTTPS on 127.0.0.1 with the given key and certificate. */
export async function startLogServer(
  tls: { key: Buffer; cert: Buffer },
  lookup: LogLookup,
): Promise<LogServer> {
  const server: Server = createServer(tls, (req, res) => {
    try {
      serve(lookup, req, res);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${(error as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Followers end with their process; at stop nobody waits for them.
      server.closeAllConnections();
      await closed;
    },
  };
}
