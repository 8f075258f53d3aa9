/**
 * From a request body to what the simulated model will do with it: the format reads
 * the prompt, then the output length is drawn (a geometric EOS draw from the text's own
 * stream, so the same prompt and seed end at the same place) within the token limits.
 */
import { Prng } from '../base/prng.js';
import type { ParsedRequest, ResponseFormat } from './formats/format.js';
import type { SimulatorOptions } from './options.js';
import { hashString } from './random.js';

/** Stream numbers of the per-prompt generators (third seed word of base/prng's Prng). */
export const TEXT_STREAM = 1;
export const EOS_STREAM = 2;

/** The request, validated and sized, or the message of the 400 answer. */
export function parseRequest(
  format: ResponseFormat,
  body: string,
  options: SimulatorOptions,
): ParsedRequest | string {
  const read = format.parse(body, options);
  if (typeof read === 'string') return read;
  const { common, promptTokens, detail } = read;
  const textSeed = hashString(read.promptKey, options.seed);
  const requestSeed = (common.seed ?? 0) >>> 0;
  const limit = common.max_tokens ?? options.defaultMaxTokens;
  const generates = format.events !== null;

  let outputTokens = generates ? limit : 0;
  let finishReason: 'stop' | 'length' = 'length';
  if (generates && common.ignore_eos !== true && options.eosProbability > 0) {
    const u = 1 - new Prng(textSeed, requestSeed, EOS_STREAM).nextFloat();
    const earliest = Math.max(1, common.min_tokens ?? 0);
    const draw =
      options.eosProbability >= 1 ? 1 : Math.ceil(Math.log(u) / Math.log(1 - options.eosProbability));
    const length = earliest - 1 + Math.max(1, draw);
    if (length < limit) {
      outputTokens = length;
      finishReason = 'stop';
    }
  }
  return {
    format,
    model: common.model ?? options.model,
    stream: generates && common.stream === true,
    includeUsage: common.stream_options?.include_usage === true,
    promptTokens,
    promptText: read.promptKey,
    outputTokens,
    finishReason,
    textSeed,
    requestSeed,
    detail,
  };
}
