/**
 * The inference request bodies the simulator accepts, as zod schemas, with the message
 * of the 400 answer when one is refused. Lenient where OpenAI-compatible servers are
 * (unknown fields pass; a bad `model`, `seed`, `stream` or `encoding_format` falls back to
 * the default), strict where the simulated output depends on the value: the prompt and
 * the token limits. Only the first problem is reported, in the order prompt, `max_tokens`,
 * `min_tokens`, as servers answer one message.
 */
import { z } from 'zod';

/** The 400 messages, for the formats and their tests. */
export const BODY_ERRORS = {
  notJson: 'Request body is not valid JSON',
  notObject: 'Request body must be a JSON object',
  messages: "'messages' must be a non-empty array",
  promptShape: "'prompt' must be a non-empty string or array",
  promptItems: "'prompt' must be a string, an array of strings, or token ids",
  inputShape: "'input' must be a non-empty string or array",
  inputItems: "'input' must be a string, an array of strings, or token ids",
  maxTokens: "'max_tokens' must be a positive integer",
  minTokens: "'min_tokens' must be a non-negative integer",
} as const;

// Number.isInteger, not z.int(): JSON integers beyond 2^53 are integers here too.
const integer = (message: string) =>
  z.number({ error: message }).refine(Number.isInteger, { error: message });

/** A string, or a non-empty array that is one of `lists`. */
function textOrList<Lists extends readonly [z.ZodArray<z.ZodType>, ...z.ZodArray<z.ZodType>[]]>(
  lists: Lists,
  shapeMessage: string,
  itemsMessage: string,
) {
  return z
    .union([z.string(), z.array(z.unknown()).min(1, { error: shapeMessage })], { error: shapeMessage })
    .pipe(z.union([z.string(), ...lists], { error: itemsMessage }));
}

const tokenIds = z.array(z.unknown());

/** Chat messages: their text parts and images are counted, anything else in them ignored. */
const messages = z
  .array(z.unknown(), { error: BODY_ERRORS.messages })
  .min(1, { error: BODY_ERRORS.messages });

/** A completion prompt: text, or a list of texts, token ids and lists of token ids. */
const prompt = textOrList(
  [z.array(z.union([z.string(), z.number(), tokenIds], { error: BODY_ERRORS.promptItems }))],
  BODY_ERRORS.promptShape,
  BODY_ERRORS.promptItems,
);

/** Embedding input: text, one list of token ids, or a list of texts and lists of token ids. */
const input = textOrList(
  [z.array(z.number()), z.array(z.union([z.string(), tokenIds], { error: BODY_ERRORS.inputItems }))],
  BODY_ERRORS.inputShape,
  BODY_ERRORS.inputItems,
);

/** What every format reads besides its prompt, by wire name. */
const commonFields = {
  /** Echoed in the response; absent or empty: the simulator's model. */
  model: z.string().min(1).optional().catch(undefined),
  /** `max_completion_tokens` when given, else `max_tokens` (see `limitsFolded`). */
  max_tokens: integer(BODY_ERRORS.maxTokens)
    .refine((n) => n > 0, { error: BODY_ERRORS.maxTokens })
    .nullish(),
  min_tokens: integer(BODY_ERRORS.minTokens).refine((n) => n >= 0, { error: BODY_ERRORS.minTokens }),
  /** With the prompt, seeds the generated text; anything but an integer counts as 0. */
  seed: z.number().refine(Number.isInteger).catch(0),
  stream: z.boolean().catch(false),
  ignore_eos: z.boolean().catch(false),
  stream_options: z
    .object({ include_usage: z.boolean().catch(false) })
    .catch(() => ({ include_usage: false })),
};

/**
 * Folds the two spellings of the output limit into `max_tokens` (the newer name wins, as in
 * OpenAI's API) and reads an absent `min_tokens` as 0, so each is checked once.
 */
function limitsFolded(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const r = body as Record<string, unknown>;
  return { ...r, max_tokens: r.max_completion_tokens ?? r.max_tokens, min_tokens: r.min_tokens ?? 0 };
}

function requestBody<Shape extends z.ZodRawShape>(own: Shape) {
  // The format's own fields first: their problem is the one reported.
  return z.preprocess(limitsFolded, z.object({ ...own, ...commonFields }, { error: BODY_ERRORS.notObject }));
}

/** POST /v1/chat/completions */
export const chatCompletionsBody = requestBody({ messages });
/** POST /v1/completions */
export const completionsBody = requestBody({ prompt });
/** POST /v1/embeddings (the token limits are checked here too, though nothing is generated) */
export const embeddingsBody = requestBody({
  input,
  encoding_format: z.enum(['float', 'base64']).catch('float'),
});

export type ChatCompletionsBody = z.output<typeof chatCompletionsBody>;
export type CompletionsBody = z.output<typeof completionsBody>;
export type EmbeddingsBody = z.output<typeof embeddingsBody>;
/** The fields every format shares, validated. */
export type CommonFields = z.output<z.ZodObject<typeof commonFields>>;

/** The body parsed and checked against `schema`, or the 400 message for its first problem. */
export function validateBody<T extends object>(schema: z.ZodType<T>, text: string): T | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return BODY_ERRORS.notJson;
  }
  const result = schema.safeParse(json);
  return result.success ? result.data : (result.error.issues[0]?.message ?? BODY_ERRORS.notObject);
}
