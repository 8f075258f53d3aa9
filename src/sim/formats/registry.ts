/**
 * The API shapes the simulator serves, by name (kebab-case). A new shape is one file
 * implementing ResponseFormat and one line here; the router serves each at its path.
 */
import { chatCompletions } from './chat-completions.js';
import { cohereChat } from './cohere-chat.js';
import { cohereEmbed } from './cohere-embed.js';
import { completions } from './completions.js';
import { embeddings } from './embeddings.js';
import type { ResponseFormat } from './format.js';
import { ociChat } from './oci-chat.js';
import { ociEmbed } from './oci-embed.js';
import { cohereRerank, rerank } from './rerank.js';

export const RESPONSE_FORMATS: Readonly<Record<string, ResponseFormat>> = Object.freeze({
  'chat-completions': chatCompletions,
  completions: completions,
  embeddings: embeddings,
  rerank: rerank,
  'cohere-chat': cohereChat,
  'cohere-embed': cohereEmbed,
  'cohere-rerank': cohereRerank,
  'oci-chat': ociChat,
  'oci-embed': ociEmbed,
});
