/**
 * Preflight: before any load is sent, ask the server which models it serves
 * (`GET {base}/v1/models`, the OpenAI list that vLLM, SGLang, TGI and llama.cpp
 * serve) and say so when the job's model is not among them, listing those that
 * are: a wrong model name otherwise costs a whole run of 404s. A server with no
 * such list (404), or one that cannot answer, is not a failure: the run goes on
 * and fail fast (fail-fast.ts) catches a server that refuses every request.
 * The answer is bounded in time and bytes, whatever the server sends.
 */
import { boundedGet } from '../base/bounded-get.js';

/** The whole exchange, headers and body. */
export const PREFLIGHT_TIMEOUT_MS = 5_000;
/** A model list is a few KiB; a server sending more is not answering the question. */
export const PREFLIGHT_MAX_BYTES = 1024 * 1024;
/** Model ids quoted in an error, and characters of each. */
const MAX_LISTED_MODELS = 20;
const MAX_MODEL_ID_CHARS = 200;

export type PreflightResult =
  | { outcome: 'served'; url: string }
  | { outcome: 'not_served'; url: string; models: string[] }
  /** The list could not be had or read: a notice, not a failure. */
  | { outcome: 'unchecked'; url: string; reason: string };

export interface PreflightOptions {
  timeoutMs?: number;
  maxBytes?: number;
  /** Ctrl-C: the check ends at once (unchecked) and the run, already interrupted, sends nothing. */
  signal?: AbortSignal;
}

/** Whether `model` is in the server's model list; never throws. */
export async function checkModelServed(
  baseUrl: string,
  model: string,
  headers: Record<string, string> = {},
  options: PreflightOptions = {},
): Promise<PreflightResult> {
  const url = `${baseUrl}/v1/models`;
  const body = await fetchBounded(url, headers, options);
  if (!body.ok) return { outcome: 'unchecked', url, reason: body.reason };
  const models = modelIds(body.text);
  if (models === null) return { outcome: 'unchecked', url, reason: 'the answer is not an OpenAI model list' };
  if (models.length === 0) return { outcome: 'unchecked', url, reason: 'the list names no model' };
  return isListed(model, models) ? { outcome: 'served', url } : { outcome: 'not_served', url, models };
}

/**
 * Whether the list names the model. Ollama lists `llama3.2:latest` and answers to `llama3.2`:
 * a name without a tag matches its `:latest`, as the server itself resolves it.
 */
export function isListed(model: string, models: readonly string[]): boolean {
  return models.includes(model) || (!model.includes(':') && models.includes(`${model}:latest`));
}

/** What a person reads when the model is not served: the models that are, and a near match if any. */
export function notServedMessage(result: { url: string; models: string[] }, model: string): string {
  const shown = result.models.slice(0, MAX_LISTED_MODELS).map((id) => JSON.stringify(printable(id)));
  const more = result.models.length - shown.length;
  const near = result.models.find((id) => id.toLowerCase() === model.toLowerCase());
  return (
    `not served by ${result.url}, which lists ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}` +
    `${near ? ` (did you mean ${JSON.stringify(printable(near))}?)` : ''}` +
    '; --no-preflight (spec.preflight: false) skips this check for servers that accept any name'
  );
}

type Bounded = { ok: true; text: string } | { ok: false; reason: string };

async function fetchBounded(
  url: string,
  headers: Record<string, string>,
  options: PreflightOptions,
): Promise<Bounded> {
  const timeoutMs = options.timeoutMs ?? PREFLIGHT_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? PREFLIGHT_MAX_BYTES;
  const result = await boundedGet(
    url,
    { accept: 'application/json', ...headers },
    { timeoutMs, maxBytes, ...(options.signal ? { signal: options.signal } : {}) },
  );
  if (result.ok) return result;
  switch (result.why) {
    case 'status':
      return {
        ok: false,
        reason: result.status === 404 ? 'the server has no model list (HTTP 404)' : result.reason,
      };
    case 'size':
      return { ok: false, reason: `the answer is over ${maxBytes} bytes` };
    case 'time':
      return { ok: false, reason: `no answer within ${timeoutMs} ms` };
    default:
      return { ok: false, reason: result.reason };
  }
}

/** The ids of an OpenAI list (`{"data": [{"id": ...}]}`), or null when it is not one. */
function modelIds(text: string): string[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return null;
  const ids: string[] = [];
  for (const entry of data) {
    const id = (entry as { id?: unknown } | null)?.id;
    if (typeof id === 'string') ids.push(id);
  }
  return ids;
}

/** A server's string, safe to print: no control characters, bounded. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > MAX_MODEL_ID_CHARS ? `${clean.slice(0, MAX_MODEL_ID_CHARS - 1)}…` : clean;
}
