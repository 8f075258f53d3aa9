/**
 * A dataset file as a workload. Accepted forms (detected by content):
 * - ShareGPT, JSON array or JSONL: `{"conversations": [{"from": "human", "value": ...},
 *   {"from": "gpt", "value": ...}, ...]}`; the prompt is the first human turn, the
 *   output length the token count of the first gpt reply after it (as vLLM's
 *   benchmark_serving does), unless the record gives `output_tokens`.
 * - Prompt JSONL (or a JSON array of such objects): `{"prompt": "...", "output_tokens": N}`.
 * - A trace (Mooncake JSONL or Azure CSV, see trace.ts) is handed to the trace source.
 *
 * Items come in a seeded shuffled order (keyed by seed and iteration), wrapping around
 * after `size` items. Token counts are computed on first use of an entry, so loading a
 * large ShareGPT file does not tokenize all of it.
 */
import { basename } from 'node:path';
import { ValidationError, type ValidationIssue } from '../base/errors.js';
import { canonicalJson, sha256 } from '../base/digest.js';
import { Prng, keyFromString } from '../base/prng.js';
import { createTraceSource, looksLikeTrace, readText, type TraceSourceOptions } from './trace.js';
import { WORKLOAD_ALGORITHM, type ItemSource, type WorkItem } from './work-item.js';

/** One dataset request before tokenization. */
export interface DatasetEntry {
  prompt: string;
  /** Given output length, if the record has one. */
  outputTokens?: number;
  /** The reply whose token count is the output length when none is given. */
  reply?: string;
  /**
   * ShareGPT: every turn of the conversation, the first one included (multi-turn workloads
   * send them all; single requests use `prompt` and `reply` only). Consecutive human
   * messages join into one user turn; a gpt message is the reply to the user turn before it.
   */
  turns?: DatasetTurn[];
}

/** One user turn of a dataset conversation and the dataset's reply to it, when it has one. */
export interface DatasetTurn {
  prompt: string;
  reply?: string;
}

export type DatasetFormat = 'sharegpt' | 'prompt';

const HUMAN = new Set(['human', 'user']);
const GPT = new Set(['gpt', 'assistant', 'chatgpt', 'bard', 'model']);

/**
 * Parse dataset text (ShareGPT JSON array / JSONL, or prompt JSONL); `file` names it in errors.
 * @throws ValidationError listing every bad record (file, line or array index, what is wrong).
 */
export function parseDataset(text: string, file: string): { format: DatasetFormat; entries: DatasetEntry[] } {
  const issues: ValidationIssue[] = [];
  const records: { at: string; value: unknown }[] = [];
  if (text.trimStart().startsWith('[')) {
    let array: unknown;
    try {
      array = JSON.parse(text);
    } catch (error) {
      throw new ValidationError([
        {
          file,
          path: '',
          message: `not valid JSON (${(error as Error).message}); expected a JSON array of records`,
        },
      ]);
    }
    if (!Array.isArray(array))
      throw new ValidationError([{ file, path: '', message: 'expected a JSON array of records' }]);
    array.forEach((value, i) => records.push({ at: `[${i}]`, value }));
  } else {
    text.split('\n').forEach((raw, i) => {
      if (raw.trim() === '') return;
      try {
        records.push({ at: `line ${i + 1}`, value: JSON.parse(raw) });
      } catch (error) {
        issues.push({ file, path: `line ${i + 1}`, message: `not valid JSON (${(error as Error).message})` });
      }
    });
  }
  const entries: DatasetEntry[] = [];
  let sharegpt = 0;
  for (const { at, value } of records) {
    const result = parseRecord(value);
    if (typeof result === 'string') issues.push({ file, path: at, message: result });
    else {
      entries.push(result.entry);
      if (result.sharegpt) sharegpt++;
    }
  }
  if (issues.length === 0 && entries.length === 0)
    issues.push({ file, path: '', message: 'dataset has no records' });
  if (issues.length > 0) throw new ValidationError(issues);
  return { format: sharegpt > 0 ? 'sharegpt' : 'prompt', entries };
}

/** One record to an entry, or a message saying what is wrong with it. */
function parseRecord(value: unknown): { entry: DatasetEntry; sharegpt: boolean } | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'expected an object with "conversations" (ShareGPT) or "prompt"';
  }
  const obj = value as Record<string, unknown>;
  let outputTokens: number | undefined;
  if (obj.output_tokens !== undefined) {
    if (
      typeof obj.output_tokens !== 'number' ||
      !Number.isSafeInteger(obj.output_tokens) ||
      obj.output_tokens < 1
    ) {
      return `"output_tokens" must be an integer ≥ 1, got ${JSON.stringify(obj.output_tokens)}`;
    }
    outputTokens = obj.output_tokens;
  }
  if ('conversations' in obj) {
    const turns = obj.conversations;
    if (!Array.isArray(turns)) return '"conversations" must be an array of {"from", "value"} turns';
    const humanAt = turns.findIndex((t) => isTurn(t) && HUMAN.has(t.from));
    if (humanAt < 0) return 'no human turn with a non-empty string "value" in "conversations"';
    const prompt = (turns[humanAt] as Turn).value;
    const all = conversationTurns(turns.slice(humanAt));
    if (outputTokens !== undefined) return { entry: { prompt, outputTokens, turns: all }, sharegpt: true };
    const reply = turns.slice(humanAt + 1).find((t) => isTurn(t) && GPT.has(t.from)) as Turn | undefined;
    if (!reply)
      return 'no gpt reply after the first human turn to take the output length from (or give "output_tokens")';
    return { entry: { prompt, reply: reply.value, turns: all }, sharegpt: true };
  }
  if ('prompt' in obj) {
    if (typeof obj.prompt !== 'string' || obj.prompt === '') return '"prompt" must be a non-empty string';
    if (outputTokens === undefined) return '"output_tokens" is required with "prompt" (an integer ≥ 1)';
    return { entry: { prompt: obj.prompt, outputTokens }, sharegpt: false };
  }
  return 'expected "conversations" (ShareGPT) or "prompt" with "output_tokens"';
}

interface Turn {
  from: string;
  value: string;
}

/** A ShareGPT conversation (from its first human message) as user turns with their replies. */
function conversationTurns(messages: readonly unknown[]): DatasetTurn[] {
  const out: DatasetTurn[] = [];
  let open: DatasetTurn | null = null;
  for (const m of messages) {
    if (!isTurn(m)) continue;
    if (HUMAN.has(m.from)) {
      // Two human messages in a row are one user turn: the server would see them so anyway.
      if (open && open.reply === undefined) open.prompt = `${open.prompt}\n\n${m.value}`;
      else out.push((open = { prompt: m.value }));
    } else if (GPT.has(m.from) && open && open.reply === undefined) {
      open.reply = m.value;
    }
  }
  return out;
}

function isTurn(t: unknown): t is Turn {
  if (typeof t !== 'object' || t === null) return false;
  const { from, value } = t as Record<string, unknown>;
  return typeof from === 'string' && typeof value === 'string' && value !== '';
}

/** What a dataset source needs: a trace source's options (a dataset file may be a trace). */
export type DatasetSourceOptions = Omit<TraceSourceOptions, 'text'>;

/**
 * An item source over a dataset file (or a trace file, detected by content).
 * @throws ValidationError naming the file and every bad record.
 */
export async function createDatasetSource(opts: DatasetSourceOptions): Promise<ItemSource> {
  const text = await readText(opts.path, 'a dataset (ShareGPT JSON/JSONL, prompt JSONL) or a trace');
  if (/\.csv$/i.test(opts.path) || looksLikeTrace(text)) return createTraceSource({ ...opts, text });
  const { format, entries } = parseDataset(text, opts.path);
  return new DatasetSource(entries, format, sha256(text), opts);
}

/** A dataset's items; `entryAt` gives the entry behind item `index` (multi-turn reads its turns). */
export class DatasetSource implements ItemSource {
  readonly description: Record<string, unknown>;
  readonly size: number;
  private readonly order: Uint32Array;
  /** Items by entry, built on first use (tokenizing is the cost). */
  private readonly built: (Omit<WorkItem, 'index'> | undefined)[];

  constructor(
    private readonly entries: DatasetEntry[],
    readonly format: DatasetFormat,
    fileDigest: string,
    private readonly opts: DatasetSourceOptions,
  ) {
    this.size = entries.length;
    this.built = new Array<undefined>(entries.length);
    this.description = {
      generator: 'dataset',
      algorithm: WORKLOAD_ALGORITHM,
      format,
      file: basename(opts.path),
      fileDigest,
      entries: entries.length,
      task: opts.task,
      seed: opts.seed,
      iterationKey: opts.iterationKey,
      tokenizer: opts.tokenizer.name,
    };
    // Fisher–Yates once: a full, seeded shuffle, so any prefix of the stream is a fair sample.
    const key = keyFromString(canonicalJson(this.description));
    const rng = new Prng(key[0], key[1], 0xda7a, entries.length);
    this.order = new Uint32Array(entries.length);
    for (let i = 0; i < entries.length; i++) this.order[i] = i;
    for (let i = entries.length - 1; i > 0; i--) {
      const j = rng.intInclusive(0, i);
      [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
    }
  }

  /** The entry behind item `index` (the same seeded order, wrapping after `size`). */
  entryAt(index: number): DatasetEntry {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new RangeError(`item index must be ≥ 0, got ${index}`);
    return this.entries[this.order[index % this.size]!]!;
  }

  itemAt(index: number): WorkItem {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new RangeError(`item index must be ≥ 0, got ${index}`);
    const e = this.order[index % this.size]!;
    let item = this.built[e];
    if (!item) {
      const entry = this.entries[e]!;
      const tok = this.opts.tokenizer;
      // A reply of zero tokens cannot happen (non-empty text), but keep max_tokens ≥ 1 regardless.
      const outputTokens = entry.outputTokens ?? Math.max(1, tok.count(entry.reply ?? ''));
      item = { prompt: entry.prompt, input_tokens: tok.count(entry.prompt), max_tokens: outputTokens };
      this.built[e] = item;
    }
    return { index, ...item };
  }
}
