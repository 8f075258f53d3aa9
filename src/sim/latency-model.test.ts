/**
 * The latency model's numbers: TTFT from a fixed part, prefill per input token and
 * jitter; decode gaps around `itlMs` that grow with the batch; zero delay detected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../base/prng.js';
import { LatencyModel, type LatencyOptions } from './latency-model.js';
import { DEFAULT_SIMULATOR_OPTIONS } from './options.js';

const model = (o: Partial<LatencyOptions>): LatencyModel =>
  new LatencyModel({ ...DEFAULT_SIMULATOR_OPTIONS, ...o });
const FIXED = { ttftJitterMs: 0, itlJitterMs: 0, batchSlowdown: 0 };

test('zero delay only when every delay is 0', () => {
  const zero = { ttftMs: 0, ttftPerInputTokenMs: 0, ttftJitterMs: 0, itlMs: 0 };
  assert.equal(model(zero).zeroDelay, true);
  for (const key of Object.keys(zero)) assert.equal(model({ ...zero, [key]: 1 }).zeroDelay, false, key);
  assert.equal(model(zero).gap(new Prng(1), 10), 0);
});

test('TTFT: fixed part plus prefill per input token; jitter around it, never negative', () => {
  const rng = new Prng(2);
  assert.equal(model({ ...FIXED, ttftMs: 50, ttftPerInputTokenMs: 0.5 }).ttft(rng, 100), 100);
  const jittery = model({ ttftMs: 5, ttftPerInputTokenMs: 0, ttftJitterMs: 20 });
  let sum = 0;
  for (let i = 0; i < 5000; i++) {
    const t = jittery.ttft(rng, 0);
    assert.ok(t >= 0);
    sum += t;
  }
  // Clamped at 0, the mean sits above the fixed part.
  assert.ok(sum / 5000 > 5);
});

test('gap: itlMs with one sequence, times (1 + slowdown × running / capacity) as the batch fills', () => {
  const rng = new Prng(3);
  const m = model({ ...FIXED, itlMs: 10, batchSlowdown: 1, capacity: 8 });
  assert.equal(m.gap(rng, 0), 10);
  assert.equal(m.gap(rng, 4), 15);
  assert.equal(m.gap(rng, 8), 20);
});

test('gap distributions keep the asked mean', () => {
  for (const itlDistribution of ['normal', 'lognormal'] as const) {
    const m = model({ itlMs: 15, itlJitterMs: 3, itlDistribution, batchSlowdown: 0 });
    const rng = new Prng(4);
    let sum = 0;
    for (let i = 0; i < 20000; i++) sum += m.gap(rng, 0);
    assert.ok(Math.abs(sum / 20000 - 15) < 0.2, `${itlDistribution}: ${sum / 20000}`);
  }
});
