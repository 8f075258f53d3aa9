/**
 * Reads what the server says about itself: its Prometheus `/metrics` text
 * (scraped at the start and end of every iteration) and its version where it
 * reports one (`/version`, as vLLM and SGLang serve). Failures are data, not errors.
 *
 * Bounded: a body is read up to a size limit and within a total time, so a server
 * that streams forever (or sends gigabytes) costs at most that, and the run goes on.
 */
import { boundedGet } from '../base/bounded-get.js';

/** Whole-probe bound: undici's body timeout is per chunk, so a body that trickles forever would never end. */
export const PROBE_TOTAL_MS = 10_000;
/** A `/metrics` page of a large server is a few MB; 32 MiB is far beyond any real one. */
export const METRICS_BODY_LIMIT_BYTES = 32 * 1024 * 1024;
/** `/version` is a few bytes of JSON, answered at once: it may hold the run's start for no longer than this. */
export const VERSION_BODY_LIMIT_BYTES = 1024 * 1024;
const VERSION_TOTAL_MS = 3_000;

export type ProbeResult = { ok: true; text: string } | { ok: false; reason: string };

export interface ProbeLimits {
  maxBytes: number;
  totalMs: number;
  /** Ends the probe early (the run's Ctrl-C). */
  signal?: AbortSignal;
}

export async function fetchText(
  url: string,
  headers: Record<string, string> = {},
  limits: ProbeLimits = { maxBytes: METRICS_BODY_LIMIT_BYTES, totalMs: PROBE_TOTAL_MS },
): Promise<ProbeResult> {
  const result = await boundedGet(url, headers, {
    timeoutMs: limits.totalMs,
    maxBytes: limits.maxBytes,
    ...(limits.signal ? { signal: limits.signal } : {}),
  });
  return result.ok ? { ok: true, text: result.text } : { ok: false, reason: result.reason };
}

/** The server's version string from `/version`, or null. */
export async function fetchServerVersion(
  baseUrl: string,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<string | null> {
  const result = await fetchText(`${baseUrl}/version`, headers, {
    maxBytes: VERSION_BODY_LIMIT_BYTES,
    totalMs: VERSION_TOTAL_MS,
    ...(signal ? { signal } : {}),
  });
  if (!result.ok) return null;
  try {
    const body = JSON.parse(result.text) as { version?: unknown };
    return typeof body.version === 'string' ? body.version : null;
  } catch {
    return null;
  }
}
