/**
 * One conversation played turn by turn (spec.multiTurn): each turn is sent after the answer
 * to the one before it plus the think time, carrying the exact history so far — the user
 * turns and, as assistant turns, what the server answered (or the dataset's replies). A
 * failed turn cuts the conversation; so does the iteration's end (time limit, interruption,
 * fail fast), whether a turn is in flight or the conversation is thinking.
 */
import { nowUs, sleepUs } from '../base/clock.js';
import type { RequestRecord } from '../metrics/record.js';
import type { ConversationPlay, UserTurn } from '../workload/conversations.js';
import type { ChatMessage, WorkItem } from '../workload/work-item.js';

/**
 * The most characters one conversation's history may hold (user turns and answers). Each
 * answer is bounded, but a server that answers every one of up to 1 000 turns at its limit
 * would grow a history (and each request body, which resends it) without a useful bound: the
 * conversation is cut there instead (counted in `cut`; docs/multi-turn.md).
 */
export const MAX_HISTORY_CHARS = 4 * 1024 * 1024;

/** Measured conversations: started, finished whole, cut short (a turn failed or the iteration ended). */
export interface ConversationCounts {
  started: number;
  completed: number;
  cut: number;
}

/** How a conversation reaches the server: the dispatcher's side. */
export interface TurnSender {
  /** The conversation's id in records: `<iteration>-<conversation index>`. */
  id: string;
  /** No turn is scheduled at or after this instant (the iteration's time limit). */
  deadlineUs: number;
  /** Aborted when the iteration cancels what is in flight. */
  cancelled: AbortSignal;
  /** Sends one turn; `onContent`, when given, receives the answer's text before the record resolves. */
  send(
    item: WorkItem,
    scheduledAtUs: number,
    onContent: ((text: string) => void) | undefined,
  ): Promise<RequestRecord>;
}

/** Plays conversation `c` from `scheduledAtUs`; true when every turn completed. */
export async function playConversation(
  play: ConversationPlay,
  c: number,
  scheduledAtUs: number,
  sender: TurnSender,
): Promise<boolean> {
  const { turns } = play.conversationAt(c);
  const first = play.firstRequestIndex(c);
  const history: ChatMessage[] = [];
  let historyTokens = 0;
  let historyChars = 0;
  let atUs = scheduledAtUs;
  for (let t = 0; t < turns.length; t++) {
    const turn = turns[t] as UserTurn;
    if (t > 0 && !(await untilTurn(atUs, sender))) return false;
    let answer: string | null = null;
    const item: WorkItem = {
      index: first + t,
      prompt: turn.prompt,
      input_tokens: historyTokens + turn.input_tokens,
      max_tokens: turn.max_tokens,
      // A copy: the item is the history as this turn sent it, whatever later turns add.
      ...(history.length > 0 ? { history: history.slice() } : {}),
      conversation: { id: sender.id, turn: t },
    };
    const fromServer = play.assistantTurns === 'server';
    const record = await sender.send(
      item,
      atUs,
      fromServer
        ? (text) => {
            answer = text;
          }
        : undefined,
    );
    if (record.status !== 'ok') return false;
    if (t === turns.length - 1) break;
    const reply = fromServer ? answer : (turn.reply ?? null);
    if (reply === null) return false;
    historyChars += turn.prompt.length + reply.length;
    const next = turns[t + 1] as UserTurn;
    if (historyChars + next.prompt.length > MAX_HISTORY_CHARS) return false;
    history.push({ role: 'user', content: turn.prompt }, { role: 'assistant', content: reply });
    historyTokens += turn.input_tokens + (fromServer ? play.countTokens(reply) : (turn.reply_tokens ?? 0));
    atUs = (record.done_at_us ?? nowUs()) + play.thinkTimeUs;
  }
  return true;
}

/**
 * Waits for a later turn's instant; false when the iteration ends first or the instant is past
 * its time limit. A timer may wake a little early (whole ms): yield to the instant itself, so a
 * turn never leaves before its answer plus the think time.
 */
async function untilTurn(atUs: number, sender: TurnSender): Promise<boolean> {
  if (sender.cancelled.aborted || atUs >= sender.deadlineUs) return false;
  await sleepUs(atUs - nowUs(), sender.cancelled);
  while (nowUs() < atUs && !sender.cancelled.aborted) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return !sender.cancelled.aborted;
}
