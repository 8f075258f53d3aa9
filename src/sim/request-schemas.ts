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
  texts: "'texts' must be a non-empty array of strings",
  query: "'query' must be a non-empty string",
  documents: "'documents' must be a non-empty array of strings or {text} objects",
  ociChat: "'chatRequest' must be an object with apiFormat COHERE and a 'message' string",
  ociServing: "'servingMode' must be an object with a 'modelId' string",
  ociInputs: "'inputs' must be a non-empty array of strings",
  maxTokensOci: "'maxTokens' must be a positive integer",
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
  // Token ids first: a long list of them is the costly case, and a number then matches at once.
  [z.array(z.union([z.number(), z.string(), tokenIds], { error: BODY_ERRORS.promptItems }))],
  BODY_ERRORS.promptShape,
  BODY_ERRORS.promptItems,
);

/** Embedding input: text, a list of texts and lists of token ids, or one list of token ids. */
const input = textOrList(
  [z.array(z.union([z.string(), tokenIds], { error: BODY_ERRORS.inputItems })), z.array(z.number())],
  BODY_ERRORS.inputShape,
  BODY_ERRORS.inputItems,
);

// The lenient fields are optional before they fall back: `.catch` builds a ZodError (a stack
// trace, ~20 µs), so only a wrong value, never an absent one, should reach it.
const orAbsent = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);

/** What every format reads besides its prompt, by wire name. */
const commonFields = {
  /** Echoed in the response; absent or empty: the simulator's model. */
  model: orAbsent(z.string().min(1)),
  /** `max_completion_tokens` when given, else `max_tokens` (see `foldLimits`). */
  max_tokens: integer(BODY_ERRORS.maxTokens)
    .refine((n) => n > 0, { error: BODY_ERRORS.maxTokens })
    .nullish(),
  /** Absent or null: 0. */
  min_tokens: integer(BODY_ERRORS.minTokens)
    .refine((n) => n >= 0, { error: BODY_ERRORS.minTokens })
    .nullish(),
  /** With the prompt, seeds the generated text; absent or not an integer: 0. */
  seed: orAbsent(z.number().refine(Number.isInteger)),
  stream: orAbsent(z.boolean()),
  ignore_eos: orAbsent(z.boolean()),
  stream_options: orAbsent(z.object({ include_usage: orAbsent(z.boolean()) })),
};

/**
 * Folds the two spellings of the output limit into `max_tokens`, in the freshly parsed body
 * (the newer name wins, as in OpenAI's API), so the one that counts is checked once.
 */
function foldLimits(body: unknown): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const r = body as Record<string, unknown>;
  if (r.max_completion_tokens !== undefined && r.max_completion_tokens !== null) {
    r.max_tokens = r.max_completion_tokens;
  }
}

function requestBody<Shape extends z.ZodRawShape>(own: Shape) {
  // The format's own fields first: their problem is the one reported.
  return z.object({ ...own, ...commonFields }, { error: BODY_ERRORS.notObject });
}

/** POST /v1/chat/completions */
export const chatCompletionsBody = requestBody({ messages });
/** POST /v1/completions */
export const completionsBody = requestBody({ prompt });
/** POST /v1/embeddings (the token limits are checked here too, though nothing is generated) */
export const embeddingsBody = requestBody({ input, encoding_format: orAbsent(z.enum(['float', 'base64'])) });

/** POST /v2/embed (Cohere) */
export const cohereEmbedBody = requestBody({
  texts: z.array(z.string(), { error: BODY_ERRORS.texts }).min(1, { error: BODY_ERRORS.texts }),
});
/** POST /v1/rerank and /v2/rerank: documents as strings or `{text}` objects (Jina's and Cohere's v1 shape). */
export const rerankRequestBody = requestBody({
  query: z.string({ error: BODY_ERRORS.query }).min(1, { error: BODY_ERRORS.query }),
  documents: z
    .array(z.union([z.string(), z.object({ text: z.string() }).transform((d) => d.text)]), {
      error: BODY_ERRORS.documents,
    })
    .min(1, { error: BODY_ERRORS.documents }),
  /** Keep the best n (absent or not a positive integer: all). */
  top_n: orAbsent(z.number().refine((n) => Number.isInteger(n) && n > 0)),
});

const ociServingMode = z.object(
  { modelId: z.string({ error: BODY_ERRORS.ociServing }).min(1, { error: BODY_ERRORS.ociServing }) },
  { error: BODY_ERRORS.ociServing },
);

/**
 * POST /20231130/actions/chat (OCI Generative AI, apiFormat COHERE). Its own names, no
 * OpenAI fields: the format maps `maxTokens`, `isStream`, `seed` and `servingMode.modelId`
 * onto the common fields.
 */
export const ociChatBody = z.object(
  {
    servingMode: ociServingMode,
    chatRequest: z.object(
      {
        apiFormat: z.literal('COHERE', { error: BODY_ERRORS.ociChat }),
        message: z.string({ error: BODY_ERRORS.ociChat }),
        chatHistory: z.array(z.unknown()).optional().catch(undefined),
        maxTokens: integer(BODY_ERRORS.maxTokensOci)
          .refine((n) => n > 0, { error: BODY_ERRORS.maxTokensOci })
          .nullish(),
        isStream: orAbsent(z.boolean()),
        seed: orAbsent(z.number().refine(Number.isInteger)),
      },
      { error: BODY_ERRORS.ociChat },
    ),
  },
  { error: BODY_ERRORS.notObject },
);
/** POST /20231130/actions/embedText */
export const ociEmbedBody = z.object(
  {
    servingMode: ociServingMode,
    inputs: z.array(z.string(), { error: BODY_ERRORS.ociInputs }).min(1, { error: BODY_ERRORS.ociInputs }),
  },
  { error: BODY_ERRORS.notObject },
);

export type ChatCompletionsBody = z.output<typeof chatCompletionsBody>;
export type CompletionsBody = z.output<typeof completionsBody>;
export type EmbeddingsBody = z.output<typeof embeddingsBody>;
/** The fields every format shares, validated. */
export type CommonFields = z.output<z.ZodObject<typeof commonFields>>;

/**
 * The body parsed and checked against `schema` (after folding its output limits), or the 400
 * message for its first problem.
 */
export function validateBody<T extends object>(schema: z.ZodType<T>, text: string): T | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return BODY_ERRORS.notJson;
  }
  foldLimits(json);
  const result = schema.safeParse(json);
  return result.success ? result.data : (result.error.issues[0]?.message ?? BODY_ERRORS.notObject);
}
