/**
 * The API shapes the simulator serves, by name (kebab-case). A new shape is one file
 * implementing ResponseFormat and one line here; the router serves each at its path.
 */
import { chatCompletions } from './chat-completions.js';
import { completions } from './completions.js';
import { embeddings } from './embeddings.js';
import type { ResponseFormat } from './format.js';

export const RESPONSE_FORMATS: Readonly<Record<string, ResponseFormat>> = Object.freeze({
  'chat-completions': chatCompletions,
  completions: completions,
  embeddings: embeddings,
});
