import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { InfermarkError } from '../base/errors.js';
import { percentileOfSorted } from '../metrics/percentiles.js';
import { parseSlo } from '../spec/slo.js';
import { poolIterations, type IterationPoint } from './points.js';
import { proposeSlos, type ProposeOptions } from './propose.js';
import { sloFileYaml } from './slo-file.js';

/** 1..n ms scaled, so the percentiles are known exactly. */
function iteration(
  iterationIndex: number,
  load: number,
  errored: number,
  scale: number,
  n = 400,
): IterationPoint {
  const values = Array.from({ length: n }, (_, i) => (i + 1) * scale);
  return {
    iteration: iterationIndex,
    scenario: 'D(100,100)',
    load_kind: 'concurrency',
    load,
    completed: n,
    errored,
    samples: {
      ttft_ms: values,
      tpot_ms: values.map((v) => v / 10),
      e2e_latency_ms: values.map((v) => v * 5),
    },
  };
}

const options: ProposeOptions = { percentile: 99, margin: 0.2, metrics: ['ttft', 'e2e'], level: 0.95 };

test('by default the highest load with no errors, and says so; repeats pool their requests', () => {
  const points = poolIterations([
    iteration(0, 1, 0, 1),
    iteration(1, 8, 0, 2),
    iteration(2, 8, 0, 2),
    iteration(3, 16, 3, 4),
  ]);
  const proposal = proposeSlos(points, options);
  assert.equal(proposal.load, 8);
  assert.deepEqual(proposal.iterations, [1, 2]);
  assert.match(
    proposal.load_reason,
    /concurrency 8, the highest load with an error rate of 0 \(of 1, 8, 16\)/,
  );
  const ttft = proposal.slos[0];
  assert.ok(ttft);
  assert.equal(ttft.samples, 800);
  const sorted = Float64Array.from(points[1]?.samples.ttft_ms ?? []).sort();
  assert.equal(ttft.estimate_ms, percentileOfSorted(sorted, 99));
  assert.equal(ttft.threshold_ms, Math.ceil(ttft.estimate_ms * 1.2));
  assert.equal(ttft.slo, `p99_ttft_ms<=${ttft.threshold_ms}`);
  assert.ok(parseSlo(ttft.slo).ok);
  assert.ok((ttft.ci.lower as number) <= ttft.estimate_ms && ttft.estimate_ms <= (ttft.ci.upper as number));
  assert.equal(ttft.threshold_above_upper, true);
  assert.equal(ttft.note, null);
});

test('--load picks a point, even one with errors; too few samples for an upper bound is said', () => {
  const points = poolIterations([iteration(0, 1, 0, 1, 100), iteration(1, 16, 3, 4, 100)]);
  const proposal = proposeSlos(points, { ...options, load: 16 });
  assert.equal(proposal.load, 16);
  assert.ok(proposal.error_rate > 0);
  assert.equal(proposal.slos[0]?.ci.upper, null);
  assert.match(
    proposal.slos[0]?.note ?? '',
    /100 samples give p99 no upper confidence bound at 95% \(it takes 368\)/,
  );
});

test('bad choices are errors with exit code 2 that name what there is', () => {
  const points = poolIterations([iteration(0, 1, 2, 1), { ...iteration(1, 4, 0, 1), scenario: 'D(10,10)' }]);
  const expectError = (fn: () => unknown, pattern: RegExp): void => {
    assert.throws(
      fn,
      (error: unknown) =>
        error instanceof InfermarkError && error.exitCode === 2 && pattern.test(error.message),
    );
  };
  expectError(() => proposeSlos(points, options), /several scenarios \(D\(100,100\), D\(10,10\)\)/);
  expectError(() => proposeSlos(points, { ...options, scenario: 'X' }), /no such scenario/);
  expectError(
    () => proposeSlos(points, { ...options, scenario: 'D(100,100)' }),
    /no load ran without errors \(loads 1\)/,
  );
  expectError(
    () => proposeSlos(points, { ...options, scenario: 'D(10,10)', load: 7 }),
    /ran no such load \(it ran 4\)/,
  );
});

test('users and requests per second are not one axis: a scenario that ran both needs the kind', () => {
  // Concurrency 8 and a rate of 8 req/s (slower): `8` alone is ambiguous, `8rps` is the rate.
  const points = poolIterations([iteration(0, 8, 0, 1), { ...iteration(1, 8, 0, 2), load_kind: 'rate' }]);
  assert.throws(
    () => proposeSlos(points, options),
    /ran both concurrencies and rates.*--load \(c8 or 8rps\)/,
  );
  assert.throws(() => proposeSlos(points, { ...options, load: 8 }), /write c8 or 8rps/);
  const rate = proposeSlos(points, { ...options, load: 8, loadKind: 'rate' });
  assert.equal(rate.load_kind, 'rate');
  assert.deepEqual(rate.iterations, [1]);
  const users = proposeSlos(points, { ...options, load: 8, loadKind: 'concurrency' });
  assert.deepEqual(users.iterations, [0]);
});

test('the SLO file holds spec.slos lines and how each was derived', () => {
  const proposal = proposeSlos(poolIterations([iteration(0, 4, 0, 0.05)]), { ...options, metrics: ['tpot'] });
  const text = sloFileYaml(proposal, { run_id: 'r1' });
  const doc = parse(text) as { slos: string[]; proposed: { slos: { samples: number; ci_level: number }[] } };
  // Small values keep tenths: 0.05 × 400 × 0.99 ≈ 19.8 → TPOT 1.98 ms × 1.2 → 2.4.
  assert.deepEqual(doc.slos, ['p99_tpot_ms<=2.4']);
  assert.equal(doc.proposed.slos[0]?.samples, 400);
  assert.equal(doc.proposed.slos[0]?.ci_level, 0.95);
  assert.match(text, /^# SLOs proposed by infermark slo propose from run r1/);
});

test('--snap rounds each threshold up to the engine bucket boundary that will measure it, and says so', () => {
  const points = poolIterations([iteration(0, 4, 0, 0.5)]);
  // p99 of 0.5..200 ms ≈ 198.0; × 1.2 → 238 ms; the next boundary is 250 ms.
  const snapped = proposeSlos(points, {
    ...options,
    metrics: ['ttft'],
    snap: { engine: 'vllm', boundaries_ms: { ttft: [100, 250, 500] } },
  });
  assert.equal(snapped.slos[0]?.slo, 'p99_ttft_ms<=250');
  assert.match(snapped.slos[0]?.snapped_to ?? '', /vllm's bucket boundary 250 ms \(from 238 ms\)/);
  const beyond = proposeSlos(points, {
    ...options,
    metrics: ['ttft'],
    snap: { engine: 'vllm', boundaries_ms: { ttft: [100] } },
  });
  assert.equal(beyond.slos[0]?.threshold_ms, 238);
  assert.match(beyond.slos[0]?.snapped_to ?? '', /no vllm bucket boundary at or above 238 ms/);
  assert.equal(proposeSlos(points, { ...options, metrics: ['ttft'] }).slos[0]?.snapped_to, null);
});
