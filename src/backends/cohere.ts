/**
 * Cohere's API v2 (`apiFormat: cohere`): chat `POST /v2/chat` (streamed with `stream: true`),
 * embed `POST /v2/embed`, rerank `POST /v2/rerank`, with a Bearer key. Answers read as
 * cohere-dialect.ts says; requests go through format-backend.ts like every other format.
 *
 * Cohere has no field that forces the output length (vLLM's `ignore_eos`), so
 * `forceOutputLength` sends nothing here: a server that has one takes it from the job's
 * additionalRequestParams.
 */
import type { WorkItem } from '../workload/work-item.js';
import type { Backend, BackendKind, BackendOptions } from './backend.js';
import { COHERE_DIALECTS } from './cohere-dialect.js';
import { FormatBackend, type WireFormat, type WireRequest } from './format-backend.js';
import { rerankBody } from './rerank.js';

/** The paths, below the base URL's prefix. */
export const COHERE_PATHS = { chat: '/v2/chat', embed: '/v2/embed', rerank: '/v2/rerank' } as const;

/** The body of a `/v2/chat` request: the history, then the turn's user message (with its images). */
export function cohereChatBody(
  options: Pick<BackendOptions, 'model' | 'stream' | 'additionalParams'>,
  item: WorkItem,
): Record<string, unknown> {
  const content =
    item.images !== undefined && item.images.length > 0
      ? [
          { type: 'text', text: item.prompt },
          ...item.images.map((url) => ({ type: 'image_url', image_url: { url } })),
        ]
      : item.prompt;
  const messages: unknown[] = (item.history ?? []).map((m) => ({ role: m.role, content: m.content }));
  messages.push({ role: 'user', content });
  const body: Record<string, unknown> = {
    model: options.model,
    messages,
    max_tokens: item.max_tokens,
    stream: options.stream,
  };
  for (const key of Object.keys(options.additionalParams)) body[key] = options.additionalParams[key];
  return body;
}

/** The body of a `/v2/embed` request: the item's documents (E), else its prompt. */
export function cohereEmbedBody(
  options: Pick<BackendOptions, 'model' | 'additionalParams'>,
  item: WorkItem,
): Record<string, unknown> {
  const texts = item.documents !== undefined && item.documents.length > 0 ? item.documents : [item.prompt];
  const body: Record<string, unknown> = {
    model: options.model,
    texts,
    input_type: 'search_document',
    embedding_types: ['float'],
  };
  for (const key of Object.keys(options.additionalParams)) body[key] = options.additionalParams[key];
  return body;
}

/** Cohere v2 on the wire: the kind picks chat or embed; rerank items (R) go to `/v2/rerank`. */
export function cohereFormat(kind: 'cohere-chat' | 'cohere-embed'): WireFormat {
  return {
    dialects: COHERE_DIALECTS,
    request(item, options): WireRequest {
      if (kind === 'cohere-chat') {
        const body = cohereChatBody(options, item);
        const asked = typeof body.max_tokens === 'number' ? body.max_tokens : 0;
        return { operation: 'generate', path: COHERE_PATHS.chat, body, tokensAsked: asked };
      }
      if (item.query !== undefined) {
        const body = rerankBody(options.model, item, options.additionalParams);
        return { operation: 'rerank', path: COHERE_PATHS.rerank, body, tokensAsked: 0 };
      }
      return {
        operation: 'embed',
        path: COHERE_PATHS.embed,
        body: cohereEmbedBody(options, item),
        tokensAsked: 0,
      };
    },
  };
}

/** The adapter for a Cohere kind. */
export function createCohereBackend(kind: BackendKind, options: BackendOptions): Backend {
  if (kind !== 'cohere-chat' && kind !== 'cohere-embed') throw new TypeError(`not a Cohere kind: ${kind}`);
  return new FormatBackend(kind, options, cohereFormat(kind));
}
