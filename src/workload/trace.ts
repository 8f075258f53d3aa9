/**
 * Trace replay: a file of (arrival time, input length, output length) per request, as an
 * item source whose items carry `arrival_offset_us` (from the first arrival) and prompts
 * of exactly the recorded input length, cut from the corpus like synthetic prompts.
 *
 * Formats (detected by content: a CSV header, or JSONL objects with `input_length`):
 * - Mooncake (kvcache-ai/Mooncake, FAST'25 release traces, `mooncake_trace.jsonl`): one
 *   JSON object per line, `{"timestamp": <ms>, "input_length": n, "output_length": m,
 *   "hash_ids": [...]}`; timestamp in milliseconds from the trace start. `hash_ids` name the
 *   prompt's 512-token blocks and are replayed: equal ids give byte-identical block text,
 *   distinct ids distinct text (see `BLOCK_TOKENS`), so prefix caching sees what it saw.
 * - Azure LLM inference traces (Azure/AzurePublicDataset, AzureLLMInferenceTrace_{code,conv}.csv,
 *   2023 and 2024): CSV with header `TIMESTAMP,ContextTokens,GeneratedTokens`, TIMESTAMP a
 *   datetime such as `2023-11-16 18:15:46.6805900` (up to 7 fractional digits; read as UTC,
 *   only differences matter; precision kept to the microsecond).
 */
import { basename } from 'node:path';
import { readFile } from 'node:fs/promises';
import { ValidationError, type ValidationIssue } from '../base/errors.js';
import { canonicalJson, sha256 } from '../base/digest.js';
import { Permutation, keyFromString } from '../base/prng.js';
import { appendExact, createPromptSynthesizer, type Corpus, type PromptSynthesizer } from './prompts.js';
import type { Tokenizer } from './tokenizer.js';
import { WORKLOAD_ALGORITHM, type ItemSource, type WorkItem } from './work-item.js';

/** One request of a trace. */
export interface TraceRecord {
  /** Arrival relative to the trace's first arrival, in microseconds. */
  arrivalOffsetUs: number;
  inputTokens: number;
  /** Requested output length; a recorded 0 becomes 1 (a request must ask for something). */
  outputTokens: number;
  /** 1-based line in the file, for messages. */
  line: number;
  /** Mooncake: the ids of the prompt's leading 512-token blocks (absent or empty: none shared). */
  hashIds?: number[];
}

/**
 * Tokens per Mooncake hash block. Block id h's text is cut from two corpus positions chosen by
 * h's rank among the trace's distinct ids (256 tokens at one, the rest at the other), so every
 * occurrence of h is the same text and two ids (fewer than startCount² of them) never are;
 * the last block of a prompt is cut to what remains of input_length from the same positions.
 * Tokens past the listed blocks are the request's own, as other trace prompts.
 */
export const BLOCK_TOKENS = 512;
const HALF_BLOCK_TOKENS = BLOCK_TOKENS / 2;
/** The largest hash id read (a Mooncake id is a small integer; 2^31 − 1, the warehouse's INTEGER). */
export const MAX_HASH_ID = 2 ** 31 - 1;

export type TraceFormat = 'mooncake-jsonl' | 'azure-csv';

/** Parsed trace. */
export interface Trace {
  format: TraceFormat;
  records: TraceRecord[];
}

/** True when the text looks like a trace (Azure CSV header, or JSONL with `input_length`). */
export function looksLikeTrace(text: string): boolean {
  const first = firstLine(text);
  if (/^\s*"?TIMESTAMP"?\s*,/i.test(first)) return true;
  try {
    const value: unknown = JSON.parse(first);
    return typeof value === 'object' && value !== null && 'input_length' in value;
  } catch {
    return false;
  }
}

function firstLine(text: string): string {
  for (const line of text.split('\n')) if (line.trim() !== '') return line.trim();
  return '';
}

/** Parse a trace from its text; `file` names it in errors. @throws ValidationError listing every bad line. */
export function parseTrace(text: string, file: string): Trace {
  const first = firstLine(text);
  if (first.startsWith('{')) return { format: 'mooncake-jsonl', records: parseMooncake(text, file) };
  return { format: 'azure-csv', records: parseAzure(text, file) };
}

interface RawRow {
  line: number;
  timeUs: number;
  input: number;
  output: number;
  hashIds?: number[];
}

function parseMooncake(text: string, file: string): TraceRecord[] {
  const issues: ValidationIssue[] = [];
  const rows: RawRow[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const at = { file, path: `line ${line}` };
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      issues.push({ ...at, message: `not valid JSON (${(error as Error).message})` });
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ ...at, message: 'expected an object {"timestamp", "input_length", "output_length"}' });
      return;
    }
    const obj = value as Record<string, unknown>;
    const problems: string[] = [];
    const ts = obj.timestamp;
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0)
      problems.push('"timestamp" must be a number of ms ≥ 0');
    const input = obj.input_length;
    if (!isInt(input) || input < 1) problems.push('"input_length" must be an integer ≥ 1');
    const output = obj.output_length;
    if (!isInt(output) || output < 0) problems.push('"output_length" must be an integer ≥ 0');
    const hashIds = obj.hash_ids;
    if (problems.length === 0 && hashIds !== undefined && hashIds !== null) {
      const most = Math.ceil((input as number) / BLOCK_TOKENS);
      if (
        !Array.isArray(hashIds) ||
        hashIds.length > most ||
        !hashIds.every((id) => isInt(id) && id >= 0 && id <= MAX_HASH_ID)
      ) {
        const shown = Array.isArray(hashIds)
          ? `${hashIds.length} entries`
          : JSON.stringify(hashIds).slice(0, 60);
        problems.push(
          `"hash_ids" (${shown}) must be an array of at most ${most} integers from 0 to ${MAX_HASH_ID}: one per ${BLOCK_TOKENS}-token block of input_length`,
        );
      }
    }
    if (problems.length > 0) {
      issues.push({ ...at, message: problems.join('; ') });
      return;
    }
    rows.push({
      line,
      timeUs: Math.round((ts as number) * 1000),
      input: input as number,
      output: output as number,
      ...(Array.isArray(hashIds) && hashIds.length > 0 ? { hashIds: hashIds as number[] } : {}),
    });
  });
  return finish(rows, issues, file);
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|[+-]00:?00)?$/;

/** Datetime to microseconds since the epoch (UTC); undefined if malformed. */
export function parseDatetimeUs(text: string): number | undefined {
  const m = DATETIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  const check = new Date(ms);
  // Date.UTC rolls 2023-02-30 over to March; a real datetime round-trips its fields.
  if (check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1) return undefined;
  const micros = frac ? Number(frac.slice(0, 6).padEnd(6, '0')) : 0;
  return ms * 1000 + micros;
}

function parseAzure(text: string, file: string): TraceRecord[] {
  const issues: ValidationIssue[] = [];
  const rows: RawRow[] = [];
  const lines = text.split('\n');
  const headerIndex = lines.findIndex((l) => l.trim() !== '');
  const header = splitCsv(lines[headerIndex] ?? '');
  const col = (name: string) => header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
  const [tsCol, inCol, outCol] = [col('TIMESTAMP'), col('ContextTokens'), col('GeneratedTokens')];
  if (tsCol < 0 || inCol < 0 || outCol < 0) {
    throw new ValidationError([
      {
        file,
        path: `line ${headerIndex + 1}`,
        value: lines[headerIndex]?.trim(),
        message: 'expected a JSONL trace or a CSV header with TIMESTAMP,ContextTokens,GeneratedTokens',
      },
    ]);
  }
  for (let i = headerIndex + 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const line = i + 1;
    const cells = splitCsv(raw);
    const problems: string[] = [];
    const timeUs = parseDatetimeUs(cells[tsCol] ?? '');
    if (timeUs === undefined)
      problems.push(
        `TIMESTAMP ${JSON.stringify(cells[tsCol] ?? '')} is not a datetime (YYYY-MM-DD HH:MM:SS[.fffffff])`,
      );
    const input = parseIntCell(cells[inCol]);
    if (input === undefined || input < 1)
      problems.push(`ContextTokens ${JSON.stringify(cells[inCol] ?? '')} must be an integer ≥ 1`);
    const output = parseIntCell(cells[outCol]);
    if (output === undefined || output < 0)
      problems.push(`GeneratedTokens ${JSON.stringify(cells[outCol] ?? '')} must be an integer ≥ 0`);
    if (problems.length > 0) issues.push({ file, path: `line ${line}`, message: problems.join('; ') });
    else rows.push({ line, timeUs: timeUs!, input: input!, output: output! });
  }
  return finish(rows, issues, file);
}

function finish(rows: RawRow[], issues: ValidationIssue[], file: string): TraceRecord[] {
  // Replay needs arrivals in order; a trace that goes back in time is reported, not silently sorted.
  for (let i = 1; i < rows.length; i++) {
    if (rows[i]!.timeUs < rows[i - 1]!.timeUs) {
      issues.push({
        file,
        path: `line ${rows[i]!.line}`,
        message: `arrival is earlier than the previous request's (line ${rows[i - 1]!.line}); expected non-decreasing timestamps`,
      });
    }
  }
  if (issues.length === 0 && rows.length === 0)
    issues.push({ file, path: '', message: 'trace has no requests' });
  if (issues.length > 0) throw new ValidationError(issues.sort((a, b) => lineOf(a) - lineOf(b)));
  const t0 = rows[0]!.timeUs;
  return rows.map((r) => ({
    arrivalOffsetUs: r.timeUs - t0,
    inputTokens: r.input,
    outputTokens: Math.max(1, r.output),
    line: r.line,
    ...(r.hashIds ? { hashIds: r.hashIds } : {}),
  }));
}

function lineOf(issue: ValidationIssue): number {
  return Number(/\d+/.exec(issue.path)?.[0] ?? 0);
}

function splitCsv(line: string): string[] {
  return line
    .replace(/\r$/, '')
    .split(',')
    .map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
}

function parseIntCell(cell: string | undefined): number | undefined {
  if (cell === undefined || !/^\d+$/.test(cell)) return undefined;
  const n = Number(cell);
  return Number.isSafeInteger(n) ? n : undefined;
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

export interface TraceSourceOptions {
  path: string;
  tokenizer: Tokenizer;
  seed: number;
  iterationKey: string;
  task: string;
  corpus?: Corpus;
  /** Already-read file content (avoids a second read when the caller sniffed the format). */
  text?: string;
}

/**
 * An item source replaying a trace file: item i is the file's i-th request, with
 * `arrival_offset_us` and a prompt of exactly its input length. `size` is the number of
 * requests; `itemAt(i)` for i ≥ size throws (a replay does not wrap around).
 * @throws ValidationError naming the file and every bad line.
 */
export async function createTraceSource(opts: TraceSourceOptions): Promise<ItemSource> {
  const text = opts.text ?? (await readText(opts.path, 'a trace (Mooncake JSONL or Azure CSV)'));
  const trace = parseTrace(text, opts.path);
  const synth = await createPromptSynthesizer(opts.tokenizer, opts.corpus);
  return new TraceSource(trace, sha256(text), opts, synth);
}

class TraceSource implements ItemSource {
  readonly description: Record<string, unknown>;
  readonly size: number;
  private readonly perm: Permutation;
  /** Hash id → its rank among the trace's distinct ids (first appearance first); empty without hash_ids. */
  private readonly blockRank = new Map<number, number>();
  private readonly blockPerms: [Permutation, Permutation] | null = null;

  constructor(
    private readonly trace: Trace,
    fileDigest: string,
    opts: TraceSourceOptions,
    private readonly synth: PromptSynthesizer,
  ) {
    this.size = trace.records.length;
    this.description = {
      generator: 'trace',
      algorithm: WORKLOAD_ALGORITHM,
      format: trace.format,
      file: basename(opts.path),
      fileDigest,
      requests: this.size,
      task: opts.task,
      seed: opts.seed,
      iterationKey: opts.iterationKey,
      tokenizer: opts.tokenizer.name,
      corpus: { name: synth.corpus.name, digest: synth.corpus.digest },
    };
    for (const record of trace.records) {
      for (const id of record.hashIds ?? [])
        if (!this.blockRank.has(id)) this.blockRank.set(id, this.blockRank.size);
    }
    // Only traces with hash_ids gain the key, so other traces keep their items and digest.
    if (this.blockRank.size > 0) this.description.blockTokens = BLOCK_TOKENS;
    this.perm = new Permutation(synth.startCount, keyFromString(canonicalJson(this.description)));
    if (this.blockRank.size > 0) {
      const S = synth.startCount;
      if (this.blockRank.size > S * S) {
        throw new ValidationError([
          {
            file: opts.path,
            path: 'hash_ids',
            value: this.blockRank.size,
            message: `${this.blockRank.size} distinct hash ids; the corpus gives at most ${S * S} distinct blocks`,
          },
        ]);
      }
      const keyed = (part: string) =>
        new Permutation(S, keyFromString(canonicalJson({ ...this.description, part })));
      this.blockPerms = [keyed('block-head'), keyed('block-tail')];
    }
  }

  /** The text of hash block `id` cut to `tokens` (≤ BLOCK_TOKENS): the same for every occurrence. */
  private block(id: number, tokens: number): string {
    const [head, tail] = this.blockPerms!;
    const S = this.synth.startCount;
    const rank = this.blockRank.get(id)!;
    const first = this.synth.continuation(head.at(rank % S), Math.min(tokens, HALF_BLOCK_TOKENS));
    if (tokens <= HALF_BLOCK_TOKENS) return first;
    return first + this.synth.continuation(tail.at(Math.floor(rank / S)), tokens - HALF_BLOCK_TOKENS);
  }

  /** A prompt of the record's hash blocks, then its own tokens: exact by construction when segmented. */
  private blockPrompt(index: number, record: TraceRecord, ids: number[]): { text: string; tokens: number } {
    const parts: string[] = [];
    let tokens = 0;
    for (const id of ids) {
      const length = Math.min(BLOCK_TOKENS, record.inputTokens - tokens);
      parts.push(this.block(id, length));
      tokens += length;
    }
    const head = parts.join('');
    if (tokens < record.inputTokens) {
      return appendExact(this.synth, head, tokens, this.perm.at(index), record.inputTokens - tokens);
    }
    // Joined blocks re-encode exactly only when segmented; otherwise the true count is reported.
    return {
      text: head,
      tokens: this.synth.mode === 'segmented' ? tokens : this.synth.tokenizer.count(head),
    };
  }

  itemAt(index: number): WorkItem {
    const record = this.trace.records[index];
    if (!Number.isSafeInteger(index) || record === undefined) {
      throw new RangeError(`trace item ${index} out of range [0, ${this.size})`);
    }
    const ids = record.hashIds;
    if (ids !== undefined && ids.length > 0) {
      const { text, tokens } = this.blockPrompt(index, record, ids);
      return {
        index,
        prompt: text,
        input_tokens: tokens,
        max_tokens: record.outputTokens,
        arrival_offset_us: record.arrivalOffsetUs,
        prefix_group: ids[0]!,
      };
    }
    return {
      index,
      prompt: this.synth.prompt(this.perm.at(index), record.inputTokens),
      input_tokens: record.inputTokens,
      max_tokens: record.outputTokens,
      arrival_offset_us: record.arrivalOffsetUs,
    };
  }
}

/** Read a text file, turning I/O errors into a ValidationError that names it and what was expected. */
export async function readText(path: string, expected: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ValidationError([
      { file: path, path: '', message: `cannot read (${(error as Error).message}); expected ${expected}` },
    ]);
  }
}
