/**
 * The simulator's HTTP plumbing: a bounded request body, JSON and OpenAI-style error
 * answers, and llama-server's way of ending a response by closing its connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Read the whole body as UTF-8, then `done`; a body over MAX_BODY_BYTES is answered 413. */
export function readBody(req: IncomingMessage, res: ServerResponse, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let tooLarge = false;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  });
  req.on('end', () => {
    if (tooLarge) sendError(res, 413, 'Request body too large', 'invalid_request_error');
    else
      done(
        chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'),
      );
  });
  req.on('error', () => res.destroy());
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** An OpenAI-style error answer. */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code?: string,
): void {
  sendJson(res, status, { error: { message, type, param: null, code: code ?? null } });
}

/** Sockets closing after their response (closeAfterResponse): requests on them are not served. */
export class SocketCloser {
  private readonly closing = new WeakSet<Socket>();

  constructor(private readonly delay_ms: number) {}

  /** Whether `socket` is being closed after a response. */
  has(socket: Socket): boolean {
    return this.closing.has(socket);
  }

  /**
   * llama-server's way of ending a stream: the response promised keep-alive, and the socket is
   * closed as soon as its last byte is out. A request the client wrote on it meanwhile is never served.
   */
  endAndClose(res: ServerResponse, out: string): void {
    const socket = res.socket;
    if (socket === null) {
      res.end(out);
      return;
    }
    this.closing.add(socket);
    const delay_ms = this.delay_ms;
    res.end(out, () => {
      if (delay_ms === 0) socket.destroy();
      else setTimeout(() => socket.destroy(), delay_ms).unref();
    });
  }
}
