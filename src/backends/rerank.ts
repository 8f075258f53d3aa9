/**
 * Rerank requests (the R(docs,query) scenario): `{model, query, documents}`, the shape
 * vLLM and TEI-compatible servers serve at `/v1/rerank` (Jina's and Cohere's) and Cohere at
 * `/v2/rerank`. A rerank generates nothing; its one measured time is the whole answer, and
 * its token count is the server's (`usage.total_tokens` from vLLM, `meta.tokens` or
 * `meta.billed_units` from Cohere) where it reports one, else the workload's.
 */
import type { WorkItem } from '../workload/work-item.js';
import type { ResponseDialect } from './openai-request.js';
import {
  ChunkType,
  classifyChunkJson,
  errorMessageOf,
  newChunkInfo,
  reset,
  usageCount,
  type ChunkInfo,
} from './sse-parser.js';

/** The body of one rerank request; `additionalParams` merged last (the job's explicit parameters win). */
export function rerankBody(
  model: string,
  item: WorkItem,
  additionalParams: Record<string, unknown>,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model,
    query: item.query ?? item.prompt,
    documents: item.documents ?? [],
  };
  for (const key of Object.keys(additionalParams)) body[key] = additionalParams[key];
  return body;
}

/**
 * Usage of a rerank answer: the prompt tokens it read (`usage.prompt_tokens` or
 * `usage.total_tokens`, or Cohere's `meta.tokens.input_tokens` / `meta.billed_units.input_tokens`),
 * absent (-1) when it reports none. A body without a `results` list is not a rerank answer.
 * null when the body is not JSON.
 */
export function rerankUsage(text: string): ChunkInfo | null {
  const out = newChunkInfo();
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return null;
  const o = obj as Record<string, unknown>;
  if ((o.error !== undefined && o.error !== null) || o.object === 'error') {
    reset(out, ChunkType.error);
    out.message = errorMessageOf(o);
    return out;
  }
  if (!Array.isArray(o.results)) {
    reset(out, ChunkType.invalid);
    out.message = 'rerank response without a results list';
    return out;
  }
  const usage = o.usage;
  if (isObj(usage)) {
    out.hasUsage = true;
    const prompt = usageCount(out, 'prompt_tokens', usage.prompt_tokens);
    out.promptTokens = prompt >= 0 ? prompt : usageCount(out, 'total_tokens', usage.total_tokens);
    return out;
  }
  const meta = o.meta;
  if (isObj(meta)) {
    const counted = isObj(meta.tokens) ? meta.tokens : isObj(meta.billed_units) ? meta.billed_units : null;
    if (counted !== null && counted.input_tokens !== undefined) {
      out.hasUsage = true;
      out.promptTokens = usageCount(out, 'meta.input_tokens', counted.input_tokens);
    }
  }
  return out;
}

/** Rerank answers: never streamed; the usage reader above. */
export const RERANK_DIALECT: ResponseDialect = {
  event: classifyChunkJson,
  body: classifyChunkJson,
  usage: rerankUsage,
  streamEnd: '[DONE]',
};

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
