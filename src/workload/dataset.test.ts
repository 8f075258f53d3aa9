// Tests for dataset files as workloads: ShareGPT (JSONL and JSON array), prompt JSONL,
// output lengths from the first gpt reply, seeded order, and error reports.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../base/errors.js';
import { createDatasetSource, parseDataset } from './dataset.js';
import { createItemSource, workloadDigest } from './sampler.js';
import { loadTokenizer } from './tokenizer.js';

async function write(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-ds-'));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

const conv = (human: string, gpt?: string) => ({
  conversations: [
    { from: 'human', value: human },
    ...(gpt === undefined ? [] : [{ from: 'gpt', value: gpt }]),
  ],
});

test('ShareGPT JSONL: prompt = first human turn, max_tokens = tokens of the first gpt reply', async () => {
  const tok = await loadTokenizer();
  const lines = [
    conv('What is the State of the Union?', 'It is an annual address by the President to Congress.'),
    { conversations: [{ from: 'system', value: 'be brief' }, ...conv('Hi there', 'Hello!').conversations] },
    { ...conv('Count to three'), output_tokens: 12 },
  ];
  const file = await write('sg.jsonl', lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const src = await createDatasetSource({
    path: file,
    tokenizer: tok,
    seed: 1,
    iterationKey: 'a',
    task: 'text-to-text',
  });
  assert.equal(src.size, 3);
  assert.equal(src.description.format, 'sharegpt');
  const items = [0, 1, 2].map((i) => src.itemAt(i));
  const byPrompt = new Map(items.map((it) => [it.prompt, it]));
  const first = byPrompt.get('What is the State of the Union?')!;
  assert.equal(first.max_tokens, tok.count('It is an annual address by the President to Congress.'));
  assert.equal(first.input_tokens, tok.count('What is the State of the Union?'));
  assert.equal(byPrompt.get('Hi there')!.max_tokens, tok.count('Hello!'));
  assert.equal(byPrompt.get('Count to three')!.max_tokens, 12);
  // Wraps around after size items, in the same order.
  assert.deepEqual({ ...src.itemAt(4), index: 1 }, src.itemAt(1));
});

test('ShareGPT JSON array form and prompt JSONL form', async () => {
  const tok = await loadTokenizer();
  const arr = await write('sg.json', JSON.stringify([conv('a b c', 'd e'), conv('f', 'g h i j')]));
  const src = await createDatasetSource({
    path: arr,
    tokenizer: tok,
    seed: 1,
    iterationKey: 'a',
    task: 'text-to-text',
  });
  assert.equal(src.size, 2);
  const prompts = await write(
    'p.jsonl',
    '{"prompt": "Tell me a story.", "output_tokens": 64}\n\n{"prompt": "x", "output_tokens": 2}\n',
  );
  const p = await createDatasetSource({
    path: prompts,
    tokenizer: tok,
    seed: 1,
    iterationKey: 'a',
    task: 'text-to-text',
  });
  assert.equal(p.description.format, 'prompt');
  const all = [p.itemAt(0), p.itemAt(1)].sort((x, y) => x.max_tokens - y.max_tokens);
  assert.deepEqual(
    all.map((i) => [i.prompt, i.max_tokens, i.input_tokens]),
    [
      ['x', 2, 1],
      ['Tell me a story.', 64, tok.count('Tell me a story.')],
    ],
  );
});

test('order is a seeded shuffle: same seed same order, digest follows content', async () => {
  const tok = await loadTokenizer();
  const lines = Array.from({ length: 50 }, (_, i) =>
    JSON.stringify({ prompt: `prompt number ${i}`, output_tokens: 5 + i }),
  );
  const file = await write('many.jsonl', lines.join('\n'));
  const opts = { path: file, tokenizer: tok, seed: 1, iterationKey: 'a', task: 'text-to-text' };
  const a = await createDatasetSource(opts);
  const b = await createDatasetSource(opts);
  const c = await createDatasetSource({ ...opts, seed: 2 });
  assert.equal(workloadDigest(a, 50), workloadDigest(b, 50));
  assert.notEqual(workloadDigest(a, 50), workloadDigest(c, 50));
  assert.equal(new Set(Array.from({ length: 50 }, (_, i) => a.itemAt(i).prompt)).size, 50, 'a permutation');
  assert.equal(workloadDigest(a, 1000), workloadDigest(a, 50), 'digest stops at size');
  const viaScenario = await createItemSource({ scenario: { kind: 'dataset' }, datasetPath: file, ...opts });
  assert.deepEqual(viaScenario.itemAt(7), a.itemAt(7));
});

test('bad records: one ValidationError listing every bad line with file, line and what is wrong', async () => {
  const text = [
    JSON.stringify(conv('ok', 'fine')),
    '{broken',
    JSON.stringify({ conversations: [{ from: 'gpt', value: 'no human' }] }),
    JSON.stringify(conv('no reply')),
    JSON.stringify({ prompt: 'no output length' }),
    JSON.stringify({ prompt: 'neg', output_tokens: -3 }),
    JSON.stringify([1, 2]),
    JSON.stringify({ text: 'unknown shape' }),
  ].join('\n');
  const file = await write('bad.jsonl', text);
  await assert.rejects(
    createDatasetSource({
      path: file,
      tokenizer: await loadTokenizer(),
      seed: 1,
      iterationKey: 'a',
      task: 't',
    }),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.deepEqual(
        error.issues.map((i) => i.path),
        ['line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8'],
      );
      for (const issue of error.issues) assert.equal(issue.file, file);
      assert.match(error.message, /bad\.jsonl: line 2: not valid JSON/);
      assert.match(error.message, /line 3: no human turn/);
      assert.match(error.message, /line 4: no gpt reply/);
      assert.match(error.message, /line 5: "output_tokens" is required/);
      assert.match(error.message, /line 6: "output_tokens" must be an integer ≥ 1, got -3/);
      return true;
    },
  );
  assert.throws(
    () => parseDataset('[{"prompt": 3}]', 'x.json'),
    /x\.json: \[0\]: "prompt" must be a non-empty string/,
  );
  assert.throws(() => parseDataset('\n\n', 'empty.jsonl'), /empty\.jsonl: dataset has no records/);
  await assert.rejects(
    createDatasetSource({
      path: '/nonexistent/d.jsonl',
      tokenizer: await loadTokenizer(),
      seed: 1,
      iterationKey: 'a',
      task: 't',
    }),
    /\/nonexistent\/d\.jsonl: cannot read .*expected a dataset/,
  );
});
