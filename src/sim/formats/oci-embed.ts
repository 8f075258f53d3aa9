/**
 * POST /20231130/actions/embedText (OCI Generative AI inference): `{compartmentId,
 * servingMode: {modelId}, inputs}` in; `{id, embeddings, modelId, modelVersion, usage}`
 * out, with the same seeded unit vectors as /v1/embeddings. Signed like OCI's chat.
 */
import type { CommonFields } from '../request-schemas.js';
import { ociEmbedBody, validateBody } from '../request-schemas.js';
import { countTextTokens } from '../text.js';
import { embedVector } from './embeddings.js';
import type { ResponseFormat } from './format.js';

export const ociEmbed: ResponseFormat<{ inputs: string[] }> = {
  path: '/20231130/actions/embedText',
  idPrefix: 'oci-embed',
  reasons: false,
  signed: true,
  events: null,

  parse(body) {
    const r = validateBody(ociEmbedBody, body);
    if (typeof r === 'string') return r;
    let promptTokens = 0;
    for (const text of r.inputs) promptTokens += countTextTokens(text);
    const common: CommonFields = {
      model: r.servingMode.modelId,
      max_tokens: undefined,
      min_tokens: undefined,
      seed: undefined,
      stream: undefined,
      ignore_eos: undefined,
      stream_options: undefined,
    };
    return { common, promptKey: r.inputs.join('\n'), promptTokens, detail: { inputs: r.inputs } };
  },

  body(req, out, options) {
    const vectors = req.detail.inputs.map((text) => `[${Array.from(embedVector(text, options)).join(',')}]`);
    return `{"id":"${out.id}","embeddings":[${vectors.join(',')}],"modelId":${JSON.stringify(req.model)},"modelVersion":"1.0","usage":{"promptTokens":${req.promptTokens},"totalTokens":${req.promptTokens}}}`;
  },
};
