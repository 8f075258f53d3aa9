import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkTexts } from './chunk-texts.js';

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
