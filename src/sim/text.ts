/**
 * What the simulated model reads and writes: prompt token counts (o200k_base,
 * cached, since benchmarks resend the same prompts) and generated words, one
 * o200k token each, chosen deterministically from a seeded stream.
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { Prng } from '../base/prng.js';
import { indexBelow } from './random.js';

// 256 common English words, each exactly one o200k_base token with its leading space,
// so a client that re-tokenizes the text counts what the server reports.
const WORDS = (
  'the of and to in is it that was for on are with as be at by this have from or had not but what all ' +
  'were when we there can an your which their said if do will each about how up out them then she many ' +
  'some so these would other into has more her two like him see time could no make than first been its ' +
  'who now people my made over did down only way find use may water long little very after words called ' +
  'just where most know get through back much go good new write our me man too any day same right look ' +
  'think also around another came come work three word must because does part even place well such here ' +
  'take why things help put years different away again off went old number great tell men say small ' +
  'every found still between name should home big give air line set own under read last never us left ' +
  'end along while might next sound below saw something thought both few those always looks show large ' +
  'often together asked house world going want school important until form food keep children feet land ' +
  'side without boy once animals life enough took sometimes four head above kind began almost live page'
)
  .split(' ')
  .slice(0, 256)
  .map((word) => ` ${word}`);

/** The token text for one random draw: a word with its leading space. */
export function randomWord(rng: Prng): string {
  return WORDS[indexBelow(rng, WORDS.length)] ?? ' the';
}

// Special-token strings in user text are counted as ordinary text instead of throwing.
const ENCODE_OPTIONS = { disallowedSpecial: new Set<string>() };
const CACHE_LIMIT = 4096;
const cache = new Map<string, number>();

/** o200k_base token count of `text`, memoized (bounded) because benchmarks repeat prompts. */
export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const count = countTokens(text, ENCODE_OPTIONS);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, count);
  return count;
}

/** Prompt text and image count of a chat request's messages (text parts only; images counted apart). */
export function chatPromptText(messages: unknown[]): { text: string; images: number } {
  const parts: string[] = [];
  let images = 0;
  for (const message of messages) {
    if (message === null || typeof message !== 'object') continue;
    const content = (message as { content?: unknown }).content;
    if (typeof content === 'string') {
      parts.push(content);
    } else if (Array.isArray(content)) {
      for (const part of content) {
        if (part === null || typeof part !== 'object') continue;
        const typed = part as { type?: unknown; text?: unknown };
        if (typeof typed.text === 'string') parts.push(typed.text);
        else if (typed.type === 'image_url' || typed.type === 'input_image' || typed.type === 'image')
          images++;
      }
    }
  }
  return { text: parts.join('\n'), images };
}
