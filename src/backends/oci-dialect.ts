/**
 * How OCI Generative AI inference answers for Cohere models (`apiFormat: COHERE`) read. A
 * streamed chat is SSE `data:` events `{"apiFormat":"COHERE","text":"..."}` each carrying
 * new text, then one event with `finishReason` that repeats the whole text (not new text:
 * it is not counted) and ends the stream; its `usage` (`promptTokens`, `completionTokens`)
 * is taken where present. A whole answer is `{chatResponse: {text, finishReason, usage}}`;
 * an embedText answer `{embeddings: [[...]], usage?}`.
 */
import type { ResponseDialect } from './openai-request.js';
import { isObj, parseObject, type Obj } from './event-object.js';
import { RERANK_DIALECT } from './rerank.js';
import { ChunkType, newChunkInfo, reset, usageCount, type ChunkInfo } from './sse-parser.js';

/** One stream event of `/20231130/actions/chat`. */
export function classifyOciEvent(data: string, out: ChunkInfo): ChunkInfo {
  const o = parseObject(data, out);
  if (o === null) return out;
  if (isError(o)) return failed(out, o);
  reset(out, ChunkType.data);
  if (o.finishReason !== undefined && o.finishReason !== null) {
    if (o.finishReason === 'ERROR') return failed(out, o);
    out.ends = true;
  } else if (typeof o.text === 'string') {
    out.content = o.text;
  }
  readUsage(o.usage, out);
  return out;
}

/** A whole chat answer: `chatResponse.text` and its usage. */
export function classifyOciBody(text: string, out: ChunkInfo): ChunkInfo {
  const o = parseObject(text, out);
  if (o === null) return out;
  if (isError(o)) return failed(out, o);
  const chat = isObj(o.chatResponse) ? o.chatResponse : null;
  if (chat === null) {
    reset(out, ChunkType.invalid);
    out.message = 'chat response without chatResponse';
    return out;
  }
  if (chat.finishReason === 'ERROR') return failed(out, chat);
  reset(out, ChunkType.data);
  if (typeof chat.text === 'string') out.content = chat.text;
  readUsage(chat.usage, out);
  return out;
}

/** An embedText answer: its `usage.promptTokens` where reported. */
export function ociEmbedUsage(text: string): ChunkInfo | null {
  const out = newChunkInfo();
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(o)) return null;
  if (isError(o)) return failed(out, o);
  if (!Array.isArray(o.embeddings)) {
    reset(out, ChunkType.invalid);
    out.message = 'embedText response without embeddings';
    return out;
  }
  readUsage(o.usage, out);
  return out;
}

/** OCI's answers, per operation (OCI's rerank is not served: the job rules refuse R for oci-cohere). */
export const OCI_DIALECTS: Readonly<Record<'generate' | 'embed' | 'rerank', ResponseDialect>> = {
  generate: { event: classifyOciEvent, body: classifyOciBody, usage: () => null, streamEnd: 'finishReason' },
  embed: { event: classifyOciEvent, body: classifyOciBody, usage: ociEmbedUsage, streamEnd: 'finishReason' },
  rerank: RERANK_DIALECT,
};

function readUsage(usage: unknown, out: ChunkInfo): void {
  if (!isObj(usage)) return;
  out.hasUsage = true;
  out.promptTokens = usageCount(out, 'promptTokens', usage.promptTokens);
  out.completionTokens = usageCount(out, 'completionTokens', usage.completionTokens);
}

/** OCI's error shape: `{code, message}` with no answer fields. */
function isError(o: Obj): boolean {
  return typeof o.code === 'string' && typeof o.message === 'string' && o.text === undefined;
}

function failed(out: ChunkInfo, o: Obj): ChunkInfo {
  reset(out, ChunkType.error);
  out.message = typeof o.message === 'string' ? o.message : 'finishReason ERROR';
  return out;
}
