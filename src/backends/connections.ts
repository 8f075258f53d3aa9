/**
 * The connections of one backend to its origin: a keep-alive undici Pool, the time
 * each new connection took to open (handed to the request it was opened for), and
 * what the backend learns about the origin. Some servers (llama-server) answer
 * `keep-alive` yet close the socket after each streamed response; a request written
 * on such a socket in the meantime fails before reaching the server. Once the origin
 * is seen doing that (a request failed that way, or the server closed a connection
 * that had served a response), every request gets a connection of its own, opened for
 * it and closed after it (undici's `reset: true`, on a second pool that never reuses
 * one), as curl and browsers stop reusing connections to such an origin.
 */
import type { Socket } from 'node:net';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import { nowUs } from '../base/clock.js';

/** What a request needs from its backend's connections (see openai-request.ts). */
export interface RequestConnections {
  /** Connect time of the connection opened for the request being written now, or 0 when it reuses one. */
  takeConnectUs(): number;
  /** A request failed on a reused connection before any response byte: where its retry goes (a fresh connection). */
  retryDispatcher(): Dispatcher;
  /** A connection failed while a response was arriving: its close is no sign of closing after responses. */
  noteMidResponseFailure(): void;
  /** A response ended (its last byte arrived): a close right after it is the origin closing after responses. */
  noteResponseEnd(): void;
}

/**
 * A close this soon after some response ended counts as closing after responses; later, the
 * socket had been idle and the close is an idle timeout (a proxy's, or a server's shorter than
 * undici's 4 s), which says nothing about the next response.
 */
const CLOSE_AFTER_RESPONSE_WINDOW_US = 200_000;

export interface OriginConnectionsOptions {
  /** Most connections open at once (the pool is sized to the load). */
  connections: number;
}

export class OriginConnections implements RequestConnections {
  /** Whether the origin closes connections it said it would keep alive; once true, none is reused. */
  closes = false;
  private readonly origin: string;
  private readonly connections: number;
  private readonly pool: Pool;
  private freshPool: Pool | null = null;
  private readonly connector: buildConnector.connector;
  /**
   * Connect time of the connection being handed to undici, -1 otherwise: undici writes the
   * request waiting for it synchronously inside the connect callback, so that request's
   * onConnect reads it, and nothing else can.
   */
  private justConnected_us = -1;
  private midResponseFailures = 0;
  private lastResponseEnd_us = -Infinity;

  constructor(origin: string, options: OriginConnectionsOptions) {
    this.origin = origin;
    this.connections = Math.max(1, Math.floor(options.connections));
    this.connector = buildConnector({});
    this.pool = this.newPool();
  }

  /** Where a new request goes; once the origin `closes`, it must also ask for `reset: true`. */
  get dispatcher(): Dispatcher {
    return this.freshPool ?? this.pool;
  }

  takeConnectUs(): number {
    const us = this.justConnected_us;
    this.justConnected_us = -1;
    return us > 0 ? us : 0;
  }

  retryDispatcher(): Dispatcher {
    this.markCloses();
    return this.freshPool as Pool;
  }

  noteMidResponseFailure(): void {
    this.midResponseFailures++;
  }

  noteResponseEnd(): void {
    this.lastResponseEnd_us = nowUs();
  }

  /** Close both pools: idle sockets end, in-flight requests (already cancelled by the engine) are not awaited. */
  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.freshPool?.close()]);
  }

  private markCloses(): void {
    if (this.freshPool !== null) return;
    this.closes = true;
    this.freshPool = this.newPool();
  }

  private newPool(): Pool {
    return new Pool(this.origin, {
      connections: this.connections,
      pipelining: 1,
      // The whole-request timeout is ours (requestTimeoutMs); undici's per-phase timers would race it.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: this.connect,
    });
  }

  /** undici's own connector, timed, with the new socket watched for a close after a response. */
  private readonly connect = (options: buildConnector.Options, callback: buildConnector.Callback): void => {
    const start_us = nowUs();
    this.connector(options, (err, socket) => {
      if (err !== null) {
        callback(err, null);
        return;
      }
      if (!this.closes) this.watch(socket);
      this.justConnected_us = Math.max(1, nowUs() - start_us);
      try {
        callback(null, socket);
      } finally {
        this.justConnected_us = -1;
      }
    });
  };

  /**
   * A server closing a connection that carried a response, right after a response ended, is an
   * origin that closes after responses, unless a response was cut (a request failed
   * mid-response when the socket closed: undici fails it from its own 'close' listener, which
   * runs before this one). One response end for the whole origin is kept, not one per socket:
   * a close within the window of any response is taken as this socket's.
   */
  private watch(socket: Socket): void {
    socket.once('end', () => {
      if (this.closes || socket.bytesRead === 0) return;
      if (nowUs() - this.lastResponseEnd_us > CLOSE_AFTER_RESPONSE_WINDOW_US) return;
      const failuresBefore = this.midResponseFailures;
      socket.once('close', () => {
        if (this.midResponseFailures === failuresBefore) this.markCloses();
      });
    });
  }
}
