/**
 * One API shape the simulator answers (chat completions, completions, embeddings): how
 * its request body is validated and read, and how its response is written, whole or as
 * server-sent events. The stream writer and the router know formats only through this
 * interface, so a new API shape is one file plus a line in the registry.
 */
import type { SimulatorOptions } from '../options.js';
import type { CommonFields } from '../request-schemas.js';

/** What a format read from a valid body. */
export interface FormatRequest<Detail> {
  /** The fields every format shares (model, token limits, seed, streaming). */
  common: CommonFields;
  /** The prompt as one string: with the seed, it picks the generated text. */
  promptKey: string;
  promptTokens: number;
  /** What only this format needs to write its answer. */
  detail: Detail;
}

/** A validated inference request, ready to be served. */
export interface ParsedRequest<Detail = unknown> {
  format: ResponseFormat<Detail>;
  model: string;
  stream: boolean;
  includeUsage: boolean;
  promptTokens: number;
  /** The prompt as one string (the format's `promptKey`): what the prefix cache hashes. */
  promptText: string;
  /** Output tokens to generate (after the EOS draw) and why generation ends. */
  outputTokens: number;
  finishReason: 'stop' | 'length';
  /** Seeds of the text stream: same prompt and seed, same text. */
  textSeed: number;
  requestSeed: number;
  detail: Detail;
}

/** What the server generated for one request, for the whole-body answer. */
export interface GeneratedOutput {
  id: string;
  created_s: number;
  content: string;
  reasoning: string;
  /** The usage object as JSON text. */
  usage: string;
}

/**
 * The events of a streamed answer. Each returns a whole `data: ...\n\n` event (or '').
 * Generated words are plain ASCII letters and spaces, so no JSON escaping is needed.
 */
export interface StreamEvents {
  /** The constant head of every chunk of response `id`, computed once per request. */
  prefix(id: string, created_s: number, model: string): string;
  /** Sent with the headers ('' : the headers go alone). */
  first(prefix: string): string;
  /** One content event: `reasoning` and `content` are the chunk's words of each kind. */
  content(prefix: string, reasoning: string, content: string): string;
  /** The event carrying the finish reason. */
  finish(prefix: string, finishReason: 'stop' | 'length'): string;
  /** The usage event (`stream_options.include_usage`), before `[DONE]`. */
  usage(prefix: string, usage: string): string;
  /**
   * Formats that end otherwise than OpenAI's (no `[DONE]`; finish and usage in one closing
   * event, as Cohere's `message-end`): the closing events, in place of finish, usage and `[DONE]`.
   */
  end?(prefix: string, close: StreamClose): string;
  /** Whether `end` needs the whole text (OCI's last event repeats it). */
  readonly repeatsText?: boolean;
}

/** What a stream's closing events say. */
export interface StreamClose {
  finishReason: 'stop' | 'length';
  promptTokens: number;
  outputTokens: number;
  /** The whole generated text, when the format `repeatsText` ('' otherwise). */
  text: string;
}

/** One API shape. Method syntax keeps formats of different details assignable to the registry's type. */
export interface ResponseFormat<Detail = unknown> {
  /** Answered at POST on this path. */
  readonly path: string;
  /** Response ids are `<idPrefix>-<unique>`. */
  readonly idPrefix: string;
  /** Whether the first `reasoningTokens` output tokens come as reasoning. */
  readonly reasons: boolean;
  /**
   * Whether requests are OCI-signed: with the simulator's `ociPublicKey` set, an unsigned or
   * wrongly signed request is answered 401 (oci-signature.ts).
   */
  readonly signed?: boolean;
  /** How it streams; null: it generates no tokens and answers with one body (embeddings). */
  readonly events: StreamEvents | null;
  /** Read a request body (JSON text): what it asks for, or the 400 message. */
  parse(body: string, options: SimulatorOptions): FormatRequest<Detail> | string;
  /** The whole JSON body of a non-streamed answer. */
  body(req: ParsedRequest<Detail>, output: GeneratedOutput, options: SimulatorOptions): string;
}

/** The OpenAI usage event: the chunk's head with no choices, then the usage object. */
export function usageEvent(prefix: string, usage: string): string {
  const head = prefix.slice(0, prefix.indexOf('"choices":['));
  return `${head}"choices":[],"usage":${usage}}\n\n`;
}
