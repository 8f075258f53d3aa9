/**
 * POST /v1/embeddings: texts or token ids in; one unit vector per input, a seeded
 * function of the input alone (the same input embeds the same anywhere), as float
 * arrays or base64 float32. Generates no tokens and never streams.
 */
import { Prng } from '../../base/prng.js';
import { hashString } from '../random.js';
import { embeddingsBody, validateBody } from '../request-schemas.js';
import { countTextTokens } from '../text.js';
import type { SimulatorOptions } from '../options.js';
import type { ResponseFormat } from './format.js';

export interface EmbeddingsDetail {
  /** Each input as the key of its vector: the text, or its token ids as JSON. */
  inputs: string[];
  base64: boolean;
}

export const embeddings: ResponseFormat<EmbeddingsDetail> = {
  path: '/v1/embeddings',
  idPrefix: 'embd',
  reasons: false,
  events: null,

  parse(body) {
    const r = validateBody(embeddingsBody, body);
    if (typeof r === 'string') return r;
    const input = r.input;
    const inputs: string[] = [];
    let promptTokens = 0;
    if (typeof input === 'string') {
      inputs.push(input);
      promptTokens = countTextTokens(input);
    } else if (input.every((item) => typeof item === 'number')) {
      // One list of token ids is one input.
      inputs.push(JSON.stringify(input));
      promptTokens = input.length;
    } else {
      for (const item of input) {
        if (typeof item === 'string') {
          inputs.push(item);
          promptTokens += countTextTokens(item);
        } else if (Array.isArray(item)) {
          inputs.push(JSON.stringify(item));
          promptTokens += item.length;
        }
      }
    }
    return {
      common: r,
      promptKey: inputs.join('\n'),
      promptTokens,
      detail: { inputs, base64: r.encoding_format === 'base64' },
    };
  },

  body(req, out, options) {
    const data: string[] = [];
    req.detail.inputs.forEach((input, index) => {
      const vector = embedVector(input, options);
      const embedding = req.detail.base64
        ? `"${Buffer.from(vector.buffer).toString('base64')}"`
        : `[${Array.from(vector).join(',')}]`;
      data.push(`{"object":"embedding","index":${index},"embedding":${embedding}}`);
    });
    const p = req.promptTokens;
    return `{"id":"${out.id}","object":"list","created":${out.created_s},"model":${JSON.stringify(req.model)},"data":[${data.join(',')}],"usage":{"prompt_tokens":${p},"total_tokens":${p},"completion_tokens":0}}`;
  },
};

/** The unit vector of `input`: a seeded function of the input alone (every embedding format shares it). */
export function embedVector(
  input: string,
  options: Pick<SimulatorOptions, 'embeddingDim' | 'seed'>,
): Float32Array {
  const dim = options.embeddingDim;
  const rng = new Prng(hashString(input, options.seed));
  const vector = new Float32Array(dim);
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    const v = rng.nextFloat() * 2 - 1;
    vector[i] = v;
    norm += v * v;
  }
  const scale = 1 / Math.sqrt(norm || 1);
  for (let i = 0; i < dim; i++) vector[i] = (vector[i] as number) * scale;
  return vector;
}
