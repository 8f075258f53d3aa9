/**
 * Test fixtures for tokenizers: a tiny Hugging Face tokenizer.json built in memory, so
 * the tokenizer.json path is tested without downloading a model.
 */

/** A tiny WordLevel tokenizer.json: whitespace/punctuation pre-tokenizer, every word must be in `words`: tokenizers.js 0.2 gives WordLevel's unknown words an undefined id. */
export function tinyWordLevel(words: string[]): Record<string, unknown> {
  const vocab: Record<string, number> = { '[UNK]': 0 };
  let next = 1;
  for (const w of words) if (!Object.hasOwn(vocab, w)) vocab[w] = next++;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 0,
        content: '[UNK]',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '[UNK]' },
  };
}
