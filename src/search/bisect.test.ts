// The search's next load: ramp, bisection, ceilings, and each way it stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bracket, nextStep, probeBound, type ProbeResult, type SearchBounds } from './bisect.js';

const BOUNDS: SearchBounds = { min: 1, max: 1024, precision: 0.05, maxProbes: 30, integer: false };

/** Runs the search against a server whose SLOs hold up to `knee` (and, over it, show `capacity` when given). */
function searchAgainst(
  bounds: SearchBounds,
  knee: number,
  capacity?: number,
): { results: ProbeResult[]; step: ReturnType<typeof nextStep> } {
  const results: ProbeResult[] = [];
  for (let i = 0; i < 100; i++) {
    const step = nextStep(bounds, results);
    if (step.kind === 'done') return { results, step };
    const pass = step.load <= knee;
    const overloaded = capacity !== undefined && !pass && capacity < 0.8 * step.load;
    results.push({ load: step.load, pass, ceiling: overloaded ? capacity * 1.05 : null });
  }
  assert.fail('the search did not stop in 100 probes');
}

test('the ramp doubles from min until a failure, then bisection brackets the knee to the precision', () => {
  const { results, step } = searchAgainst(BOUNDS, 37);
  assert.deepEqual(
    results.slice(0, 7).map((r) => r.load),
    [1, 2, 4, 8, 16, 32, 64],
  );
  assert.equal(step.kind, 'done');
  if (step.kind !== 'done') return;
  assert.equal(step.reason, 'precision');
  assert.ok(step.knee !== null && step.knee <= 37 && step.upper !== null && step.upper > 37);
  assert.ok((step.upper - step.knee) / step.knee <= 0.05);
  assert.ok(results.length <= probeBound(BOUNDS), `${results.length} probes, bound ${probeBound(BOUNDS)}`);
});

test('an overloaded probe caps the bracket at the capacity it showed: fewer probes', () => {
  const plain = searchAgainst(BOUNDS, 40);
  const capped = searchAgainst(BOUNDS, 40, 41);
  assert.ok(
    capped.results.length < plain.results.length,
    `${capped.results.length} vs ${plain.results.length}`,
  );
  assert.equal(capped.step.kind === 'done' && capped.step.knee !== null && capped.step.knee <= 40, true);
});

test('a ceiling at or below a passing load is contradicted by the pass and ignored', () => {
  const results: ProbeResult[] = [
    { load: 32, pass: true, ceiling: null },
    { load: 64, pass: false, ceiling: 30 },
  ];
  assert.deepEqual(bracket(results), { lower: 32, upper: 64 });
  // A pass above a failure is noise against monotonicity: the failure wins.
  assert.deepEqual(bracket([...results, { load: 80, pass: true, ceiling: null }]), { lower: 32, upper: 64 });
});

test('it stops at the ends and when the budget is spent', () => {
  const low = searchAgainst(BOUNDS, 0.5).step;
  assert.deepEqual(low, { kind: 'done', reason: 'min_fails', knee: null, upper: 1 });
  const high = searchAgainst({ ...BOUNDS, max: 100 }, 1e9).step;
  assert.deepEqual(high, { kind: 'done', reason: 'max_passes', knee: 100, upper: null });
  const spent = searchAgainst({ ...BOUNDS, maxProbes: 4 }, 37);
  assert.equal(spent.results.length, 4);
  assert.equal(spent.step.kind === 'done' && spent.step.reason, 'max_probes');
});

test('a rate never rounds to 0 req/s: a min below 0.005 starts at 0.01', () => {
  const step = nextStep({ ...BOUNDS, min: 0.004 }, []);
  assert.equal(step.kind, 'probe');
  if (step.kind === 'probe') assert.equal(step.load, 0.01);
});

test('concurrency loads are whole numbers and stop at a gap of one', () => {
  const bounds = { ...BOUNDS, integer: true, precision: 0.001 };
  const { results, step } = searchAgainst(bounds, 13);
  assert.ok(results.every((r) => Number.isInteger(r.load)));
  assert.deepEqual(step, { kind: 'done', reason: 'precision', knee: 13, upper: 14 });
});
