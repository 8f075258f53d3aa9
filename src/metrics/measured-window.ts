/**
 * The measured window of an iteration (METRICS.md, duration): from the first
 * measured request's sent_at to the last token any of them received. Throughputs
 * divide by its length; the engine picks the server scrapes taken inside it.
 */
import type { RequestRecord } from './record.js';

/** The window throughputs are taken over. */
export interface MeasuredDuration {
  /** min(sent_at) of the measured requests; Infinity without any. */
  start_us: number;
  /** From start_us to the last token (to the last done_at when no request produced one); null when neither exists. */
  duration_s: number | null;
  /** `last_token` as specified, `done` when no request produced a token. */
  duration_basis: 'last_token' | 'done' | null;
}

/** max(last_token_at) − min(sent_at) over measured requests, falling back to done_at when none produced a token. */
export function measuredDuration(measured: readonly RequestRecord[]): MeasuredDuration {
  let start_us = Infinity;
  let lastToken_us = -Infinity;
  let lastDone_us = -Infinity;
  for (const r of measured) {
    if (r.sent_at_us < start_us) start_us = r.sent_at_us;
    if (r.last_token_at_us !== null && r.last_token_at_us > lastToken_us) lastToken_us = r.last_token_at_us;
    if (r.done_at_us !== null && r.done_at_us > lastDone_us) lastDone_us = r.done_at_us;
  }
  if (measured.length === 0) return { start_us, duration_s: null, duration_basis: null };
  if (lastToken_us > -Infinity)
    return { start_us, duration_s: (lastToken_us - start_us) / 1e6, duration_basis: 'last_token' };
  if (lastDone_us > -Infinity)
    return { start_us, duration_s: (lastDone_us - start_us) / 1e6, duration_basis: 'done' };
  return { start_us, duration_s: null, duration_basis: null };
}

/**
 * The measured window on the records' clock: min(sent_at) to the latest
 * last_token_at (done_at for a request without tokens) of measured requests;
 * null without any. Server scrapes inside it are the ones taken under load.
 */
export function measuredWindowUs(
  records: readonly RequestRecord[],
): { start_us: number; end_us: number } | null {
  let start_us = Infinity;
  let end_us = -Infinity;
  for (const r of records) {
    if (r.phase === 'warmup') continue;
    if (r.sent_at_us < start_us) start_us = r.sent_at_us;
    const end = r.last_token_at_us ?? r.done_at_us ?? r.sent_at_us;
    if (end > end_us) end_us = end;
  }
  return start_us === Infinity ? null : { start_us, end_us };
}
