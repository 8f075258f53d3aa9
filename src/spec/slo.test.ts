// SLO strings: parse, canonical print, and messages for the usual mistakes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSlo, parseSlo } from './slo.js';

describe('parseSlo', () => {
  it('parses percentile, metric, operator and threshold', () => {
    const r = parseSlo('p99_ttft_ms<=500');
    assert.ok(r.ok);
    assert.deepEqual(r.slo, {
      text: 'p99_ttft_ms<=500',
      metric: 'ttft_ms',
      percentile: 99,
      op: '<=',
      threshold: 500,
    });
  });

  it('accepts no percentile, fractional percentiles and every metric', () => {
    const cases: [string, number | null][] = [
      ['ttft_ms<500', null],
      ['p99.9_e2e_latency_ms<=3000', 99.9],
      ['p50_tpot_ms<=40', 50],
      ['p90_itl_ms<20', 90],
      ['ttfb_ms<=100', null],
      ['p95_ttfo_ms<=800', 95],
      ['p100_tpot_ms<=0.5', 100],
    ];
    for (const [text, percentile] of cases) {
      const r = parseSlo(text);
      assert.ok(r.ok, text);
      assert.equal(r.slo.percentile, percentile);
      assert.equal(formatSlo(r.slo), text);
    }
  });

  it('tolerates spaces around the operator and prints without them', () => {
    const r = parseSlo(' p99_ttft_ms <= 500 ');
    assert.ok(r.ok);
    assert.equal(r.slo.text, ' p99_ttft_ms <= 500 ');
    assert.equal(formatSlo(r.slo), 'p99_ttft_ms<=500');
  });

  const bad: [string, string][] = [
    ['', 'expected [pNN_]metric<=number'],
    ['p99_ttft_ms', 'the operator is one of <=, <, >=, >'],
    ['p99_ttft_ms=500', 'operator must be one of <=, <, >=, > (got =)'],
    ['p99_ttft<=500', 'unknown SLO metric "ttft" (did you mean ttft_ms?)'],
    ['p99_latency_ms<=500', 'unknown SLO metric "latency_ms"'],
    ['p0_ttft_ms<=500', 'percentile must be > 0 and ≤ 100'],
    ['p101_ttft_ms<=500', 'percentile must be > 0 and ≤ 100'],
    ['p99ttft_ms<=500', 'a percentile is written p99_ or p99.9_'],
    ['p99_ttft_ms<=-1', 'threshold must be a non-negative number'],
    ['p99_ttft_ms<=5s', 'threshold must be a non-negative number in milliseconds (got "5s")'],
  ];
  for (const [text, expected] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      const r = parseSlo(text);
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(r.message.includes(expected), r.message);
    });
  }
});
