import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  owns,
  segmentProblems,
  segmentSchedule,
  shareOf,
  shareOfRange,
  WHOLE,
  type Segment,
} from './segments.js';

const shards = (of: number): Segment[] => Array.from({ length: of }, (_, index) => ({ index, of }));

test('the shares of all shards sum to the whole, for every total and shard count', () => {
  for (let of = 1; of <= 7; of++) {
    for (let total = 0; total <= 40; total++) {
      const shares = shards(of).map((s) => shareOf(s, total));
      assert.equal(
        shares.reduce((a, b) => a + b, 0),
        total,
        `${total} over ${of}`,
      );
      // As even as it can be: no two shards differ by more than one.
      assert.ok(Math.max(...shares) - Math.min(...shares) <= (total === 0 ? 0 : 1));
      for (let from = 0; from <= 5; from++) {
        const ranged = shards(of).map((s) => shareOfRange(s, from, total));
        assert.equal(
          ranged.reduce((a, b) => a + b, 0),
          total,
        );
      }
    }
  }
  assert.deepEqual(
    shards(3).map((s) => shareOf(s, 4)),
    [2, 1, 1],
  );
  assert.deepEqual(
    shards(3).map((s) => shareOf(s, 1)),
    [1, 0, 0],
  );
  assert.equal(shareOf(WHOLE, 17), 17);
  assert.equal(shareOf({ index: 1, of: 2 }, Infinity), Infinity);
});

test('each index belongs to exactly one shard, and a share counts exactly the indexes owned', () => {
  for (const of of [1, 2, 3, 5]) {
    for (let j = 0; j < 50; j++) assert.equal(shards(of).filter((s) => owns(s, j)).length, 1);
    for (const s of shards(of)) {
      let owned = 0;
      for (let j = 3; j < 3 + 20; j++) if (owns(s, j)) owned++;
      assert.equal(shareOfRange(s, 3, 20), owned);
    }
  }
});

test('the shards of a schedule are its arrivals dealt round-robin: their union is the schedule', () => {
  const schedule = (): (() => number | null) => {
    let j = 0;
    // An irregular, finite schedule: the trace's end (null) must reach every shard.
    return () => (j < 23 ? 1_000 * j + ((j++ * 7919) % 997) : null);
  };
  const whole: number[] = [];
  for (let next = schedule(), o = next(); o !== null; o = next()) whole.push(o);
  const parts = shards(3).map((s) => {
    const next = segmentSchedule(s, schedule());
    const mine: number[] = [];
    for (let o = next(); o !== null; o = next()) mine.push(o);
    return mine;
  });
  assert.deepEqual(
    parts.map((p) => p.length),
    [8, 8, 7],
  );
  assert.deepEqual(
    parts.flat().sort((a, b) => a - b),
    [...whole].sort((a, b) => a - b),
  );
  assert.deepEqual(
    parts[1],
    whole.filter((_, j) => j % 3 === 1),
  );
});

test('a segment out of range is refused with what was expected', () => {
  assert.deepEqual(segmentProblems({ index: 0, of: 1 }), []);
  assert.match(segmentProblems({ index: 3, of: 3 })[0] ?? '', /from 0 to 2, got 3/);
  assert.match(segmentProblems({ index: 0, of: 0 })[0] ?? '', /≥ 1, got 0/);
  assert.match(segmentProblems({ index: 0.5, of: 2 })[0] ?? '', /got 0.5/);
});
