// SLOs read two ways, from records with known values: goodput per request, and each
// SLO as written at its percentile, met or not met with the measured value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSlo } from '../spec/slo.js';
import type { Slo } from '../spec/slo-types.js';
import { summarizeIteration } from './aggregate.js';
import { checkSlo } from './goodput.js';
import { evenChunks, streamedRecord } from './record-fixtures.js';

function slo(text: string): Slo {
  const parsed = parseSlo(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.slo;
}

// 100 requests with TTFT 1, 2, ..., 100 ms (numpy: p50 = 50.5, p99 = 99.01), 10 tokens 5 ms apart.
const records = Array.from({ length: 100 }, (_, i) =>
  streamedRecord({ index: i, sent_ms: i * 1000, chunks_ms: evenChunks(i * 1000 + i + 1, 5, 10) }),
);
const info = {
  iteration: 0,
  scenario: 'D(10,10)',
  mode: 'concurrency' as const,
  concurrency: 1,
  wall_s: 100,
  warmup_requests: 0,
  ended_by: 'max_requests' as const,
};

describe('SLO checks at their percentile', () => {
  const summary = summarizeIteration(records, info, [
    slo('p99_ttft_ms<=53'),
    slo('p50_ttft_ms<=53'),
    slo('ttft_ms<=100'),
    slo('p90_itl_ms<5.5'),
  ]);
  const checks = summary.slo_checks ?? [];

  it('a p99 over its target is not met, with the measured p99', () => {
    const p99 = checks[0];
    assert.equal(p99?.slo, 'p99_ttft_ms<=53');
    assert.ok(Math.abs((p99?.measured ?? 0) - 99.01) < 1e-9, String(p99?.measured));
    assert.equal(p99?.met, false);
    assert.equal(p99?.samples, 100);
    assert.equal(p99?.at_percentile, 99);
  });

  it('the same target at p50 is met, with the measured p50', () => {
    assert.equal(checks[1]?.measured, 50.5);
    assert.equal(checks[1]?.met, true);
  });

  it('an SLO without a percentile is checked on every request (its max)', () => {
    assert.deepEqual(
      { at: checks[2]?.at_percentile, measured: checks[2]?.measured, met: checks[2]?.met },
      { at: 100, measured: 100, met: true },
    );
  });

  it('an ITL SLO reads the pooled gaps', () => {
    assert.equal(checks[3]?.samples, 900);
    assert.ok(Math.abs((checks[3]?.measured ?? 0) - 5) < 1e-6);
    assert.equal(checks[3]?.met, true);
  });

  it('goodput still applies each SLO per request, beside the checks', () => {
    // 53 requests have TTFT ≤ 53 ms; all meet ttft_ms<=100 and the ITL bound.
    assert.equal(summary.goodput?.slos[0]?.met, 53);
    assert.equal(summary.goodput?.met_all, 53);
    assert.ok(summary.goodput_rps !== null && summary.goodput_rps > 0);
  });

  it('no samples: nothing measured, neither met nor not met', () => {
    const none = checkSlo(slo('p99_ttft_ms<=53'), []);
    assert.deepEqual([none.measured, none.met, none.samples], [null, null, 0]);
  });

  it('a lower bound without a percentile reads the smallest value', () => {
    const check = checkSlo(slo('ttft_ms>=2'), [5, 1, 9]);
    assert.deepEqual([check.at_percentile, check.measured, check.met], [0, 1, false]);
  });

  it('a job without SLOs has no checks', () => {
    assert.equal(summarizeIteration(records, info, []).slo_checks, null);
  });
});
