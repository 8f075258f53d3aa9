/**
 * How Cohere's API v2 answers read. A chat stream is SSE events each naming its `type`:
 * `message-start`, `content-start`, `content-delta` (text in `delta.message.content.text`,
 * a reasoning model's thoughts in `.thinking`), `content-end`, then `message-end` with
 * `delta.finish_reason` and `delta.usage` (`tokens` and `billed_units`, each
 * `{input_tokens, output_tokens}`); no `[DONE]` follows, so `message-end` ends the stream.
 * Tool and citation events carry no text and are read as empty events. A whole chat answer
 * is `{message: {content: [{type: 'text', text}]}, finish_reason, usage}`; an embed answer
 * `{embeddings: {...}, meta: {billed_units: {input_tokens}}}`.
 */
import type { ResponseDialect } from './openai-request.js';
import { isObj, parseObject, type Obj } from './event-object.js';
import { RERANK_DIALECT } from './rerank.js';
import { ChunkType, newChunkInfo, reset, usageCount, type ChunkInfo } from './sse-parser.js';

/** One stream event of `/v2/chat`. */
export function classifyCohereEvent(data: string, out: ChunkInfo): ChunkInfo {
  const o = parseObject(data, out);
  if (o === null) return out;
  reset(out, ChunkType.data);
  const type = o.type;
  const delta = isObj(o.delta) ? o.delta : null;
  if (type === 'content-delta') {
    const content = delta !== null && isObj(delta.message) ? delta.message.content : undefined;
    if (isObj(content)) {
      if (typeof content.text === 'string') out.content = content.text;
      if (typeof content.thinking === 'string') out.reasoning = content.thinking;
    }
  } else if (type === 'message-end') {
    out.ends = true;
    if (delta !== null) {
      if (delta.finish_reason === 'ERROR') return failed(out, delta);
      readUsage(delta.usage, out);
    }
  } else if (type === undefined && (o.message !== undefined || o.error !== undefined)) {
    return failed(out, o);
  }
  return out;
}

/** A whole `/v2/chat` answer. */
export function classifyCohereBody(text: string, out: ChunkInfo): ChunkInfo {
  const o = parseObject(text, out);
  if (o === null) return out;
  if (
    o.finish_reason === 'ERROR' ||
    (!isObj(o.message) && (o.message !== undefined || o.error !== undefined))
  ) {
    return failed(out, o);
  }
  reset(out, ChunkType.data);
  const content = isObj(o.message) ? o.message.content : undefined;
  if (Array.isArray(content)) {
    for (const part of content as unknown[]) {
      if (!isObj(part)) continue;
      if (typeof part.text === 'string') out.content += part.text;
      if (typeof part.thinking === 'string') out.reasoning += part.thinking;
    }
  }
  readUsage(o.usage, out);
  return out;
}

/** An `/v2/embed` answer: its input tokens (`meta.tokens`, else `meta.billed_units`). */
export function cohereEmbedUsage(text: string): ChunkInfo | null {
  const out = newChunkInfo();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(parsed)) return null;
  const o = parsed;
  if (o.embeddings === undefined) {
    if (o.message !== undefined || o.error !== undefined) return failed(out, o);
    reset(out, ChunkType.invalid);
    out.message = 'embed response without embeddings';
    return out;
  }
  reset(out, ChunkType.data);
  if (isObj(o.meta)) {
    const counted = isObj(o.meta.tokens)
      ? o.meta.tokens
      : isObj(o.meta.billed_units)
        ? o.meta.billed_units
        : null;
    if (counted !== null && counted.input_tokens !== undefined) {
      out.hasUsage = true;
      out.promptTokens = usageCount(out, 'meta.input_tokens', counted.input_tokens);
    }
  }
  return out;
}

/** Cohere v2's answers, per operation (rerank: rerank.ts reads `/v2/rerank`'s `meta`). */
export const COHERE_DIALECTS: Readonly<Record<'generate' | 'embed' | 'rerank', ResponseDialect>> = {
  generate: {
    event: classifyCohereEvent,
    body: classifyCohereBody,
    usage: () => null,
    streamEnd: 'message-end',
  },
  embed: {
    event: classifyCohereEvent,
    body: classifyCohereBody,
    usage: cohereEmbedUsage,
    streamEnd: 'message-end',
  },
  rerank: RERANK_DIALECT,
};

/** `usage.tokens` (what the model counted), else `usage.billed_units`. */
function readUsage(usage: unknown, out: ChunkInfo): void {
  if (!isObj(usage)) return;
  const counted = isObj(usage.tokens) ? usage.tokens : isObj(usage.billed_units) ? usage.billed_units : null;
  if (counted === null) return;
  out.hasUsage = true;
  const field = counted === usage.tokens ? 'tokens' : 'billed_units';
  out.promptTokens = usageCount(out, `${field}.input_tokens`, counted.input_tokens);
  out.completionTokens = usageCount(out, `${field}.output_tokens`, counted.output_tokens);
}

/** An error the server reported in a 200 answer (a `message`, or finish reason ERROR). */
function failed(out: ChunkInfo, o: Obj): ChunkInfo {
  reset(out, ChunkType.error);
  const m = o.message ?? o.error;
  out.message =
    typeof m === 'string' ? m : isObj(m) && typeof m.message === 'string' ? m.message : 'finish_reason ERROR';
  return out;
}
