/**
 * One interface for every protocol adapter. A backend sends one work item and
 * returns its request record; it never throws for a failed request: failures are
 * classified into the record (http_4xx, http_429, http_5xx, timeout, connection,
 * protocol, oversize), and an abort by the engine yields status `cancelled`.
 */
import { emptyRecord, type RequestPhase, type RequestRecord } from '../metrics/record.js';
import type { WorkItem } from '../workload/work-item.js';

/**
 * One adapter per API format and task (registry.ts maps each to its factory). The
 * embeddings kinds also serve rerank items (R scenarios) where their format has a rerank
 * endpoint (`/v1/rerank`, Cohere's `/v2/rerank`).
 */
export type BackendKind =
  | 'openai-chat'
  | 'openai-completions'
  | 'openai-embeddings'
  | 'cohere-chat'
  | 'cohere-embed'
  | 'oci-cohere-chat'
  | 'oci-cohere-embed';

/** How OCI requests are signed (spec.oci): an OCI config file's key, or the instance's principal. */
export interface OciSigning {
  auth: 'config-file' | 'instance-principal';
  /** config-file: the file (default ~/.oci/config) and its profile (default DEFAULT). */
  configFile?: string;
  profile?: string;
  /** The compartment every request names (`compartmentId`). */
  compartmentId: string;
}

export interface BackendOptions {
  /** Origin plus any path prefix, e.g. `http://127.0.0.1:8000` (the adapter appends `/v1/...`). */
  baseUrl: string;
  /** The OpenAI path when the job names one (`/v1/completions`), below baseUrl's prefix; else the kind's default. */
  path?: string;
  model: string;
  /** Bearer token; never logged. */
  apiKey?: string;
  stream: boolean;
  /** Whole-request timeout (send to end of body). */
  requestTimeoutMs: number;
  /** Merged into every request body (the job's `additionalRequestParams`, values coerced from strings). */
  additionalParams: Record<string, unknown>;
  /** Ask the server not to stop before `max_tokens` (`ignore_eos`, `min_tokens`). */
  forceOutputLength: boolean;
  /** Upper bound on concurrent connections (pool sized to the load). */
  connections: number;
  /** Counts tokens of generated text when the server does not report usage. */
  countTokens: (text: string) => number;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** OCI formats: how requests are signed and the compartment they name (required there). */
  oci?: OciSigning;
}

export interface RequestContext {
  request_id: string;
  /** W3C trace id; when set it is sent in a `traceparent` header (request_id goes in `x-request-id`). */
  trace_id?: string;
  iteration: number;
  index: number;
  phase: RequestPhase;
  scheduled_at_us: number;
  /** Aborted by the engine when the iteration ends and in-flight requests are cancelled. */
  signal: AbortSignal;
  /**
   * Multi-turn: called once, before the record resolves, with the generated content text
   * (the answer's `content`, without reasoning) of a completed request, so the engine can
   * send it back as the assistant turn. Bounded as the response already is (its characters
   * per token asked). Not called for a failed or cancelled request.
   */
  onContent?: (text: string) => void;
}

export interface Backend {
  readonly kind: BackendKind;
  send(item: WorkItem, ctx: RequestContext): Promise<RequestRecord>;
  /**
   * Loads what sending needs before the first request (OCI: the signing key or the instance
   * principal's certificate); throws a ValidationError naming the setting that is wrong.
   */
  prepare?(): Promise<void>;
  close(): Promise<void>;
}

/** The empty record a backend fills for `item`, stamped with the request's identity and schedule. */
export function recordFor(item: WorkItem, ctx: RequestContext): RequestRecord {
  return emptyRecord(
    ctx.request_id,
    ctx.iteration,
    ctx.index,
    ctx.phase,
    ctx.scheduled_at_us,
    item.input_tokens,
    ctx.trace_id ?? null,
  );
}
