// Tests for trace replay: Mooncake JSONL and Azure CSV parsing, arrival offsets, exact
// prompt lengths, and per-line error reports.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../base/errors.js';
import { createItemSource } from './sampler.js';
import { loadTokenizer } from './tokenizer.js';
import { createTraceSource, parseDatetimeUs, parseTrace } from './trace.js';

async function write(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-trace-'));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

const MOONCAKE = [
  '{"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48]}',
  '{"timestamp": 30535, "input_length": 6472, "output_length": 26, "hash_ids": [46, 47]}',
  '{"timestamp": 30535, "input_length": 12, "output_length": 0, "hash_ids": []}',
].join('\n');

const AZURE = [
  'TIMESTAMP,ContextTokens,GeneratedTokens',
  '2023-11-16 18:15:46.6805900,374,44',
  '2023-11-16 18:15:50.9951690,396,109',
  '2023-11-16 18:16:00,879,3',
  '',
].join('\r\n');

test('Mooncake JSONL: offsets from the first arrival in µs, lengths as recorded', () => {
  const trace = parseTrace(MOONCAKE, 'm.jsonl');
  assert.equal(trace.format, 'mooncake-jsonl');
  assert.deepEqual(
    trace.records.map((r) => [r.arrivalOffsetUs, r.inputTokens, r.outputTokens]),
    [
      [0, 6955, 52],
      [3_053_000, 6472, 26],
      [3_053_000, 12, 1],
    ],
  );
});

test('Azure CSV: datetimes to µs offsets (7 fractional digits, CRLF)', () => {
  const trace = parseTrace(AZURE, 'a.csv');
  assert.equal(trace.format, 'azure-csv');
  assert.deepEqual(
    trace.records.map((r) => [r.arrivalOffsetUs, r.inputTokens, r.outputTokens, r.line]),
    [
      [0, 374, 44, 2],
      [4_314_579, 396, 109, 3],
      [13_319_410, 879, 3, 4],
    ],
  );
  assert.equal(parseDatetimeUs('2023-02-30 00:00:00'), undefined);
  assert.equal(parseDatetimeUs('2024-01-01T00:00:01.5'), Date.UTC(2024, 0, 1, 0, 0, 1) * 1000 + 500_000);
});

test('a trace source replays arrivals with exact prompt lengths, via createItemSource too', async () => {
  const tok = await loadTokenizer();
  const file = await write('azure.csv', AZURE);
  const src = await createItemSource({
    scenario: { kind: 'dataset' },
    datasetPath: file,
    tokenizer: tok,
    seed: 1,
    iterationKey: 'x',
    task: 'text-to-text',
  });
  assert.equal(src.size, 3);
  assert.equal(src.description.generator, 'trace');
  for (let i = 0; i < 3; i++) {
    const item = src.itemAt(i);
    assert.equal(tok.count(item.prompt), item.input_tokens);
  }
  assert.equal(src.itemAt(1).arrival_offset_us, 4_314_579);
  assert.equal(src.itemAt(2).max_tokens, 3);
  assert.throws(() => src.itemAt(3), RangeError);
  const jsonl = await write('mooncake_trace.jsonl', MOONCAKE);
  const m = await createTraceSource({
    path: jsonl,
    tokenizer: tok,
    seed: 1,
    iterationKey: 'x',
    task: 'text-to-text',
  });
  assert.equal(tok.count(m.itemAt(0).prompt), 6955);
  assert.equal(tok.count(m.itemAt(1).prompt), 6472);
  // Both open with hash blocks 46 and 47 (issue 19: hash_ids are replayed, see the next test).
  assert.equal(m.itemAt(0).prompt.slice(0, 200), m.itemAt(1).prompt.slice(0, 200));
});

test('Mooncake hash_ids: equal ids are byte-identical 512-token blocks, distinct ids distinct, the last cut to input_length', async () => {
  const tok = await loadTokenizer();
  const lines = [
    { timestamp: 0, input_length: 1100, output_length: 5, hash_ids: [7, 8, 9] },
    { timestamp: 10, input_length: 1024, output_length: 5, hash_ids: [7, 8] },
    { timestamp: 20, input_length: 1300, output_length: 5, hash_ids: [7, 3] },
    { timestamp: 30, input_length: 700, output_length: 5, hash_ids: [9] },
    { timestamp: 40, input_length: 300, output_length: 5 },
  ];
  const file = await write('blocks.jsonl', lines.map((l) => JSON.stringify(l)).join('\n'));
  const m = await createTraceSource({
    path: file,
    tokenizer: tok,
    seed: 3,
    iterationKey: 'x',
    task: 'text-to-text',
  });
  const items = lines.map((_, i) => m.itemAt(i));
  const ids = items.map((item) => tok.encode(item.prompt));
  const block = (i: number, b: number) => tok.decode(ids[i]!.slice(b * 512, (b + 1) * 512));
  items.forEach((item, i) => {
    assert.equal(ids[i]!.length, lines[i]!.input_length, `item ${i}: exact length`);
    assert.equal(item.input_tokens, lines[i]!.input_length);
  });
  assert.deepEqual(
    items.map((item) => item.prefix_group),
    [7, 7, 7, 9, undefined],
  );
  // Block 7 and 8 (item 0 and 1) and block 7 (item 2): the same bytes, and at the same place.
  assert.equal(block(0, 0), block(1, 0));
  assert.equal(block(0, 1), block(1, 1));
  assert.equal(block(0, 0), block(2, 0));
  assert.ok(
    items[1]!.prompt === items[0]!.prompt.slice(0, items[1]!.prompt.length),
    'item 1 is item 0 cut to its two blocks',
  );
  // Distinct ids, distinct text: 8 vs 3 after the same block 7, and 9 (a whole block) vs 7.
  assert.notEqual(block(0, 1), block(2, 1));
  assert.notEqual(block(3, 0), block(0, 0));
  // A cut block is cut from the block's own positions: the same (id, length) is the same text.
  const again = await createTraceSource({
    path: file,
    tokenizer: tok,
    seed: 3,
    iterationKey: 'x',
    task: 'text-to-text',
  });
  assert.equal(again.itemAt(0).prompt, items[0]!.prompt);
  assert.ok(!items[4]!.prompt.startsWith(items[0]!.prompt.slice(0, 50)));
  assert.equal(m.description.blockTokens, 512);
});

test('Mooncake hash_ids: a hostile trace (huge ids, more ids than blocks, not an array) is a per-line error', () => {
  const text = [
    '{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [1, 2]}',
    '{"timestamp": 1, "input_length": 600, "output_length": 1, "hash_ids": [1e300]}',
    '{"timestamp": 2, "input_length": 600, "output_length": 1, "hash_ids": "abc"}',
    '{"timestamp": 3, "input_length": 600, "output_length": 1, "hash_ids": [-1]}',
    '{"timestamp": 4, "input_length": 600, "output_length": 1, "hash_ids": [4294967296]}',
    '{"timestamp": 5, "input_length": 600, "output_length": 1, "hash_ids": [0, 2147483647]}',
  ].join('\n');
  assert.throws(
    () => parseTrace(text, 'hostile.jsonl'),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.deepEqual(
        error.issues.map((i) => i.path),
        ['line 1', 'line 2', 'line 3', 'line 4', 'line 5'],
      );
      for (const issue of error.issues) {
        assert.equal(issue.file, 'hostile.jsonl');
        assert.match(
          issue.message,
          /"hash_ids" \(.*\) must be an array of at most \d+ integers from 0 to 2147483647/,
        );
      }
      return true;
    },
  );
});

test('bad rows: one ValidationError with file and every bad line', () => {
  const badJsonl = [
    '{"timestamp": 0, "input_length": 10, "output_length": 5}',
    '{"timestamp": "soon", "input_length": 0, "output_length": 5}',
    'nope',
    '{"timestamp": 5, "input_length": 10, "output_length": 5}',
    '{"timestamp": 3, "input_length": 10, "output_length": 5}',
  ].join('\n');
  assert.throws(
    () => parseTrace(badJsonl, 't.jsonl'),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.deepEqual(
        error.issues.map((i) => i.path),
        ['line 2', 'line 3', 'line 5'],
      );
      assert.match(
        error.message,
        /t\.jsonl: line 2: "timestamp" must be a number of ms ≥ 0; "input_length" must be an integer ≥ 1/,
      );
      assert.match(
        error.message,
        /t\.jsonl: line 5: arrival is earlier than the previous request's \(line 4\)/,
      );
      return true;
    },
  );
  const badCsv = [
    'TIMESTAMP,ContextTokens,GeneratedTokens',
    '2023-11-16 18:15:46.1,10,5',
    'yesterday,10,5',
    '2023-11-16 18:15:47,x,-1',
  ].join('\n');
  assert.throws(
    () => parseTrace(badCsv, 'b.csv'),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.deepEqual(
        error.issues.map((i) => i.path),
        ['line 3', 'line 4'],
      );
      assert.match(error.message, /b\.csv: line 3: TIMESTAMP "yesterday" is not a datetime/);
      assert.match(error.message, /line 4: ContextTokens "x" must be an integer ≥ 1; GeneratedTokens "-1"/);
      return true;
    },
  );
  assert.throws(
    () => parseTrace('time,in,out\n1,2,3', 'h.csv'),
    /h\.csv: line 1: "time,in,out": expected a JSONL trace or a CSV header with TIMESTAMP,ContextTokens,GeneratedTokens/,
  );
  assert.throws(
    () => parseTrace('TIMESTAMP,ContextTokens,GeneratedTokens\n', 'e.csv'),
    /e\.csv: trace has no requests/,
  );
});
