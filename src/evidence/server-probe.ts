/**
 * Reads what the server says about itself: its Prometheus `/metrics` text
 * (scraped at the start and end of every iteration) and its version where it
 * reports one (`/version`, as vLLM and SGLang serve). Failures are data, not errors.
 */
import { request } from 'undici';

const PROBE_TIMEOUT_MS = 3_000;

export type ProbeResult = { ok: true; text: string } | { ok: false; reason: string };

export async function fetchText(url: string, headers: Record<string, string> = {}): Promise<ProbeResult> {
  try {
    const response = await request(url, {
      method: 'GET',
      headers,
      headersTimeout: PROBE_TIMEOUT_MS,
      bodyTimeout: PROBE_TIMEOUT_MS,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) return { ok: false, reason: `HTTP ${response.statusCode}` };
    return { ok: true, text };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

/** The server's version string from `/version`, or null. */
export async function fetchServerVersion(
  baseUrl: string,
  headers: Record<string, string> = {},
): Promise<string | null> {
  const result = await fetchText(`${baseUrl}/version`, headers);
  if (!result.ok) return null;
  try {
    const body = JSON.parse(result.text) as { version?: unknown };
    return typeof body.version === 'string' ? body.version : null;
  } catch {
    return null;
  }
}
