// Tests for item sources: determinism, order independence, length sampling bounds, E/R/I items,
// the workload digest, and the per-item cost in the load loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Scenario } from '../spec/scenario-types.js';
import { Prng } from '../base/prng.js';
import { parseScenario } from '../spec/scenario.js';
import { createItemSource, sampleTextLengths, workloadDigest, WORKLOAD_ALGORITHM } from './sampler.js';
import { loadTokenizer } from './tokenizer.js';
import type { ItemSource } from './work-item.js';

const D = (input: number, output: number): Scenario => ({ kind: 'D', input, output });

async function source(scenario: Scenario, seed = 7, iterationKey = 'it-0', extra = {}): Promise<ItemSource> {
  return createItemSource({
    scenario,
    tokenizer: await loadTokenizer(),
    seed,
    iterationKey,
    task: 'text-to-text',
    ...extra,
  });
}

test('same seed → byte-identical prompts and equal digest; different seed or iteration → different', async () => {
  const a = await source(D(100, 100), 1);
  const b = await source(D(100, 100), 1);
  const c = await source(D(100, 100), 2);
  const d = await source(D(100, 100), 1, 'it-1');
  for (let i = 0; i < 50; i++) assert.deepEqual(a.itemAt(i), b.itemAt(i));
  assert.equal(workloadDigest(a, 50), workloadDigest(b, 50));
  assert.notEqual(workloadDigest(a, 50), workloadDigest(c, 50));
  assert.notEqual(workloadDigest(a, 50), workloadDigest(d, 50));
  assert.notEqual(a.itemAt(0).prompt, c.itemAt(0).prompt);
  assert.match(workloadDigest(a, 50), /^sha256:[0-9a-f]{64}$/);
});

test('D items: exact input tokens, max_tokens = output, distinct prompts across requests', async () => {
  const tok = await loadTokenizer();
  const src = await source(D(100, 37));
  assert.equal(src.size, Infinity);
  const prompts = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const item = src.itemAt(i);
    assert.equal(item.index, i);
    assert.equal(item.input_tokens, 100);
    assert.equal(item.max_tokens, 37);
    if (i < 200) assert.equal(tok.count(item.prompt), 100);
    prompts.add(item.prompt);
  }
  assert.equal(prompts.size, 2000, 'no two requests share a prompt (no server prefix-cache hits)');
});

test('itemAt is independent of call order', async () => {
  const forward = await source(D(64, 8), 3);
  const backward = await source(D(64, 8), 3);
  const shuffled = await source(
    { kind: 'N', inputMean: 300, inputStd: 100, outputMean: 50, outputStd: 20 },
    3,
  );
  const shuffledRef = await source(
    { kind: 'N', inputMean: 300, inputStd: 100, outputMean: 50, outputStd: 20 },
    3,
  );
  const a = Array.from({ length: 100 }, (_, i) => forward.itemAt(i));
  const b = Array.from({ length: 100 }, (_, i) => backward.itemAt(99 - i)).reverse();
  assert.deepEqual(a, b);
  const rng = new Prng(9);
  const order = Array.from({ length: 100 }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.intInclusive(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const got = new Map(order.map((i) => [i, shuffled.itemAt(i)]));
  for (let i = 0; i < 100; i++) assert.deepEqual(got.get(i), shuffledRef.itemAt(i));
  // Asking twice returns the same item.
  assert.deepEqual(shuffled.itemAt(42), shuffledRef.itemAt(42));
});

test('N lengths are clamped to input ≥ 1 and output ≥ 2, integers, and follow the mean', () => {
  const scenario: Scenario = { kind: 'N', inputMean: 5, inputStd: 50, outputMean: 3, outputStd: 50 };
  const rng = new Prng(11);
  let clampedIn = 0;
  let clampedOut = 0;
  for (let i = 0; i < 5000; i++) {
    const { inputTokens, outputTokens } = sampleTextLengths(scenario, rng);
    assert.ok(Number.isInteger(inputTokens) && inputTokens >= 1);
    assert.ok(Number.isInteger(outputTokens) && outputTokens >= 2);
    if (inputTokens === 1) clampedIn++;
    if (outputTokens === 2) clampedOut++;
  }
  assert.ok(clampedIn > 1000 && clampedOut > 1000, 'about half the draws are clamped');
  const wide: Scenario = { kind: 'N', inputMean: 480, inputStd: 240, outputMean: 300, outputStd: 150 };
  let sum = 0;
  for (let i = 0; i < 20000; i++) sum += sampleTextLengths(wide, rng).inputTokens;
  assert.ok(Math.abs(sum / 20000 - 480) < 10, `mean ${sum / 20000}`);
});

test('U lengths are uniform integers with both bounds inclusive', () => {
  const scenario: Scenario = {
    kind: 'U',
    minInput: 3,
    maxInput: 5,
    minOutput: 7,
    maxOutput: 9,
    oneGroup: false,
  };
  const rng = new Prng(5);
  const seenIn = new Map<number, number>();
  const seenOut = new Map<number, number>();
  for (let i = 0; i < 3000; i++) {
    const { inputTokens, outputTokens } = sampleTextLengths(scenario, rng);
    seenIn.set(inputTokens, (seenIn.get(inputTokens) ?? 0) + 1);
    seenOut.set(outputTokens, (seenOut.get(outputTokens) ?? 0) + 1);
  }
  assert.deepEqual([...seenIn.keys()].sort(), [3, 4, 5]);
  assert.deepEqual([...seenOut.keys()].sort(), [7, 8, 9]);
  for (const n of [...seenIn.values(), ...seenOut.values()]) assert.ok(n > 850 && n < 1150);
});

test('one-group U(maxIn,maxOut) samples inputs from 1 and outputs truncated to ≥ 2', () => {
  const parsed = parseScenario('U(10,10)');
  assert.ok(parsed.ok);
  const rng = new Prng(11);
  const outputs = new Set<number>();
  let minInput = Infinity;
  for (let i = 0; i < 2000; i++) {
    const { inputTokens, outputTokens } = sampleTextLengths(parsed.scenario, rng);
    minInput = Math.min(minInput, inputTokens);
    outputs.add(outputTokens);
  }
  assert.equal(minInput, 1);
  assert.deepEqual(
    [...outputs].sort((a, b) => a - b),
    [2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
});

test('U and N item sources give exact prompts of the sampled length', async () => {
  const tok = await loadTokenizer();
  const src = await source({
    kind: 'U',
    minInput: 1,
    maxInput: 3000,
    minOutput: 2,
    maxOutput: 10,
    oneGroup: false,
  });
  for (let i = 0; i < 40; i++) {
    const item = src.itemAt(i);
    assert.equal(tok.count(item.prompt), item.input_tokens);
    assert.ok(item.max_tokens >= 2 && item.max_tokens <= 10);
  }
});

test('E items carry batchSize documents of tokensPerDocument tokens', async () => {
  const tok = await loadTokenizer();
  const src = await createItemSource({
    scenario: { kind: 'E', tokensPerDocument: 256 },
    tokenizer: tok,
    seed: 1,
    iterationKey: 'e',
    task: 'text-to-embeddings',
    batchSize: 4,
  });
  const item = src.itemAt(3);
  assert.equal(item.documents?.length, 4);
  for (const doc of item.documents!) assert.equal(tok.count(doc), 256);
  assert.equal(new Set(item.documents).size, 4);
  assert.equal(item.prompt, item.documents![0]);
  assert.equal(item.input_tokens, 1024);
  assert.equal(item.max_tokens, 0);
  assert.deepEqual((src.description.options as Record<string, unknown>).batchSize, 4);
});

test('R items carry a query of tokensPerQuery and documents of tokensPerDocument', async () => {
  const tok = await loadTokenizer();
  const src = await createItemSource({
    scenario: { kind: 'R', tokensPerDocument: 120, tokensPerQuery: 20 },
    tokenizer: tok,
    seed: 1,
    iterationKey: 'r',
    task: 'text-to-rerank',
    batchSize: 3,
  });
  const item = src.itemAt(0);
  assert.equal(tok.count(item.query!), 20);
  assert.equal(item.prompt, item.query);
  assert.equal(item.documents?.length, 3);
  for (const doc of item.documents!) assert.equal(tok.count(doc), 120);
  assert.equal(item.input_tokens, 20 + 3 * 120);
});

test('I items carry n seeded PNG data URLs and an exact text prompt', async () => {
  const tok = await loadTokenizer();
  const src = await createItemSource({
    scenario: { kind: 'I', width: 64, height: 48, count: 2 },
    tokenizer: tok,
    seed: 1,
    iterationKey: 'i',
    task: 'image-text-to-text',
  });
  const item = src.itemAt(5);
  assert.equal(item.images?.length, 2);
  assert.notEqual(item.images![0], item.images![1]);
  for (const url of item.images!) assert.match(url, /^data:image\/png;base64,/);
  assert.equal(tok.count(item.prompt), item.input_tokens);
  assert.equal(item.max_tokens, 256);
  assert.deepEqual(src.itemAt(5), item);
});

test('description is canonical plain data naming everything that shapes the items', async () => {
  const src = await source(D(100, 100), 9, 'k');
  const d = src.description;
  assert.equal(d.algorithm, WORKLOAD_ALGORITHM);
  assert.deepEqual(d.scenario, { kind: 'D', input: 100, output: 100 });
  assert.equal(d.seed, 9);
  assert.equal(d.iterationKey, 'k');
  assert.equal(d.tokenizer, 'o200k_base');
  assert.equal(d.task, 'text-to-text');
  assert.match((d.corpus as { digest: string }).digest, /^sha256:/);
  assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
  assert.deepEqual((await source(D(100, 100), 9, 'k')).description, d);
});

test('the dataset scenario without a dataset file is an actionable error', async () => {
  await assert.rejects(source({ kind: 'dataset' }), /needs a dataset file/);
});

test('per-item cost in the load loop (reported, loosely bounded)', async () => {
  for (const [input, output] of [
    [100, 100],
    [2000, 200],
    [7800, 200],
  ] as const) {
    const src = await source(D(input, output), 1, `bench-${input}`);
    src.itemAt(0);
    const n = 20000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) src.itemAt(i);
    const us = ((performance.now() - t0) * 1000) / n;
    console.log(`# itemAt D(${input},${output}): ${us.toFixed(2)} µs/item`);
    assert.ok(us < 200, `itemAt took ${us} µs`);
  }
});

test('sharedPrefix: every prompt opens with its group prefix of exactly `tokens` tokens, then its own input', async () => {
  const tok = await loadTokenizer();
  const prefix = { tokens: 256, groups: 3 };
  const src = await source(D(100, 20), 7, 'it-0', { sharedPrefix: prefix });
  const items = Array.from({ length: 12 }, (_, i) => src.itemAt(i));
  const prefixText = (i: number) => tok.decode(tok.encode(items[i]!.prompt).slice(0, prefix.tokens));
  for (const [i, item] of items.entries()) {
    assert.equal(item.prefix_group, i % 3);
    assert.equal(
      item.input_tokens,
      356,
      'the prefix is added to the scenario input (vLLM --random-prefix-len)',
    );
    assert.equal(tok.count(item.prompt), 356);
    assert.ok(
      item.prompt.startsWith(prefixText(i % 3)),
      `item ${i} opens with its group's prefix, byte for byte`,
    );
    assert.equal(item.max_tokens, 20);
  }
  // Distinct groups share no block: their first 16 tokens already differ.
  const firstBlocks = [0, 1, 2].map((g) => tok.encode(items[g]!.prompt).slice(0, 16).join(','));
  assert.equal(new Set(firstBlocks).size, 3);
  // The own parts differ (and differ from the prefixes) right after the prefix.
  const own = items.map((item) =>
    tok
      .encode(item.prompt)
      .slice(prefix.tokens, prefix.tokens + 16)
      .join(','),
  );
  assert.equal(new Set(own).size, items.length);
  for (const block of own) assert.ok(!firstBlocks.includes(block));
  // Deterministic in any order, and the prefix settings are part of the description and digest.
  const again = await source(D(100, 20), 7, 'it-0', { sharedPrefix: prefix });
  for (const i of [11, 3, 0, 7]) assert.deepEqual(again.itemAt(i), items[i]);
  assert.deepEqual((src.description.options as Record<string, unknown>).sharedPrefix, prefix);
  const plain = await source(D(100, 20), 7, 'it-0');
  assert.equal(plain.itemAt(0).prefix_group, undefined);
  assert.equal('sharedPrefix' in (plain.description.options as object), false);
  assert.notEqual(workloadDigest(src, 8), workloadDigest(plain, 8));
  const fourGroups = await source(D(100, 20), 7, 'it-0', { sharedPrefix: { tokens: 256, groups: 4 } });
  assert.notEqual(workloadDigest(src, 8), workloadDigest(fourGroups, 8));
});

function scenario(text: string): Scenario {
  const parsed = parseScenario(text);
  assert.ok(parsed.ok, text);
  return parsed.scenario;
}

test('sharedPrefix on N and I items; refused for embeddings and rerank, and past the corpus', async () => {
  const tok = await loadTokenizer();
  const n = await source(scenario('N(50,10)/(20,5)'), 3, 'it-0', { sharedPrefix: { tokens: 17, groups: 1 } });
  for (let i = 0; i < 20; i++) {
    const item = n.itemAt(i);
    assert.equal(item.prefix_group, 0);
    assert.equal(tok.count(item.prompt), item.input_tokens);
    assert.ok(item.input_tokens >= 18);
  }
  const image = await source(scenario('I(64,64)'), 3, 'it-0', { sharedPrefix: { tokens: 40, groups: 2 } });
  assert.equal(image.itemAt(1).prefix_group, 1);
  assert.equal(tok.count(image.itemAt(1).prompt), image.itemAt(1).input_tokens);
  await assert.rejects(source(scenario('E(64)'), 3, 'it-0', { sharedPrefix: { tokens: 8, groups: 1 } }), {
    code: 'E_WORKLOAD_OPTION',
    exitCode: 2,
  });
  await assert.rejects(source(D(10, 10), 3, 'it-0', { sharedPrefix: { tokens: 8, groups: 10_000_000 } }), {
    message: /sharedPrefix\.groups is 10000000; the corpus gives at most \d+ distinct prefixes/,
  });
});

test('sharedPrefix on a prompt dataset: the group prefix before each prompt, counted whole', async () => {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const tok = await loadTokenizer();
  const dir = await mkdtemp(join(tmpdir(), 'infermark-prefix-dataset-'));
  const file = join(dir, 'prompts.jsonl');
  await writeFile(
    file,
    ['Hello there.', 'What is a prefix cache?', 'Tell me more.']
      .map((prompt) => JSON.stringify({ prompt, output_tokens: 4 }))
      .join('\n'),
  );
  const plain = await source({ kind: 'dataset' }, 7, 'it-0', { datasetPath: file });
  const src = await source({ kind: 'dataset' }, 7, 'it-0', {
    datasetPath: file,
    sharedPrefix: { tokens: 100, groups: 2 },
  });
  assert.deepEqual(src.description.sharedPrefix, { tokens: 100, groups: 2 });
  for (let i = 0; i < 6; i++) {
    const item = src.itemAt(i);
    assert.equal(item.prefix_group, i % 2);
    assert.ok(item.prompt.endsWith(plain.itemAt(i).prompt));
    assert.equal(item.input_tokens, tok.count(item.prompt));
    assert.equal(item.prompt.slice(0, 300), src.itemAt(i % 2).prompt.slice(0, 300));
  }
  assert.notEqual(workloadDigest(src, 3), workloadDigest(plain, 3));
});
