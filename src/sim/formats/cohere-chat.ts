/**
 * POST /v2/chat (Cohere API v2): messages in (the same shape as OpenAI's); a chat answer
 * `{id, finish_reason, message: {role, content: [{type: text, text}]}, usage}`, or typed
 * SSE events (`event: <type>` then `data:`): `message-start`, `content-start`, one
 * `content-delta` per chunk (`delta.message.content.text`), `content-end`, and
 * `message-end` with `delta.finish_reason` (COMPLETE or MAX_TOKENS) and `delta.usage`
 * (`billed_units` and `tokens`, each `{input_tokens, output_tokens}`). No `[DONE]` follows.
 */
import { chatCompletions } from './chat-completions.js';
import type { ResponseFormat } from './format.js';

/** Cohere's finish reasons for the simulator's two. */
export const COHERE_FINISH = { stop: 'COMPLETE', length: 'MAX_TOKENS' } as const;

/** Cohere's usage object: billed units and tokens, the same counts here. */
export function cohereUsage(promptTokens: number, outputTokens: number): string {
  const counts = `{"input_tokens":${promptTokens},"output_tokens":${outputTokens}}`;
  return `{"billed_units":${counts},"tokens":${counts}}`;
}

function event(type: string, data: string): string {
  return `event: ${type}\ndata: ${data}\n\n`;
}

export const cohereChat: ResponseFormat<null> = {
  path: '/v2/chat',
  idPrefix: 'cohere',
  reasons: false,
  events: {
    // Events name no id after message-start: the prefix is the id alone.
    prefix: (id) => id,
    first: (id) =>
      event(
        'message-start',
        `{"id":"${id}","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}`,
      ) +
      event(
        'content-start',
        '{"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}',
      ),
    content: (_id, _reasoning, content) =>
      event(
        'content-delta',
        `{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"${content}"}}}}`,
      ),
    finish: () => '',
    usage: () => '',
    end: (id, close) =>
      event('content-end', '{"type":"content-end","index":0}') +
      event(
        'message-end',
        `{"id":"${id}","type":"message-end","delta":{"finish_reason":"${COHERE_FINISH[close.finishReason]}","usage":${cohereUsage(close.promptTokens, close.outputTokens)}}}`,
      ),
  },

  // A v2 chat body's messages read as OpenAI chat's ({role, content}): one parser for both.
  parse: chatCompletions.parse,

  body(req, out) {
    return `{"id":"${out.id}","finish_reason":"${COHERE_FINISH[req.finishReason]}","message":{"role":"assistant","content":[{"type":"text","text":"${out.content}"}],"tool_plan":"","tool_calls":[],"citations":[]},"usage":${cohereUsage(req.promptTokens, req.outputTokens)}}`;
  },
};
