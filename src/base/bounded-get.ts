/**
 * One bounded HTTP GET for everything infermark asks a server about itself (its model list,
 * `/version`, `/metrics`): the whole exchange has a deadline and the body a size cap, so a
 * server that trickles forever or sends gigabytes costs at most that. Failures are data
 * (`why` says which bound or what broke), never exceptions.
 */
import { request } from 'undici';

export interface GetLimits {
  /** Deadline on the whole exchange, headers and body together (undici's own timeouts are per chunk). */
  timeoutMs: number;
  maxBytes: number;
  /** The run's Ctrl-C: a probe of a hanging server must not hold the interruption for its whole deadline. */
  signal?: AbortSignal;
}

export type GetResult =
  | { ok: true; text: string; bytes: number }
  | {
      ok: false;
      /**
       * `status`: not HTTP 200; `size`: body over maxBytes; `time`: past timeoutMs; `cancelled`:
       * the caller's signal; `network`: anything else.
       */
      why: 'status' | 'size' | 'time' | 'cancelled' | 'network';
      status: number | null;
      reason: string;
      bytes: number;
    };

export async function boundedGet(
  url: string,
  headers: Record<string, string>,
  limits: GetLimits,
): Promise<GetResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), limits.timeoutMs);
  const cancel = (): void => abort.abort();
  if (limits.signal?.aborted) cancel();
  else limits.signal?.addEventListener('abort', cancel, { once: true });
  let bytes = 0;
  try {
    const response = await request(url, {
      method: 'GET',
      headers,
      headersTimeout: limits.timeoutMs,
      bodyTimeout: limits.timeoutMs,
      signal: abort.signal,
    });
    // undici's body emits 'error' when destroyed before its end, and an 'error' with no
    // listener ends the process: every early return below destroys it.
    response.body.on('error', () => {});
    const status = response.statusCode;
    if (status !== 200) {
      response.body.destroy();
      return { ok: false, why: 'status', status, reason: `HTTP ${status}`, bytes };
    }
    const chunks: Buffer[] = [];
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) {
        response.body.destroy();
        return { ok: false, why: 'size', status, reason: `body over ${limits.maxBytes} bytes`, bytes };
      }
      chunks.push(chunk);
    }
    return { ok: true, text: Buffer.concat(chunks, bytes).toString('utf8'), bytes };
  } catch (error) {
    if (limits.signal?.aborted) {
      return { ok: false, why: 'cancelled', status: null, reason: 'interrupted', bytes };
    }
    if (abort.signal.aborted) {
      return {
        ok: false,
        why: 'time',
        status: null,
        reason: `no complete answer within ${limits.timeoutMs} ms`,
        bytes,
      };
    }
    return { ok: false, why: 'network', status: null, reason: describe(error), bytes };
  } finally {
    clearTimeout(timer);
    limits.signal?.removeEventListener('abort', cancel);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code)
    ? `${code}: ${error.message}`
    : error.message;
}
