/**
 * Fault draws: the chances laid end to end in FAULTS' order, at most one kind per
 * request, where each stream fault strikes, and the counts /metrics and stats() start from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../base/prng.js';
import { DEFAULT_SIMULATOR_OPTIONS, type SimulatorOptions } from './options.js';
import { drawFault, FAULT_KINDS, FAULTS, noFaults, type FaultKind } from './faults.js';

const options = (rates: Partial<SimulatorOptions>): SimulatorOptions => ({
  ...DEFAULT_SIMULATOR_OPTIONS,
  ...rates,
});

test('every kind is an entry with a rate option, counted from zero', () => {
  assert.deepEqual([...FAULT_KINDS], ['error', 'rate429', 'disconnect', 'stall', 'malformed']);
  assert.deepEqual(noFaults(), { error: 0, rate429: 0, disconnect: 0, stall: 0, malformed: 0 });
  const all = options({
    errorRate: 0.1,
    rate429: 0.2,
    disconnectRate: 0.3,
    stallRate: 0.4,
    malformedRate: 0.5,
  });
  assert.deepEqual(
    FAULT_KINDS.map((kind) => FAULTS[kind].rate(all)),
    [0.1, 0.2, 0.3, 0.4, 0.5],
  );
  assert.equal(FAULTS.error.strikes, 'answer');
  assert.equal(FAULTS.rate429.strikes, 'answer');
  for (const kind of ['disconnect', 'stall', 'malformed'] as const)
    assert.equal(FAULTS[kind].strikes, 'stream');
});

test('no rates, no faults; a rate of 1 always draws that kind', () => {
  const rng = new Prng(1);
  for (let i = 0; i < 1000; i++) assert.equal(drawFault(rng, options({})), null);
  for (const [kind, rates] of [
    ['error', { errorRate: 1 }],
    ['rate429', { rate429: 1 }],
    ['disconnect', { disconnectRate: 1 }],
    ['stall', { stallRate: 1 }],
    ['malformed', { malformedRate: 1 }],
  ] as const) {
    for (let i = 0; i < 50; i++) assert.equal(drawFault(rng, options(rates)), kind);
  }
});

test('mixed rates: each kind drawn at its own rate, seeded', () => {
  const rates = options({
    errorRate: 0.1,
    rate429: 0.05,
    disconnectRate: 0.15,
    stallRate: 0.2,
    malformedRate: 0.1,
  });
  const count = (seed: number): Record<FaultKind | 'none', number> => {
    const counts = { ...noFaults(), none: 0 };
    const rng = new Prng(seed);
    for (let i = 0; i < 20_000; i++) counts[drawFault(rng, rates) ?? 'none']++;
    return counts;
  };
  const counts = count(9);
  assert.deepEqual(count(9), counts, 'the same seed draws the same faults');
  const expected = { error: 0.1, rate429: 0.05, disconnect: 0.15, stall: 0.2, malformed: 0.1, none: 0.4 };
  for (const [kind, share] of Object.entries(expected)) {
    // 20,000 draws: the standard error of a share is below 0.0035.
    assert.ok(
      Math.abs(counts[kind as FaultKind] / 20_000 - share) < 0.02,
      `${kind}: ${counts[kind as FaultKind]}`,
    );
  }
});

test('stream faults strike within the response: a stall between content chunks, others after the first', () => {
  const rng = new Prng(3);
  const stall = FAULTS.stall;
  const cut = FAULTS.disconnect;
  assert.ok(stall.strikes === 'stream' && cut.strikes === 'stream');
  for (let i = 0; i < 500; i++) {
    const s = stall.at(rng, 10);
    assert.ok(s >= 1 && s <= 9, `stall at ${s}`);
    const c = cut.at(rng, 10);
    assert.ok(c >= 1 && c <= 10, `disconnect at ${c}`);
  }
  // Too short for a gap: before the finish.
  assert.equal(stall.at(rng, 1), 1);
  assert.equal(stall.at(rng, 0), 0);
  assert.equal(cut.at(rng, 1), 1);
  // Nothing generated (embeddings): before the body.
  assert.equal(cut.at(rng, 0), 0);
  assert.deepEqual(stall.effect.kind, 'pause');
  assert.equal(stall.effect.kind === 'pause' && stall.effect.ms(options({ stallMs: 1234 })), 1234);
});
