/**
 * The OpenAI-compatible protocol adapters (chat, completions, embeddings):
 * request bodies per kind, one set of connections per backend sized to the load
 * (connections.ts), and `createBackend`, the registry entry the engine calls.
 */
import type { Dispatcher } from 'undici';
import { traceparentFor } from '../base/trace-id.js';
import type { RequestRecord } from '../metrics/record.js';
import type { WorkItem } from '../workload/work-item.js';
import { AbortFanout } from './abort-fanout.js';
import { OriginConnections } from './connections.js';
import {
  recordFor,
  type Backend,
  type BackendKind,
  type BackendOptions,
  type RequestContext,
} from './backend.js';
import { OPENAI_DIALECT, OpenAIRequest, UNSET_MAX_TOKENS, type RequestSettings } from './openai-request.js';
import { RERANK_DIALECT, rerankBody } from './rerank.js';

/** Default request path per kind, appended to the base URL's path prefix. */
export const DEFAULT_PATHS: Readonly<Record<OpenAIKind, string>> = {
  'openai-chat': '/v1/chat/completions',
  'openai-completions': '/v1/completions',
  'openai-embeddings': '/v1/embeddings',
};

/** The OpenAI kinds. */
export type OpenAIKind = 'openai-chat' | 'openai-completions' | 'openai-embeddings';

/** Every kind this module implements. */
export const OPENAI_KINDS: readonly OpenAIKind[] = ['openai-chat', 'openai-completions', 'openai-embeddings'];

/** Rerank items (R scenarios) of the embeddings kind go here, below the base URL's prefix. */
export const RERANK_PATH = '/v1/rerank';

/**
 * Create the adapter for an OpenAI `kind` (registry.ts holds every format's). The backend
 * owns a connection pool; call `close()` when done.
 */
export function createBackend(kind: BackendKind, options: BackendOptions): Backend {
  if (!(OPENAI_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(`unknown OpenAI backend kind: ${String(kind)}`);
  }
  return new OpenAIBackend(kind as OpenAIKind, options);
}

/**
 * The JSON body for one work item.
 *
 * - chat: `{model, messages: [{role: 'user', content}], max_tokens, stream,
 *   stream_options: {include_usage: true}}`; a multi-turn item's history comes first in
 *   `messages`, in order; images become content parts
 *   `[{type: 'text', text}, {type: 'image_url', image_url: {url}}]`.
 * - completions: `{model, prompt, max_tokens, stream, stream_options}`.
 * - embeddings: `{model, input}`: the item's documents when it has some (E),
 *   else its prompt. Rerank items (query + documents, R) are not embedded: the
 *   backend sends them to `/v1/rerank` (rerank.ts); given one here, the input list
 *   is `[query, ...documents]`.
 *
 * `forceOutputLength` adds `ignore_eos: true` and `min_tokens: max_tokens`,
 * which vLLM and SGLang honour; OpenAI proper rejects unknown fields, which is
 * why it is an option. `stream_options` is sent only when streaming (OpenAI
 * rejects it otherwise). `additionalParams` is merged last, so the job's
 * explicit parameters win.
 */
export function buildRequestBody(
  kind: OpenAIKind,
  options: Pick<BackendOptions, 'model' | 'stream' | 'forceOutputLength' | 'additionalParams'>,
  item: WorkItem,
): Record<string, unknown> {
  let body: Record<string, unknown>;
  if (kind === 'openai-embeddings') {
    let input: string | string[] = item.prompt;
    if (item.query !== undefined) input = [item.query, ...(item.documents ?? [])];
    else if (item.documents !== undefined && item.documents.length > 0) input = item.documents;
    body = { model: options.model, input };
  } else {
    body = { model: options.model };
    if (kind === 'openai-chat') {
      const content =
        item.images !== undefined && item.images.length > 0
          ? [
              { type: 'text', text: item.prompt },
              ...item.images.map((url) => ({ type: 'image_url', image_url: { url } })),
            ]
          : item.prompt;
      // Multi-turn: the conversation so far, then this turn's user message.
      body.messages =
        item.history !== undefined && item.history.length > 0
          ? [...item.history.map(({ role, content }) => ({ role, content })), { role: 'user', content }]
          : [{ role: 'user', content }];
    } else {
      body.prompt = item.prompt;
    }
    body.max_tokens = item.max_tokens;
    body.stream = options.stream;
    if (options.stream) body.stream_options = { include_usage: true };
    if (options.forceOutputLength) {
      body.ignore_eos = true;
      body.min_tokens = item.max_tokens;
    }
  }
  for (const key of Object.keys(options.additionalParams)) body[key] = options.additionalParams[key];
  return body;
}

/**
 * The output tokens a request body asks for, which bounds its response: `max_tokens` (or
 * `max_completion_tokens`, the larger when both are set) times the choices `n`. Bodies
 * that set neither get UNSET_MAX_TOKENS.
 */
export function tokensAsked(body: Record<string, unknown>): number {
  const counts = [body.max_tokens, body.max_completion_tokens].filter(
    (v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0,
  );
  const perChoice = counts.length > 0 ? Math.max(...counts) : UNSET_MAX_TOKENS;
  const n = typeof body.n === 'number' && Number.isInteger(body.n) && body.n > 1 ? body.n : 1;
  return perChoice * n;
}

class OpenAIBackend implements Backend {
  readonly kind: OpenAIKind;
  private readonly connections: OriginConnections;
  private readonly path: string;
  private readonly rerankPath: string;
  private readonly rerankSettings: RequestSettings;
  /** Flat name/value list, the form undici consumes without converting. */
  private readonly baseHeaders: string[];
  private readonly settings: RequestSettings;
  private readonly options: BackendOptions;

  constructor(kind: OpenAIKind, options: BackendOptions) {
    this.kind = kind;
    this.options = options;
    const url = new URL(options.baseUrl);
    const prefix = url.pathname.replace(/\/+$/, '');
    // The job's OpenAI path (or the kind's default) goes below the base URL's path prefix.
    this.path = `${prefix}${options.path ?? DEFAULT_PATHS[kind]}`;
    this.rerankPath = `${prefix}${RERANK_PATH}`;
    this.connections = new OriginConnections(url.origin, { connections: options.connections });
    const headers: string[] = ['content-type', 'application/json'];
    if (options.apiKey) headers.push('authorization', `Bearer ${options.apiKey}`);
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.push(name, value);
    this.baseHeaders = headers;
    this.settings = {
      embeddings: kind === 'openai-embeddings',
      dialect: OPENAI_DIALECT,
      requestTimeoutMs: options.requestTimeoutMs,
      countTokens: options.countTokens,
      secrets: options.apiKey ? [options.apiKey] : [],
      aborts: new AbortFanout(),
      connections: this.connections,
    };
    this.rerankSettings = { ...this.settings, embeddings: true, dialect: RERANK_DIALECT };
  }

  send(item: WorkItem, ctx: RequestContext): Promise<RequestRecord> {
    const rec = recordFor(item, ctx);
    // R items are reranked, not embedded: the embeddings kind is the one that serves them.
    const rerank = this.kind === 'openai-embeddings' && item.query !== undefined;
    const body = rerank
      ? rerankBody(this.options.model, item, this.options.additionalParams)
      : buildRequestBody(this.kind, this.options, item);
    const dispatch: Dispatcher.DispatchOptions = {
      method: 'POST',
      path: rerank ? this.rerankPath : this.path,
      headers: ctx.trace_id
        ? [...this.baseHeaders, 'x-request-id', ctx.request_id, 'traceparent', traceparentFor(ctx.trace_id)]
        : [...this.baseHeaders, 'x-request-id', ctx.request_id],
      body: JSON.stringify(body),
    };
    const connections = this.connections;
    // An origin that closes after responses gets a connection per request, closed after it.
    if (connections.closes) dispatch.reset = true;
    const settings = rerank ? this.rerankSettings : this.settings;
    return new OpenAIRequest(
      rec,
      settings,
      ctx.signal,
      tokensAsked(body),
      Boolean(body.logprobs),
      ctx.onContent,
    ).run(connections.dispatcher, dispatch);
  }

  async close(): Promise<void> {
    // The engine has cancelled in-flight requests; close waits for nothing else and ends idle sockets.
    await this.connections.close();
  }
}
