/**
 * POST /v1/completions (legacy text completions): a prompt of text or token ids in; a
 * text_completion body, or text_completion events whose first is the first content.
 */
import { completionsBody, validateBody } from '../request-schemas.js';
import { countTextTokens } from '../text.js';
import { usageEvent, type ResponseFormat } from './format.js';

export const completions: ResponseFormat<null> = {
  path: '/v1/completions',
  idPrefix: 'cmpl',
  reasons: false,
  events: {
    prefix: (id, created_s, model) =>
      `data: {"id":"${id}","object":"text_completion","created":${created_s},"model":${JSON.stringify(model)},"choices":[{"index":0,"text":"`,
    // No role chunk: the headers go out alone.
    first: () => '',
    content: (prefix, _reasoning, content) =>
      `${prefix}${content}","logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n`,
    finish: (prefix, finishReason) =>
      `${prefix}","logprobs":null,"finish_reason":"${finishReason}","stop_reason":null}]}\n\n`,
    usage: usageEvent,
  },

  parse(body) {
    const r = validateBody(completionsBody, body);
    if (typeof r === 'string') return r;
    const prompt = r.prompt;
    if (typeof prompt === 'string') {
      return { common: r, promptKey: prompt, promptTokens: countTextTokens(prompt), detail: null };
    }
    let promptTokens = 0;
    for (const item of prompt) {
      if (typeof item === 'string') promptTokens += countTextTokens(item);
      else if (typeof item === 'number') promptTokens += 1;
      else promptTokens += item.length;
    }
    return { common: r, promptKey: JSON.stringify(prompt), promptTokens, detail: null };
  },

  body(req, out) {
    return `{"id":"${out.id}","object":"text_completion","created":${out.created_s},"model":${JSON.stringify(req.model)},"choices":[{"index":0,"text":"${out.content}","logprobs":null,"finish_reason":"${req.finishReason}","stop_reason":null}],"usage":${out.usage}}`;
  },
};
