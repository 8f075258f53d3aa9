// SLOs read two ways, from records with known values: goodput per request, and each
// SLO as written at its percentile, met or not met with the measured value; then the
// same through a real run against the simulator, as --json, summary.json and the table show it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli } from '../cli/testing/harness.js';
import { spawnSimulator } from '../sim/spawn.js';
import { parseSlo } from '../spec/slo.js';
import type { Slo } from '../spec/slo-types.js';
import { summarizeIteration } from './aggregate.js';
import { type IterationSummary } from './iteration-summary.js';
import { checkSlo, goodputSummary } from './goodput.js';
import { requestMetrics } from './request-metrics.js';
import { evenChunks, streamedRecord } from './testing/record-fixtures.js';

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

  it('errored requests count against a per-request SLO: 40% timeouts cannot leave p99 met', () => {
    const fast = Array.from({ length: 60 }, () => 10);
    const check = checkSlo(slo('p99_ttft_ms<=500'), fast, 40);
    // The completed requests' p99 is 10 ms, and it is shown; the target is not met.
    assert.deepEqual([check.measured, check.errored, check.met], [10, 40, false]);
    // 1 errored in 200 is within the 1% a p99 allows; 3 in 200 is not.
    const many = Array.from({ length: 199 }, () => 10);
    assert.equal(checkSlo(slo('p99_ttft_ms<=500'), many, 1).met, true);
    assert.equal(checkSlo(slo('p99_ttft_ms<=500'), many.slice(0, 197), 3).met, false);
    // Without a percentile every request must meet it: one error is a miss.
    assert.equal(checkSlo(slo('ttft_ms<=500'), many, 1).met, false);
    // ITL's samples are gaps, not requests: errors do not enter.
    assert.deepEqual(
      [checkSlo(slo('p99_itl_ms<=50'), fast, 40).errored, checkSlo(slo('p99_itl_ms<=50'), fast, 40).met],
      [0, true],
    );
  });

  it('a job without SLOs has no checks', () => {
    assert.equal(summarizeIteration(records, info, []).slo_checks, null);
  });

  it("goodput's tally: requests meeting each SLO and all of them, over every finished request", () => {
    // TTFT 1..100 ms, TPOT 5 ms: 50 meet ttft<=50, all meet tpot, none meets tpot<5.
    const perRequest = records.map(requestMetrics);
    const tally = goodputSummary(perRequest, [slo('p99_ttft_ms<=50'), slo('tpot_ms<=5')], 125);
    assert.deepEqual(
      tally.slos.map((s) => [s.text, s.metric, s.op, s.threshold, s.percentile, s.met]),
      [
        ['p99_ttft_ms<=50', 'ttft_ms', '<=', 50, 99, 50],
        ['tpot_ms<=5', 'tpot_ms', '<=', 5, null, 100],
      ],
    );
    assert.equal(tally.met_all, 50);
    assert.equal(tally.attainment, 0.4);
    assert.equal(goodputSummary(perRequest, [slo('tpot_ms<5')], 0).attainment, null);
    assert.equal(goodputSummary(perRequest, [slo('tpot_ms<5')], 100).met_all, 0);
  });
});

describe('SLO checks through the run path (simulator, `infermark run`)', () => {
  it('--json, summary.json and the table say which SLO was met, with the measured percentile', async () => {
    // The server's TTFT is at least 30 ms (ttftMs, no jitter): p99 ≤ 5 ms cannot be met, p99 ≤ 60 s must be.
    const sim = await spawnSimulator({
      seed: 1,
      ttftMs: 30,
      ttftPerInputTokenMs: 0,
      itlMs: 2,
      itlJitterMs: 0,
      // The model the run asks for is the one /v1/models lists, so the preflight passes.
      model: 'sim',
    });
    const out = await mkdtemp(join(tmpdir(), 'infermark-slo-'));
    try {
      const args = ['run', '--url', sim.url, '--model', 'sim', '--scenario', 'D(10,5)', '--concurrency', '2'];
      args.push('--max-requests', '20', '--out', out, '--no-warehouse');
      args.push('--slo', 'p99_ttft_ms<=5', '--slo', 'p99_ttft_ms<=60000');
      const json = await cli([...args, '--json']);
      assert.equal(json.code, 0, json.stderr);
      const document = JSON.parse(json.stdout) as { dir: string; iterations: IterationSummary[] };
      const [missed, met] = document.iterations[0]?.slo_checks ?? [];
      const p99 = document.iterations[0]?.distributions.ttft_ms.p99 as number;
      assert.ok(p99 >= 30, `TTFT p99 ${p99} ms, not below the server's 30 ms`);
      assert.deepEqual([missed?.slo, missed?.measured, missed?.met], ['p99_ttft_ms<=5', p99, false]);
      assert.deepEqual([met?.slo, met?.measured, met?.met], ['p99_ttft_ms<=60000', p99, true]);
      const onDisk = JSON.parse(
        await readFile(join(document.dir, 'iterations', '000', 'summary.json'), 'utf8'),
      ) as IterationSummary;
      assert.deepEqual(onDisk.slo_checks, document.iterations[0]?.slo_checks);

      const table = await cli(args);
      assert.equal(table.code, 0, table.stderr);
      assert.match(
        table.stdout,
        /SLO p99_ttft_ms<=5: NOT MET in 1 of 1 rows; measured p99 per row: \d+(\.\d+)? ✗/,
      );
      assert.match(
        table.stdout,
        /SLO p99_ttft_ms<=60000: met in the row; measured p99 per row: \d+(\.\d+)? ✓/,
      );
    } finally {
      await sim.close();
      await rm(out, { recursive: true, force: true });
    }
  });
});
