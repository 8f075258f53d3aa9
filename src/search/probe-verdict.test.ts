// A probe judged from a real iteration summary (summarizeIteration over fixture records).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeIteration } from '../metrics/aggregate.js';
import { evenChunks, streamedRecord } from '../metrics/testing/record-fixtures.js';
import { parseSlo } from '../spec/slo.js';
import type { Slo } from '../spec/slo-types.js';
import { judgeProbe, samplesNeeded } from './probe-verdict.js';

const slo = (text: string): Slo => {
  const r = parseSlo(text);
  assert.ok(r.ok);
  return r.slo;
};

/** `n` requests sent every 100 ms at `rate_rps` offered, each with this TTFT, over `span_s` seconds. */
function summary(n: number, ttft_ms: number, slos: Slo[], rate_rps = 10, span_s = n / 10) {
  const gap_s = span_s / n;
  const records = Array.from({ length: n }, (_, i) =>
    streamedRecord({
      index: i,
      sent_ms: i * gap_s * 1000,
      chunks_ms: evenChunks(i * gap_s * 1000 + ttft_ms, 5, 4),
    }),
  );
  return summarizeIteration(
    records,
    {
      iteration: 3,
      scenario: 'D(10,4)',
      mode: 'rate',
      rate_rps,
      wall_s: span_s,
      warmup_requests: 0,
      ended_by: 'max_requests',
    },
    slos,
  );
}

test('samples a percentile needs: 368 for p99, 36 for p90, one for a bound on every request', () => {
  assert.equal(samplesNeeded(99), 368);
  assert.equal(samplesNeeded(90), 36);
  assert.equal(samplesNeeded(100), 1);
});

test('a probe passes when every SLO holds, and says when it had too few samples', () => {
  const ok = judgeProbe(summary(50, 20, [slo('p90_ttft_ms<=100')]));
  assert.equal(ok.pass, true);
  assert.equal(ok.low_samples, false);
  assert.deepEqual(ok.reasons, []);
  const few = judgeProbe(summary(50, 20, [slo('p99_ttft_ms<=100')]));
  assert.equal(few.pass, true);
  assert.equal(few.low_samples, true);
  assert.match(few.reasons.join('\n'), /p99_ttft_ms<=100: too few samples \(50 of the 368/);
  assert.equal(few.checks[0]?.samples_needed, 368);
});

test('a missed SLO fails the probe; an open loop far below its offered rate shows a ceiling', () => {
  const missed = judgeProbe(summary(50, 300, [slo('p90_ttft_ms<=100')]));
  assert.equal(missed.pass, false);
  assert.match(missed.reasons[0] ?? '', /p90_ttft_ms<=100: measured 300 ms/);
  assert.equal(missed.ceiling_rps, null, 'it completed at its offered rate: no capacity shown');
  // 40 req/s offered, 10 completed a second: no rate above 10 (plus the margin) can pass.
  const overloaded = judgeProbe(summary(50, 300, [slo('p90_ttft_ms<=100')], 40, 5));
  assert.ok(overloaded.ceiling_rps !== null && overloaded.ceiling_rps > 9 && overloaded.ceiling_rps < 11);
});
