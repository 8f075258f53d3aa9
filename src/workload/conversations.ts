/**
 * Multi-turn conversations as a workload (spec.multiTurn, docs/multi-turn.md): conversation
 * c's user turns, each with its requested output length and, from a dataset, the dataset's
 * reply. The assistant turns the server gives are the engine's to collect; this module only
 * says what the user says.
 *
 * Determinism: conversation c is a pure function of (seed, spec, c), as the sampler's items
 * are. Synthetic: user turn t of conversation c is the scenario's item `c·turns + t` (its
 * lengths drawn from the scenario, its text cut at its own corpus offset). Dataset: the
 * conversation of the source's item c (the same seeded shuffle), every turn of it, at most
 * `turns` when given.
 *
 * Request indexes: turn t of conversation c is request `firstRequestIndex(c) + t`, the prefix
 * sum of the turns before it, so every request of an iteration has its own index whichever
 * shard sends it.
 */
import { createHash } from 'node:crypto';
import { InfermarkError } from '../base/errors.js';
import { canonicalJson } from '../base/digest.js';
import { DatasetSource } from './dataset.js';
import type { Tokenizer } from './tokenizer.js';
import { WORKLOAD_ALGORITHM, type ItemSource } from './work-item.js';

/** spec.multiTurn as the workload needs it (zod defaults applied). */
export interface MultiTurnOptions {
  turns?: number | undefined;
  thinkTimeSeconds: number;
  assistantTurns: 'server' | 'dataset';
}

/** One user turn: its message, its exact token count, the output asked for, and the dataset's reply. */
export interface UserTurn {
  prompt: string;
  input_tokens: number;
  max_tokens: number;
  /** The dataset's reply to this turn (assistantTurns: dataset sends it as the assistant turn). */
  reply?: string;
  /** Tokens of `reply` by the workload tokenizer. */
  reply_tokens?: number;
}

export interface Conversation {
  /** Position in the iteration's conversation stream (what the dispatcher claims). */
  index: number;
  turns: UserTurn[];
}

/** What the engine plays: conversations, where their requests are numbered, and how turns follow each other. */
export interface ConversationPlay {
  conversationAt(c: number): Conversation;
  /** The request index of conversation c's first turn. */
  firstRequestIndex(c: number): number;
  /** Pause between an answer and the next turn of its conversation. */
  readonly thinkTimeUs: number;
  readonly assistantTurns: 'server' | 'dataset';
  /** Tokens of an assistant turn the server wrote (the workload's tokenizer). */
  countTokens(text: string): number;
}

/**
 * An iteration's conversations. It is an ItemSource for what the run reads of every source
 * (its description, its size in conversations); `itemAt(c)` is conversation c's first turn.
 */
export interface ConversationSource extends ItemSource, ConversationPlay {
  readonly kind: 'conversations';
}

/** True when an iteration's source sends conversations, not single requests. */
export function isConversationSource(source: ItemSource): source is ConversationSource {
  return (source as Partial<ConversationSource>).kind === 'conversations';
}

/**
 * Conversations over an iteration's item source: a synthetic one (D, N, U: `turns`
 * required) or a dataset (ShareGPT uses every turn; a prompt record is one turn).
 * @throws InfermarkError (exit 2) when the source cannot make conversations.
 */
export function createConversationSource(
  base: ItemSource,
  options: MultiTurnOptions,
  tokenizer: Tokenizer,
): ConversationSource {
  if (base instanceof DatasetSource) return new DatasetConversations(base, options, tokenizer);
  if (base.description.generator !== 'synthetic')
    throw new InfermarkError(
      'E_MULTI_TURN',
      `spec.multiTurn: a ${String(base.description.generator)} workload has no conversations (expected a D, N or U scenario, or a ShareGPT/prompt dataset)`,
      2,
    );
  const scenario = base.description.scenario as { kind: string } | undefined;
  if (!scenario || !['D', 'N', 'U'].includes(scenario.kind))
    throw new InfermarkError(
      'E_MULTI_TURN',
      `spec.multiTurn: a ${scenario?.kind ?? 'non-text'} scenario has no conversations (expected D, N or U)`,
      2,
    );
  if (options.turns === undefined)
    throw new InfermarkError(
      'E_MULTI_TURN',
      'spec.multiTurn.turns: required with a synthetic scenario (how many user turns a conversation has)',
      2,
    );
  if (options.assistantTurns === 'dataset')
    throw new InfermarkError(
      'E_MULTI_TURN',
      'spec.multiTurn.assistantTurns: "dataset" needs the dataset scenario (a synthetic scenario has no replies)',
      2,
    );
  return new SyntheticConversations(base, options.turns, options, tokenizer);
}

/** The multiTurn part of a source's description (hashed into the workload digest). */
function describe(base: ItemSource, options: MultiTurnOptions): Record<string, unknown> {
  return {
    generator: 'conversations',
    algorithm: WORKLOAD_ALGORITHM,
    multiTurn: {
      ...(options.turns !== undefined ? { turns: options.turns } : {}),
      thinkTimeSeconds: options.thinkTimeSeconds,
      assistantTurns: options.assistantTurns,
    },
    base: base.description,
  };
}

abstract class Conversations implements ConversationSource {
  readonly kind = 'conversations';
  readonly description: Record<string, unknown>;
  readonly thinkTimeUs: number;
  readonly assistantTurns: 'server' | 'dataset';
  abstract readonly size: number;

  constructor(
    protected readonly base: ItemSource,
    options: MultiTurnOptions,
    protected readonly tokenizer: Tokenizer,
  ) {
    this.description = describe(base, options);
    this.thinkTimeUs = Math.round(options.thinkTimeSeconds * 1e6);
    this.assistantTurns = options.assistantTurns;
  }

  abstract conversationAt(c: number): Conversation;
  abstract firstRequestIndex(c: number): number;

  /**
   * Counts a turn's history, which holds the server's answers: linear in the text whatever
   * it holds (`count` is quadratic on long runs without spaces: 40 000 letters took 2 s, a
   * pause of every conversation in flight).
   */
  countTokens(text: string): number {
    return this.tokenizer.countBounded(text);
  }

  itemAt(c: number) {
    const first = this.conversationAt(c).turns[0] as UserTurn;
    return { index: c, prompt: first.prompt, input_tokens: first.input_tokens, max_tokens: first.max_tokens };
  }
}

class SyntheticConversations extends Conversations {
  readonly size = Infinity;

  constructor(
    base: ItemSource,
    private readonly turns: number,
    options: MultiTurnOptions,
    tokenizer: Tokenizer,
  ) {
    super(base, options, tokenizer);
  }

  conversationAt(c: number): Conversation {
    checkIndex(c);
    const turns: UserTurn[] = [];
    for (let t = 0; t < this.turns; t++) {
      const item = this.base.itemAt(c * this.turns + t);
      turns.push({ prompt: item.prompt, input_tokens: item.input_tokens, max_tokens: item.max_tokens });
    }
    return { index: c, turns };
  }

  firstRequestIndex(c: number): number {
    return c * this.turns;
  }
}

class DatasetConversations extends Conversations {
  readonly size: number;
  /** `starts[k]`: requests of the conversations 0 … k−1 of one pass over the dataset (k ≤ size). */
  private readonly starts: number[];
  /** Conversations built, by dataset entry: a pass past the dataset's end reuses them (as DatasetSource does). */
  private readonly built: (Conversation | undefined)[] = [];

  constructor(
    private readonly dataset: DatasetSource,
    private readonly options: MultiTurnOptions,
    tokenizer: Tokenizer,
  ) {
    super(dataset, options, tokenizer);
    this.size = dataset.size;
    this.starts = [0];
    for (let k = 0; k < dataset.size; k++) {
      this.starts.push((this.starts[k] as number) + this.turnsOf(k));
    }
  }

  /** How many turns conversation c sends (counting needs no tokenizer). */
  private turnsOf(c: number): number {
    const entry = this.dataset.entryAt(c);
    const all = entry.turns ?? [{ prompt: entry.prompt }];
    // A turn needs an output length: its reply's, or the record's output_tokens. Without a
    // reply, the dataset has no assistant turn to continue with (assistantTurns: dataset).
    let n = 0;
    for (const turn of all) {
      if (turn.reply !== undefined) n++;
      else {
        if (entry.outputTokens !== undefined) n++;
        if (entry.outputTokens === undefined || this.options.assistantTurns === 'dataset') break;
      }
    }
    return Math.max(1, Math.min(n, this.options.turns ?? Infinity));
  }

  conversationAt(c: number): Conversation {
    checkIndex(c);
    const e = c % this.size;
    const cached = this.built[e];
    if (cached) return { index: c, turns: cached.turns };
    const conversation = this.buildConversation(c);
    this.built[e] = conversation;
    return conversation;
  }

  private buildConversation(c: number): Conversation {
    const entry = this.dataset.entryAt(c);
    const all = entry.turns ?? [{ prompt: entry.prompt, ...(entry.reply ? { reply: entry.reply } : {}) }];
    const count = this.turnsOf(c);
    const tok = this.tokenizer;
    const turns: UserTurn[] = [];
    for (let t = 0; t < count; t++) {
      const turn = all[t] as { prompt: string; reply?: string };
      const reply_tokens = turn.reply !== undefined ? tok.count(turn.reply) : undefined;
      // As a single request: the reply's length, unless the record gives output_tokens (then for its turns without a reply).
      const max_tokens =
        t === 0 && entry.outputTokens !== undefined
          ? entry.outputTokens
          : Math.max(1, reply_tokens ?? entry.outputTokens ?? 1);
      turns.push({
        prompt: turn.prompt,
        input_tokens: tok.count(turn.prompt),
        max_tokens,
        ...(turn.reply !== undefined ? { reply: turn.reply, reply_tokens: reply_tokens as number } : {}),
      });
    }
    return { index: c, turns };
  }

  firstRequestIndex(c: number): number {
    checkIndex(c);
    const cycle = this.starts[this.size] as number;
    return Math.floor(c / this.size) * cycle + (this.starts[c % this.size] as number);
  }
}

function checkIndex(c: number): void {
  if (!Number.isSafeInteger(c) || c < 0) throw new RangeError(`conversation index must be ≥ 0, got ${c}`);
}

/** sha256 over each conversation's canonical JSON, one per line (the workload digest of a multi-turn iteration). */
export function conversationsDigest(conversations: readonly Conversation[]): string {
  const hash = createHash('sha256');
  for (const c of conversations) {
    hash.update(canonicalJson(c));
    hash.update('\n');
  }
  return `sha256:${hash.digest('hex')}`;
}
