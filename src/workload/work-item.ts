/**
 * A work item: one request's payload, produced by the workload and sent by a
 * backend. Plain data: the same seed and spec produce byte-identical items.
 */

/**
 * Version of the item-generation algorithm, part of every source's description: bump it
 * when the same seed and spec would produce different items, so digests change with it.
 */
export const WORKLOAD_ALGORITHM = 'infermark-workload/1';

export interface ChatContentPart {
  type: 'text' | 'image_url';
  text?: string;
  image_url?: { url: string };
}

/** One message of a chat history (multi-turn: every earlier turn, in order). */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface WorkItem {
  /** Position in the iteration's item stream. */
  index: number;
  /** Prompt text (the user message for chat; the prompt for completions; the document for embeddings). */
  prompt: string;
  /** Extra inputs for embeddings/rerank: several documents (E/R scenarios). */
  documents?: string[];
  /** Query text for rerank (R scenarios). */
  query?: string;
  /** Images (I scenarios) as data URLs, sent as chat content parts. */
  images?: string[];
  /** Exact input token count of `prompt` (+ documents/query) by the workload's tokenizer. */
  input_tokens: number;
  /** Requested output length (`max_tokens`); 0 for embeddings. */
  max_tokens: number;
  /** For trace replay: offset of the arrival from the iteration start, in microseconds. */
  arrival_offset_us?: number;
  /**
   * The shared prefix `prompt` begins with (spec.sharedPrefix, or a trace's first hash_id);
   * absent when the workload shares none. Copied into the record's `prefix_group`.
   */
  prefix_group?: number;
  /**
   * Multi-turn: the conversation so far, sent before `prompt` (the turn's user message), in
   * order. `input_tokens` counts the whole history plus `prompt`.
   */
  history?: ChatMessage[];
  /** Multi-turn: which conversation and turn this item is (copied into the record). */
  conversation?: { id: string; turn: number };
}

/** A source of work items for one iteration; `itemAt` is deterministic for (seed, spec, index). */
export interface ItemSource {
  /** Canonical description of what generates the items (hashed into the workload digest). */
  readonly description: Record<string, unknown>;
  /** Number of items available, or Infinity for synthetic generators. */
  readonly size: number;
  itemAt(index: number): WorkItem;
}
