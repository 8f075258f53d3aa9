import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkTexts } from './chunk-texts.js';
import { loadTokenizer } from '../workload/tokenizer.js';

test('each event reads back as appended, across growth, with surrogate pairs and empty texts', () => {
  const texts = new ChunkTexts();
  const appended: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const text = i % 7 === 0 ? '' : i % 5 === 0 ? `é${i}😀` : ` tok${i}`;
    texts.append(text);
    appended.push(text);
  }
  assert.equal(texts.count, 3000);
  assert.deepEqual(texts.texts(), appended);
  assert.equal(texts.text(5), appended[5]);
  assert.equal(texts.joined(), appended.join(''));
});

test('append2 joins reasoning and content into one event', () => {
  const texts = new ChunkTexts();
  texts.append2('think ', 'say');
  texts.append2('', 'only');
  texts.append2('r', '');
  assert.equal(texts.count, 3);
  assert.deepEqual(texts.texts(), ['think say', 'only', 'r']);
});

test('a long event (more than one fromCharCode slice) and an empty accumulator', () => {
  const empty = new ChunkTexts();
  assert.equal(empty.count, 0);
  assert.equal(empty.joined(), '');
  assert.deepEqual(empty.texts(), []);
  assert.throws(() => empty.text(0), RangeError);
  const long = 'x'.repeat(20_000) + 'y';
  const texts = new ChunkTexts();
  texts.append(long);
  assert.equal(texts.text(0), long);
});

test('countTokens: a long text is counted in slices, across turns of the event loop, to the same figures', async () => {
  const tok = await loadTokenizer('o200k_base');
  const texts = new ChunkTexts();
  const events: string[] = [];
  for (let i = 0; i < 3000; i++) {
    // Words, long words, CJK and a surrogate pair, in events of every size (runs shorter than
    // the tokenizer's 256-character cut, so slicing must give the exact same count).
    const text = i % 100 === 0 ? ` ${'x'.repeat(200)}` : i % 7 === 0 ? ' 漢字😀' : ` word${i % 13}`;
    texts.append(text);
    events.push(text);
  }
  const counted = new Promise<[number[] | null, number]>((resolve) =>
    texts.countTokens(tok.count, { perEvent: true, whole: true }, (perEvent, whole) =>
      resolve([perEvent, whole]),
    ),
  );
  const turns = await new Promise<number>((resolve) => {
    let n = 0;
    const tick = (): void => {
      n++;
      void Promise.race([counted, Promise.resolve(null)]).then((done) =>
        done === null ? setImmediate(tick) : resolve(n),
      );
    };
    tick();
  });
  const [perEvent, whole] = await counted;
  assert.ok(turns > 2, `counted in ${turns} turns`);
  assert.deepEqual(
    perEvent,
    events.map((text) => tok.count(text)),
  );
  assert.equal(whole, tok.count(events.join('')));
});

test('countTokens: a short text is counted at once', () => {
  const texts = new ChunkTexts();
  texts.append('hello');
  texts.append(' world');
  let result: [number[] | null, number] | null = null;
  texts.countTokens(
    (text) => text.length,
    { perEvent: true, whole: true },
    (perEvent, whole) => {
      result = [perEvent, whole];
    },
  );
  assert.deepEqual(result, [[5, 6], 11]);
});
