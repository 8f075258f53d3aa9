/**
 * POST /v1/chat/completions: messages in; a chat.completion body, or chat.completion.chunk
 * events opening with the assistant's role, with the first `reasoningTokens` words as
 * `reasoning_content` (as vLLM's reasoning parsers send them).
 */
import { chatCompletionsBody, validateBody } from '../request-schemas.js';
import { chatPromptText, countTextTokens } from '../text.js';
import { usageEvent, type ResponseFormat } from './format.js';

export const chatCompletions: ResponseFormat<null> = {
  path: '/v1/chat/completions',
  idPrefix: 'chatcmpl',
  reasons: true,
  events: {
    prefix: (id, created_s, model) =>
      `data: {"id":"${id}","object":"chat.completion.chunk","created":${created_s},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{`,
    first: (prefix) =>
      `${prefix}"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`,
    content(prefix, reasoning, content) {
      const fields =
        reasoning && content
          ? `"reasoning_content":"${reasoning}","content":"${content}"`
          : reasoning
            ? `"reasoning_content":"${reasoning}"`
            : `"content":"${content}"`;
      return `${prefix}${fields}},"logprobs":null,"finish_reason":null}]}\n\n`;
    },
    finish: (prefix, finishReason) => `${prefix}},"logprobs":null,"finish_reason":"${finishReason}"}]}\n\n`,
    usage: usageEvent,
  },

  parse(body, options) {
    const r = validateBody(chatCompletionsBody, body);
    if (typeof r === 'string') return r;
    const { text, images } = chatPromptText(r.messages);
    return {
      common: r,
      promptKey: text,
      promptTokens: countTextTokens(text) + images * options.imageTokens,
      detail: null,
    };
  },

  body(req, out) {
    const message = `{"role":"assistant","content":"${out.content}","reasoning_content":${out.reasoning ? `"${out.reasoning}"` : 'null'},"tool_calls":[]}`;
    return `{"id":"${out.id}","object":"chat.completion","created":${out.created_s},"model":${JSON.stringify(req.model)},"choices":[{"index":0,"message":${message},"logprobs":null,"finish_reason":"${req.finishReason}"}],"usage":${out.usage}}`;
  },
};
