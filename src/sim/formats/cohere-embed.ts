/**
 * POST /v2/embed (Cohere API v2): `{model, texts, input_type, embedding_types}` in; float
 * embeddings (the same seeded unit vectors as /v1/embeddings) with the input tokens in
 * `meta.billed_units`. Generates no tokens and never streams.
 */
import { cohereEmbedBody, validateBody } from '../request-schemas.js';
import { countTextTokens } from '../text.js';
import { embedVector } from './embeddings.js';
import type { ResponseFormat } from './format.js';

export const cohereEmbed: ResponseFormat<{ texts: string[] }> = {
  path: '/v2/embed',
  idPrefix: 'cohere-embed',
  reasons: false,
  events: null,

  parse(body) {
    const r = validateBody(cohereEmbedBody, body);
    if (typeof r === 'string') return r;
    let promptTokens = 0;
    for (const text of r.texts) promptTokens += countTextTokens(text);
    return { common: r, promptKey: r.texts.join('\n'), promptTokens, detail: { texts: r.texts } };
  },

  body(req, out, options) {
    const vectors = req.detail.texts.map((text) => `[${Array.from(embedVector(text, options)).join(',')}]`);
    const texts = req.detail.texts.map((text) => JSON.stringify(text)).join(',');
    return `{"id":"${out.id}","embeddings":{"float":[${vectors.join(',')}]},"texts":[${texts}],"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":${req.promptTokens}}},"response_type":"embeddings_by_type"}`;
  },
};
