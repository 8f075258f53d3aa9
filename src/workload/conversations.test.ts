// Conversations as a workload: synthetic ones are a pure function of (seed, spec, c); a
// ShareGPT dataset gives every turn; request indexes are the prefix sums of the turns.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conversationsDigest, createConversationSource, isConversationSource } from './conversations.js';
import { parseDataset } from './dataset.js';
import { createItemSource } from './sampler.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';

let tmp: string;
let tokenizer: Tokenizer;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'infermark-conversations-'));
  tokenizer = await loadTokenizer('o200k_base');
});
after(() => rm(tmp, { recursive: true, force: true }));

const SERVER = { thinkTimeSeconds: 0, assistantTurns: 'server' } as const;

async function synthetic(seed: number, turns = 3) {
  const items = await createItemSource({
    scenario: { kind: 'U', minInput: 10, maxInput: 40, minOutput: 2, maxOutput: 9, oneGroup: false },
    tokenizer,
    seed,
    iterationKey: '0:U',
    task: 'text-to-text',
  });
  return createConversationSource(items, { ...SERVER, turns }, tokenizer);
}

test('a synthetic conversation is a pure function of (seed, spec, c): every turn its own lengths and text', async () => {
  const a = await synthetic(7);
  const b = await synthetic(7);
  assert.ok(isConversationSource(a));
  // Any order, any instance: the same conversation.
  assert.deepEqual(b.conversationAt(5), a.conversationAt(5));
  assert.deepEqual(
    [3, 1, 2].map((c) => b.conversationAt(c)),
    [3, 1, 2].map((c) => a.conversationAt(c)),
  );
  const c5 = a.conversationAt(5);
  assert.equal(c5.turns.length, 3);
  for (const turn of c5.turns) {
    assert.equal(tokenizer.count(turn.prompt), turn.input_tokens, 'exact lengths from the scenario');
    assert.ok(turn.input_tokens >= 10 && turn.input_tokens <= 40);
    assert.ok(turn.max_tokens >= 2 && turn.max_tokens <= 9);
  }
  assert.equal(new Set(c5.turns.map((t) => t.prompt)).size, 3, 'each turn its own text');
  assert.deepEqual(
    [0, 1, 5].map((c) => a.firstRequestIndex(c)),
    [0, 3, 15],
  );
  const other = await synthetic(8);
  assert.notEqual(
    conversationsDigest([other.conversationAt(0)]),
    conversationsDigest([a.conversationAt(0)]),
    'another seed, other conversations',
  );
  assert.notDeepEqual(other.description, a.description);
});

test('a synthetic scenario needs turns; a workload without conversations is refused with its field', async () => {
  const items = await createItemSource({
    scenario: { kind: 'D', input: 10, output: 4 },
    tokenizer,
    seed: 1,
    iterationKey: '0:D',
    task: 'text-to-text',
  });
  assert.throws(() => createConversationSource(items, SERVER, tokenizer), /spec\.multiTurn\.turns: required/);
  const embeddings = await createItemSource({
    scenario: { kind: 'E', tokensPerDocument: 8 },
    tokenizer,
    seed: 1,
    iterationKey: '0:E',
    task: 'text-to-embeddings',
  });
  assert.throws(
    () => createConversationSource(embeddings, { ...SERVER, turns: 2 }, tokenizer),
    /spec\.multiTurn: a E scenario has no conversations/,
  );
});

test('ShareGPT: every turn, the human messages as user turns and the gpt replies kept', async () => {
  const records = [
    {
      conversations: [
        { from: 'system', value: 'be brief' },
        { from: 'human', value: 'one' },
        { from: 'gpt', value: 'reply one' },
        { from: 'human', value: 'two' },
        { from: 'human', value: 'two, again' },
        { from: 'gpt', value: 'reply two' },
        { from: 'human', value: 'three, unanswered' },
      ],
    },
    {
      conversations: [
        { from: 'human', value: 'alone' },
        { from: 'gpt', value: 'alone reply' },
      ],
    },
    { prompt: 'a prompt record', output_tokens: 5 },
  ];
  const { entries } = parseDataset(records.map((r) => JSON.stringify(r)).join('\n'), 'chats.jsonl');
  assert.deepEqual(entries[0]?.turns, [
    { prompt: 'one', reply: 'reply one' },
    { prompt: 'two\n\ntwo, again', reply: 'reply two' },
    { prompt: 'three, unanswered' },
  ]);
  // The single-request view is what it was: the first human turn, its reply.
  assert.equal(entries[0]?.prompt, 'one');
  assert.equal(entries[0]?.reply, 'reply one');

  const path = join(tmp, 'chats.jsonl');
  await writeFile(path, records.map((r) => JSON.stringify(r)).join('\n'));
  const items = await createItemSource({
    scenario: { kind: 'dataset' },
    tokenizer,
    seed: 3,
    iterationKey: '0:dataset',
    task: 'text-to-text',
    datasetPath: path,
  });
  const source = createConversationSource(items, SERVER, tokenizer);
  assert.equal(source.size, 3);
  const byFirst = new Map(
    [0, 1, 2].map((c) => [source.conversationAt(c).turns[0]?.prompt, source.conversationAt(c)] as const),
  );
  // A turn without a reply (the last, unanswered) has no output length: not sent.
  assert.deepEqual(
    byFirst.get('one')?.turns.map((t) => [t.prompt, t.reply, t.max_tokens]),
    [
      ['one', 'reply one', tokenizer.count('reply one')],
      ['two\n\ntwo, again', 'reply two', tokenizer.count('reply two')],
    ],
  );
  assert.equal(byFirst.get('alone')?.turns.length, 1);
  assert.deepEqual(
    byFirst.get('a prompt record')?.turns.map((t) => t.max_tokens),
    [5],
  );
  // Request indexes: prefix sums of the turns, in the source's order, wrapping after a pass.
  const turns = [0, 1, 2].map((c) => source.conversationAt(c).turns.length);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((c) => source.firstRequestIndex(c)),
    [0, turns[0], turns[0]! + turns[1]!, 4, 4 + turns[0]!],
  );
  // turns caps a conversation.
  const capped = createConversationSource(items, { ...SERVER, turns: 1 }, tokenizer);
  assert.deepEqual(
    [0, 1, 2].map((c) => capped.conversationAt(c).turns.length),
    [1, 1, 1],
  );
  assert.equal(capped.firstRequestIndex(2), 2);
});
