// Tests for the seeded generator and the offset permutation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Permutation, Prng, keyFromString } from './prng.js';

test('same seed, same stream; forItem streams are independent of each other', () => {
  const a = new Prng(1, 2, 3, 4);
  const b = new Prng(1, 2, 3, 4);
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  assert.deepEqual(
    xs,
    Array.from({ length: 100 }, () => b.nextU32()),
  );
  assert.notDeepEqual(
    xs.slice(0, 4),
    Array.from(
      { length: 4 },
      (
        (c) => () =>
          c.nextU32()
      )(new Prng(1, 2, 3, 5)),
    ),
  );
  const key = keyFromString('k');
  assert.equal(Prng.forItem(key, 7).nextU32(), Prng.forItem(key, 7).nextU32());
  assert.notEqual(Prng.forItem(key, 7).nextU32(), Prng.forItem(key, 8).nextU32());
});

test('nextFloat is in [0, 1); intInclusive covers both bounds; normal has mean 0 and sd 1', () => {
  const rng = new Prng(99);
  let sum = 0;
  let sq = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const f = rng.nextFloat();
    assert.ok(f >= 0 && f < 1);
    const z = rng.nextNormal();
    sum += z;
    sq += z * z;
  }
  assert.ok(Math.abs(sum / n) < 0.05);
  assert.ok(Math.abs(sq / n - 1) < 0.05);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) seen.add(rng.intInclusive(-2, 2));
  assert.deepEqual(
    [...seen].sort((x, y) => x - y),
    [-2, -1, 0, 1, 2],
  );
  assert.equal(rng.intInclusive(5, 5), 5);
  assert.throws(() => rng.intInclusive(3, 2), RangeError);
});

test('Permutation is a bijection on [0, n) and seeded', () => {
  for (const n of [1, 2, 3, 10, 97, 1000, 45163]) {
    const p = new Permutation(n, keyFromString(`p${n}`));
    const seen = new Uint8Array(n);
    for (let i = 0; i < n; i++) seen[p.at(i)]!++;
    assert.ok(
      seen.every((c) => c === 1),
      `n=${n}`,
    );
    assert.equal(p.at(n + 3), p.at(3));
  }
  const a = new Permutation(1000, keyFromString('a'));
  const b = new Permutation(1000, keyFromString('b'));
  assert.notDeepEqual(
    Array.from({ length: 10 }, (_, i) => a.at(i)),
    Array.from({ length: 10 }, (_, i) => b.at(i)),
  );
});
