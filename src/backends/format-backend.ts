/**
 * A backend for the non-OpenAI API formats (Cohere, OCI Generative AI): a WireFormat says
 * where each work item goes, with which body and how its answer reads; this class sends it
 * with the same request handler as the OpenAI adapters (openai-request.ts: stamps, bounds,
 * classification), so every format is measured and bounded alike. A format may sign its
 * requests (OCI): the signature is computed over the exact body bytes sent, before the
 * request is handed to its connection, so signing time is client time, not TTFT.
 */
import type { Dispatcher } from 'undici';
import { nowUs } from '../base/clock.js';
import { traceparentFor } from '../base/trace-id.js';
import type { RequestRecord } from '../metrics/record.js';
import type { WorkItem } from '../workload/work-item.js';
import { AbortFanout } from './abort-fanout.js';
import {
  recordFor,
  type Backend,
  type BackendKind,
  type BackendOptions,
  type RequestContext,
} from './backend.js';
import { OriginConnections } from './connections.js';
import { OpenAIRequest, type RequestSettings, type ResponseDialect } from './openai-request.js';

/** What one request is: generation, embedding or rerank (each reads its answer its own way). */
export type Operation = 'generate' | 'embed' | 'rerank';

/** One work item on the wire. */
export interface WireRequest {
  operation: Operation;
  /** Below the base URL's path prefix. */
  path: string;
  body: Record<string, unknown>;
  /** Output tokens asked for (bounds the answer); 0 when nothing is generated or the body sets none. */
  tokensAsked: number;
}

/** One API format: its requests and how each operation's answers read. */
export interface WireFormat {
  request(item: WorkItem, options: BackendOptions): WireRequest;
  readonly dialects: Readonly<Record<Operation, ResponseDialect>>;
}

/**
 * Signs one request: given its method, full URL, headers and exact body, the headers to
 * send besides them (Authorization and the headers it covers). Throws when it cannot sign.
 */
export type RequestSigning = (
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string,
) => Promise<Record<string, string>>;

/** Longest signing error kept in a record. */
const SIGN_ERROR_MAX_CHARS = 300;

export class FormatBackend implements Backend {
  private readonly connections: OriginConnections;
  private readonly origin: string;
  private readonly prefix: string;
  private readonly baseHeaders: Record<string, string>;
  private readonly settings: Record<Operation, RequestSettings>;

  constructor(
    readonly kind: BackendKind,
    private readonly options: BackendOptions,
    private readonly format: WireFormat,
    private readonly sign: RequestSigning | null = null,
  ) {
    const url = new URL(options.baseUrl);
    this.origin = url.origin;
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.connections = new OriginConnections(url.origin, { connections: options.connections });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // A signed format (OCI) authenticates by its signature only: never a bearer key beside it.
    if (options.apiKey && sign === null) headers.authorization = `Bearer ${options.apiKey}`;
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    this.baseHeaders = headers;
    const shared = {
      requestTimeoutMs: options.requestTimeoutMs,
      countTokens: options.countTokens,
      secrets: options.apiKey ? [options.apiKey] : [],
      aborts: new AbortFanout(),
      connections: this.connections,
    };
    this.settings = {
      generate: { ...shared, embeddings: false, dialect: format.dialects.generate },
      embed: { ...shared, embeddings: true, dialect: format.dialects.embed },
      rerank: { ...shared, embeddings: true, dialect: format.dialects.rerank },
    };
  }

  async send(item: WorkItem, ctx: RequestContext): Promise<RequestRecord> {
    const rec = recordFor(item, ctx);
    const wire = this.format.request(item, this.options);
    const path = `${this.prefix}${wire.path}`;
    const body = JSON.stringify(wire.body);
    let headers: Record<string, string> = { ...this.baseHeaders, 'x-request-id': ctx.request_id };
    if (ctx.trace_id) headers.traceparent = traceparentFor(ctx.trace_id);
    if (this.sign !== null) {
      try {
        headers = { ...headers, ...(await this.sign('POST', `${this.origin}${path}`, headers, body)) };
      } catch (error) {
        return this.unsigned(rec, error);
      }
    }
    const dispatch: Dispatcher.DispatchOptions = { method: 'POST', path, headers: flat(headers), body };
    if (this.connections.closes) dispatch.reset = true;
    return new OpenAIRequest(
      rec,
      this.settings[wire.operation],
      ctx.signal,
      wire.tokensAsked,
      false,
      // Multi-turn: the answer becomes the next turn's assistant message, as for OpenAI chat.
      ctx.onContent,
    ).run(this.connections.dispatcher, dispatch);
  }

  async close(): Promise<void> {
    await this.connections.close();
  }

  /** A request that could not be signed is never sent: a `connection` error (no server saw it). */
  private unsigned(rec: RequestRecord, error: unknown): RequestRecord {
    const t = nowUs();
    rec.sent_at_us = t;
    rec.done_at_us = t;
    rec.status = 'error';
    rec.error_class = 'connection';
    const message = error instanceof Error ? error.message : String(error);
    rec.error_message = `request signing failed: ${message}`.slice(0, SIGN_ERROR_MAX_CHARS);
    return rec;
  }
}

/** Headers as the flat name/value list undici consumes without converting. */
function flat(headers: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) out.push(name, value);
  return out;
}
