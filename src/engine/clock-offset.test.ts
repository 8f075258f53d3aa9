import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../base/prng.js';
import { estimateClockOffset, type RoundTrip } from './clock-offset.js';

/** A round trip to a shard whose clock is `offsetUs` ahead, with these one-way delays and work. */
function trip(at: number, offsetUs: number, outUs: number, workUs: number, backUs: number): RoundTrip {
  const t1 = at + outUs + offsetUs;
  return { t0_us: at, t1_us: t1, t2_us: t1 + workUs, t3_us: at + outUs + workUs + backUs };
}

test('symmetric legs give the offset exactly, whatever the shard spends answering', () => {
  const got = estimateClockOffset([trip(1_000, 2_500_000, 300, 5_000, 300)]);
  assert.equal(got.offset_us, 2_500_000);
  assert.equal(got.delay_us, 600);
  assert.equal(got.error_bound_us, 300);
});

test('the least-delayed round trip wins, and the truth is within its error bound', () => {
  const prng = new Prng(3, 4);
  const offset = -73_421;
  const trips = Array.from({ length: 20 }, (_, i) =>
    // Queueing on either leg: up to 20 ms out, up to 20 ms back.
    trip(i * 100_000, offset, 100 + prng.nextFloat() * 20_000, 50, 100 + prng.nextFloat() * 20_000),
  );
  trips.push(trip(3_000_000, offset, 120, 50, 180));
  const got = estimateClockOffset(trips);
  assert.equal(got.delay_us, 300);
  assert.equal(got.samples, 21);
  assert.ok(
    Math.abs(got.offset_us - offset) <= got.error_bound_us,
    `${got.offset_us} vs ${offset} ± ${got.error_bound_us}`,
  );
  assert.equal(got.offset_us, offset - 30);
});

test('no round trip, or one that ends before it starts, is refused', () => {
  assert.throws(() => estimateClockOffset([]), /no round trips/);
  assert.throws(
    () => estimateClockOffset([{ t0_us: 10, t1_us: 5, t2_us: 6, t3_us: 9 }]),
    /ends before it starts/,
  );
});
