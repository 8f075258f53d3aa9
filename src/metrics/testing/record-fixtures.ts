/**
 * Hand-built request records for tests: a streamed request described by its
 * times in milliseconds, turned into the microsecond record the backend would
 * have stamped. Used by the metrics and report tests (and free for others').
 */
import {
  emptyRecord,
  type ErrorClass,
  type RequestPhase,
  type RequestRecord,
  type RequestStatus,
} from '../record.js';

export interface StreamedRecordSpec {
  index?: number;
  iteration?: number;
  phase?: RequestPhase;
  status?: RequestStatus;
  error_class?: ErrorClass | null;
  /** Defaults to `sent_ms` (no client queueing). */
  scheduled_ms?: number;
  sent_ms: number;
  /** Defaults to null (no headers, e.g. a connection error). */
  headers_ms?: number | null;
  /** Absolute times of the content-bearing events. */
  chunks_ms?: number[];
  /** Tokens per chunk; defaults to 1 each. */
  chunk_tokens?: number[];
  /** Defaults to Σ chunk_tokens. */
  output_tokens?: number;
  output_tokens_source?: 'server' | 'tokenizer';
  /** Defaults to the first chunk (no reasoning). */
  first_output_ms?: number | null;
  /** Defaults to the last chunk, or null without chunks. */
  done_ms?: number | null;
  input_tokens?: number;
  input_tokens_source?: 'server' | 'workload';
  reasoning_tokens?: number | null;
}

const us = (ms: number): number => Math.round(ms * 1000);

/** A record stamped as if the request streamed chunks at `chunks_ms`. */
export function streamedRecord(spec: StreamedRecordSpec): RequestRecord {
  const index = spec.index ?? 0;
  const iteration = spec.iteration ?? 0;
  const chunks = spec.chunks_ms ?? [];
  const tokens = spec.chunk_tokens ?? chunks.map(() => 1);
  const r = emptyRecord(
    `${iteration}-${index}`,
    iteration,
    index,
    spec.phase ?? 'measured',
    us(spec.scheduled_ms ?? spec.sent_ms),
    spec.input_tokens ?? 100,
  );
  const first = chunks[0];
  const last = chunks[chunks.length - 1];
  r.sent_at_us = us(spec.sent_ms);
  r.headers_at_us = spec.headers_ms == null ? null : us(spec.headers_ms);
  r.first_token_at_us = first === undefined ? null : us(first);
  const firstOutput = spec.first_output_ms === undefined ? first : spec.first_output_ms;
  r.first_output_at_us = firstOutput == null ? null : us(firstOutput);
  r.last_token_at_us = last === undefined ? null : us(last);
  const done = spec.done_ms === undefined ? last : spec.done_ms;
  r.done_at_us = done == null ? null : us(done);
  r.chunk_times_us = chunks.map(us);
  r.chunk_tokens = tokens;
  r.output_tokens = spec.output_tokens ?? tokens.reduce((a, b) => a + b, 0);
  r.output_tokens_source = spec.output_tokens_source ?? 'server';
  r.input_tokens_source = spec.input_tokens_source ?? 'server';
  r.reasoning_tokens = spec.reasoning_tokens ?? null;
  r.status = spec.status ?? 'ok';
  r.error_class = spec.error_class ?? (r.status === 'error' ? 'http_5xx' : null);
  r.http_status = r.error_class === 'http_5xx' ? 500 : r.status === 'ok' ? 200 : null;
  return r;
}

/** Evenly spaced chunk times: `n` chunks, the first at `first_ms`, then every `gap_ms`. */
export function evenChunks(first_ms: number, gap_ms: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => first_ms + i * gap_ms);
}
