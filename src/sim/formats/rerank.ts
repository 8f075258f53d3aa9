/**
 * Rerank: `{model, query, documents}` in, the documents ranked by a seeded relevance score
 * (a function of query and document alone). Two shapes:
 * - POST /v1/rerank (vLLM, TEI-compatible Jina/Cohere v1): `{id, model, usage:
 *   {total_tokens}, results: [{index, document: {text}, relevance_score}]}`; the tokens are
 *   vLLM's count, the query once per document plus the document (it scores pairs);
 * - POST /v2/rerank (Cohere v2): `{id, results: [{index, relevance_score}], meta:
 *   {billed_units: {search_units: 1}}}`, with no token count, as Cohere answers.
 * Generates no tokens and never streams; `top_n` keeps the best n.
 */
import { Prng } from '../../base/prng.js';
import { hashString } from '../random.js';
import { rerankRequestBody, validateBody } from '../request-schemas.js';
import { countTextTokens } from '../text.js';
import type { ResponseFormat } from './format.js';

export interface RerankDetail {
  query: string;
  documents: string[];
  topN: number;
}

function rerankFormat(path: string, idPrefix: string, cohere: boolean): ResponseFormat<RerankDetail> {
  return {
    path,
    idPrefix,
    reasons: false,
    events: null,

    parse(body) {
      const r = validateBody(rerankRequestBody, body);
      if (typeof r === 'string') return r;
      const queryTokens = countTextTokens(r.query);
      let promptTokens = 0;
      for (const doc of r.documents) promptTokens += queryTokens + countTextTokens(doc);
      const topN = Math.min(r.top_n ?? r.documents.length, r.documents.length);
      return {
        common: r,
        promptKey: `${r.query}\n${r.documents.join('\n')}`,
        promptTokens,
        detail: { query: r.query, documents: r.documents, topN },
      };
    },

    body(req, out, options) {
      const { query, documents, topN } = req.detail;
      const ranked = documents
        .map((doc, index) => ({
          index,
          doc,
          score: new Prng(hashString(`${query}\n${doc}`, options.seed)).nextFloat(),
        }))
        .sort((a, b) => b.score - a.score)
        .slice(0, topN);
      if (cohere) {
        const results = ranked.map((r) => `{"index":${r.index},"relevance_score":${r.score}}`);
        return `{"id":"${out.id}","results":[${results.join(',')}],"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1}}}`;
      }
      const results = ranked.map(
        (r) =>
          `{"index":${r.index},"document":{"text":${JSON.stringify(r.doc)}},"relevance_score":${r.score}}`,
      );
      return `{"id":"${out.id}","model":${JSON.stringify(req.model)},"usage":{"total_tokens":${req.promptTokens}},"results":[${results.join(',')}]}`;
    },
  };
}

/** POST /v1/rerank (vLLM and TEI-compatible servers). */
export const rerank = rerankFormat('/v1/rerank', 'rerank', false);
/** POST /v2/rerank (Cohere v2). */
export const cohereRerank = rerankFormat('/v2/rerank', 'cohere-rerank', true);
