/**
 * The request record: one request's facts, as the backend stamped them.
 * Times are monotonic integer microseconds (see engine/clock.ts); derived
 * metrics (ttft, tpot, itl, ...) are computed from these in metrics/, never stored twice.
 * Field formulas are pinned in METRICS.md and docs/metrics.md.
 */

/**
 * Why a request failed. `cancelled` is not an error: it is counted separately.
 * `protocol`: the server broke the protocol (unparseable or malformed stream, HTTP
 * framing errors, impossible usage numbers, no content at all). `oversize`: the
 * response went past a bound the client sets on what one response may carry (bytes,
 * SSE line length, events, text far beyond `max_tokens`) and was ended there; it is
 * its own class because it says the server would not stop, not that it spoke wrongly.
 */
export type ErrorClass =
  'http_4xx' | 'http_429' | 'http_5xx' | 'timeout' | 'connection' | 'protocol' | 'oversize';

export type RequestStatus = 'ok' | 'error' | 'cancelled';

export type RequestPhase = 'warmup' | 'measured';

export interface RequestRecord {
  /** Unique per run: `<iteration>-<index>`; (run_id, request_id) is the global key. */
  request_id: string;
  /** W3C trace id sent in `traceparent` (globally unique; see evidence/trace-id.ts), or null. */
  trace_id: string | null;
  /** Index of the iteration in the plan. */
  iteration: number;
  /** Index of the work item within the iteration (dispatch order). */
  index: number;
  phase: RequestPhase;
  /** Intended dispatch time (open loop: run start + arrival schedule; closed loop: when a slot freed). */
  scheduled_at_us: number;
  /** Just before the request bytes were written. */
  sent_at_us: number;
  /** Response headers received. */
  headers_at_us: number | null;
  /** First event with non-empty content, reasoning content or completion text. */
  first_token_at_us: number | null;
  /** First event with non-reasoning content. */
  first_output_at_us: number | null;
  /** Last content-bearing event. */
  last_token_at_us: number | null;
  /** `[DONE]` or end of stream (or end of body for non-streamed responses). */
  done_at_us: number | null;
  /** Time of every content-bearing event. */
  chunk_times_us: number[];
  /** Tokens in each content-bearing event, parallel to `chunk_times_us`. */
  chunk_tokens: number[];
  input_tokens: number;
  input_tokens_source: 'server' | 'workload';
  output_tokens: number;
  output_tokens_source: 'server' | 'tokenizer';
  /** Reasoning tokens when the server reports them (`completion_tokens_details.reasoning_tokens`). */
  reasoning_tokens: number | null;
  /** Characters of generated text (content + reasoning), kept instead of the text itself. */
  output_chars: number;
  status: RequestStatus;
  error_class: ErrorClass | null;
  http_status: number | null;
  /** Short, redacted description of the failure. */
  error_message: string | null;
  /**
   * How long the request waited for a connection: from dispatch to the connection being ready
   * for it (a pooled one freeing up, or a new one connecting; connect_us included). Not in ttft.
   */
  pool_wait_us: number;
  /** TCP (and TLS) connect time of the new connection this request opened; 0 when it reused one. */
  connect_us: number;
  /**
   * Times the request was sent again: 1 when its first try failed on a reused connection that the
   * server had closed before any response byte arrived. The stamps are the last try's.
   */
  retries: number;
  /** The first try's failure when retried (short, redacted like error_message), else null. */
  first_error: string | null;
  /**
   * The shared prefix the prompt began with (spec.sharedPrefix: group g of G; a trace's first
   * hash_id), or null when the workload shares none. Records of older runs lack it: read as null.
   */
  prefix_group?: number | null;
  /**
   * Prompt tokens the server said it served from its prefix cache
   * (`usage.prompt_tokens_details.cached_tokens`, Cohere's `cached_tokens`), or null when it did not say.
   */
  cached_tokens?: number | null;
  /** A multi-turn request's conversation (`<iteration>-<conversation index>`), or null. */
  conversation_id?: string | null;
  /** Its turn in the conversation, from 0; null outside multi-turn workloads. */
  turn_index?: number | null;
}

/** A record with every stamp empty, for the backend to fill. */
export function emptyRecord(
  request_id: string,
  iteration: number,
  index: number,
  phase: RequestPhase,
  scheduled_at_us: number,
  input_tokens: number,
  trace_id: string | null = null,
): RequestRecord {
  return {
    request_id,
    trace_id,
    iteration,
    index,
    phase,
    scheduled_at_us,
    sent_at_us: scheduled_at_us,
    headers_at_us: null,
    first_token_at_us: null,
    first_output_at_us: null,
    last_token_at_us: null,
    done_at_us: null,
    chunk_times_us: [],
    chunk_tokens: [],
    input_tokens,
    input_tokens_source: 'workload',
    output_tokens: 0,
    output_tokens_source: 'tokenizer',
    reasoning_tokens: null,
    output_chars: 0,
    status: 'ok',
    error_class: null,
    http_status: null,
    error_message: null,
    pool_wait_us: 0,
    connect_us: 0,
    retries: 0,
    first_error: null,
    prefix_group: null,
    cached_tokens: null,
    conversation_id: null,
    turn_index: null,
  };
}
