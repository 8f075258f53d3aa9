/**
 * Reads what the server says about itself: its Prometheus `/metrics` text
 * (scraped at the start and end of every iteration) and its version where it
 * reports one (`/version`, as vLLM and SGLang serve). Failures are data, not errors.
 *
 * Bounded: a body is read up to a size limit and within a total time, so a server
 * that streams forever (or sends gigabytes) costs at most that, and the run goes on.
 */
import { request } from 'undici';

const PROBE_TIMEOUT_MS = 3_000;
/** Whole-probe bound: undici's body timeout is per chunk, so a body that trickles forever would never end. */
const PROBE_TOTAL_MS = 10_000;
/** A `/metrics` page of a large server is a few MB; 32 MiB is far beyond any real one. */
export const METRICS_BODY_LIMIT_BYTES = 32 * 1024 * 1024;
/** `/version` is a few bytes of JSON, answered at once: it may hold the run's start for no longer than this. */
export const VERSION_BODY_LIMIT_BYTES = 1024 * 1024;
const VERSION_TOTAL_MS = 3_000;

export type ProbeResult = { ok: true; text: string } | { ok: false; reason: string };

export interface ProbeLimits {
  maxBytes: number;
  totalMs: number;
}

export async function fetchText(
  url: string,
  headers: Record<string, string> = {},
  limits: ProbeLimits = { maxBytes: METRICS_BODY_LIMIT_BYTES, totalMs: PROBE_TOTAL_MS },
): Promise<ProbeResult> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`no complete response within ${limits.totalMs} ms`)),
    limits.totalMs,
  );
  try {
    const response = await request(url, {
      method: 'GET',
      headers,
      headersTimeout: PROBE_TIMEOUT_MS,
      bodyTimeout: PROBE_TIMEOUT_MS,
      signal: controller.signal,
    });
    if (response.statusCode !== 200) {
      // The body is not needed: drop it (and the connection) instead of reading it.
      discard(response.body);
      return { ok: false, reason: `HTTP ${response.statusCode}` };
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) {
        discard(response.body);
        return { ok: false, reason: `body longer than ${limits.maxBytes} bytes` };
      }
      chunks.push(chunk);
    }
    return { ok: true, text: Buffer.concat(chunks, bytes).toString('utf8') };
  } catch (error) {
    const reason = controller.signal.aborted ? (controller.signal.reason as Error) : (error as Error);
    return { ok: false, reason: reason.message };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Drop a body unread. undici's body emits 'error' (RequestAbortedError) when destroyed
 * before its end, and an 'error' with no listener ends the process: the listener goes first.
 */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

/** The server's version string from `/version`, or null. */
export async function fetchServerVersion(
  baseUrl: string,
  headers: Record<string, string> = {},
): Promise<string | null> {
  const result = await fetchText(`${baseUrl}/version`, headers, {
    maxBytes: VERSION_BODY_LIMIT_BYTES,
    totalMs: VERSION_TOTAL_MS,
  });
  if (!result.ok) return null;
  try {
    const body = JSON.parse(result.text) as { version?: unknown };
    return typeof body.version === 'string' ? body.version : null;
  } catch {
    return null;
  }
}
