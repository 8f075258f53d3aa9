/**
 * POST /20231130/actions/chat (OCI Generative AI inference, `chatRequest.apiFormat:
 * COHERE`): `{compartmentId, servingMode: {modelId}, chatRequest: {message, chatHistory,
 * maxTokens, isStream, seed}}` in. Answered whole as `{modelId, modelVersion, chatResponse:
 * {apiFormat, text, finishReason, usage}}`, or as SSE `data:` events `{"apiFormat":"COHERE",
 * "text":"..."}`, one per chunk, then one event repeating the whole text with
 * `finishReason` (COMPLETE or MAX_TOKENS) and `usage` ({promptTokens, completionTokens,
 * totalTokens}); nothing follows it. Requests are signed (`signed`: checked with the
 * simulator's ociPublicKey).
 */
import type { CommonFields } from '../request-schemas.js';
import { ociChatBody, validateBody } from '../request-schemas.js';
import { countTextTokens } from '../text.js';
import { COHERE_FINISH } from './cohere-chat.js';
import type { ResponseFormat } from './format.js';

/** OCI's usage object. */
export function ociUsage(promptTokens: number, outputTokens: number): string {
  return `{"promptTokens":${promptTokens},"completionTokens":${outputTokens},"totalTokens":${promptTokens + outputTokens}}`;
}

/** The text of a chat history entry (`{role, message}`), '' for anything else. */
function historyText(entry: unknown): string {
  if (entry === null || typeof entry !== 'object') return '';
  const message = (entry as { message?: unknown }).message;
  return typeof message === 'string' ? message : '';
}

export const ociChat: ResponseFormat<null> = {
  path: '/20231130/actions/chat',
  idPrefix: 'oci-chat',
  reasons: false,
  signed: true,
  events: {
    prefix: () => '',
    first: () => '',
    content: (_prefix, _reasoning, content) => `data: {"apiFormat":"COHERE","text":"${content}"}\n\n`,
    finish: () => '',
    usage: () => '',
    repeatsText: true,
    end: (_prefix, close) =>
      `data: {"apiFormat":"COHERE","text":"${close.text}","finishReason":"${COHERE_FINISH[close.finishReason]}","usage":${ociUsage(close.promptTokens, close.outputTokens)}}\n\n`,
  },

  parse(body) {
    const r = validateBody(ociChatBody, body);
    if (typeof r === 'string') return r;
    const { chatRequest } = r;
    const texts = (chatRequest.chatHistory ?? []).map(historyText).filter((t) => t !== '');
    texts.push(chatRequest.message);
    const text = texts.join('\n');
    const common: CommonFields = {
      model: r.servingMode.modelId,
      max_tokens: chatRequest.maxTokens,
      min_tokens: undefined,
      seed: chatRequest.seed,
      stream: chatRequest.isStream,
      ignore_eos: undefined,
      stream_options: undefined,
    };
    return { common, promptKey: text, promptTokens: countTextTokens(text), detail: null };
  },

  body(req, out) {
    return `{"modelId":${JSON.stringify(req.model)},"modelVersion":"1.0","chatResponse":{"apiFormat":"COHERE","text":"${out.content}","chatHistory":[],"finishReason":"${COHERE_FINISH[req.finishReason]}","usage":${ociUsage(req.promptTokens, req.outputTokens)}}}`;
  },
};
