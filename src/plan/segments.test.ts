import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Dealing,
  dealingFor,
  owns,
  plannedShare,
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

test('closed loop deals by slot: every index to exactly one shard, in proportion to its slots, none to a shard with no slot', () => {
  for (let of = 1; of <= 5; of++) {
    for (let concurrency = 1; concurrency <= 9; concurrency++) {
      const dealings = shards(of).map((s) => dealingFor(s, { mode: 'concurrency', concurrency }));
      for (const [warmup, count] of [
        [0, 13],
        [2, 30],
        [3, 1],
      ] as const) {
        // Each shard claims its own indexes in order until its share of the range is spent.
        const sent = dealings.flatMap((d) => {
          const share = d.inRange(0, warmup + count);
          return Array.from({ length: share }, (_, k) => d.at(k));
        });
        assert.deepEqual(
          sent.sort((a, b) => a - b),
          Array.from({ length: warmup + count }, (_, j) => j),
          `c=${concurrency} over ${of} shards, ${warmup}+${count}`,
        );
        assert.equal(
          dealings.reduce((n, d) => n + d.inRange(warmup, count), 0),
          count,
        );
      }
      // A shard's part of every c requests is its number of slots.
      for (const [i, d] of dealings.entries())
        assert.equal(d.below(concurrency), shareOf(shards(of)[i]!, concurrency));
    }
  }
  // c=2 over 3 shards: shard 2 has no slot and owns nothing (it used to own every third request, never sent).
  const none = dealingFor({ index: 2, of: 3 }, { mode: 'concurrency', concurrency: 2 });
  assert.equal(none.at(0), Infinity);
  assert.equal(none.inRange(0, 100), 0);
  // c=4 over 3: shard 0 holds slots 0 and 3, so indexes 0, 3, 4, 7, 8, ...
  const two = dealingFor({ index: 0, of: 3 }, { mode: 'concurrency', concurrency: 4 });
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((k) => two.at(k)),
    [0, 3, 4, 7, 8],
  );
});

test('open loop and trace replay deal one by one: j to shard j mod of', () => {
  for (const mode of ['rate', 'trace']) {
    const d = dealingFor({ index: 1, of: 3 }, { mode, concurrency: 8 });
    assert.deepEqual(
      [0, 1, 2].map((k) => d.at(k)),
      [1, 4, 7],
    );
    for (let j = 0; j < 40; j++) assert.equal(d.inRange(j, 1), owns({ index: 1, of: 3 }, j) ? 1 : 0);
  }
  assert.equal(new Dealing(WHOLE, 1).inRange(5, Infinity), Infinity);
});

test("the planned shares sum to one client's planned count: max_requests past the warmup, capped by the source's size", () => {
  const plans = [
    { mode: 'rate', max_requests: 100, warmup: { requests: 2 } },
    { mode: 'trace', max_requests: 100, warmup: { requests: 0 } },
    { mode: 'concurrency', concurrency: 4, max_requests: 30, warmup: { requests: 3 } },
    { mode: 'concurrency', concurrency: 2, max_requests: 9, warmup: { requests: 1 } },
  ];
  for (const plan of plans) {
    for (const size of [7, 50, Infinity]) {
      for (const of of [1, 2, 3, 5]) {
        const shares = Array.from({ length: of }, (_, index) => plannedShare({ index, of }, plan, size));
        const sum = shares.reduce((a, b) => a + b, 0);
        assert.equal(sum, Math.min(plan.max_requests, size), `${JSON.stringify(plan)} size ${size} of ${of}`);
      }
    }
  }
  // A short trace dealt one by one: arrivals 0, 3, 6 to shard 0; 1, 4 to shard 1; 2, 5 to shard 2.
  const trace = { mode: 'trace', max_requests: 100, warmup: { requests: 0 } };
  assert.deepEqual(
    [0, 1, 2].map((index) => plannedShare({ index, of: 3 }, trace, 7)),
    [3, 2, 2],
  );
});
