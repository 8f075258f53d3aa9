// `infermark search` against the simulator with a known capacity (acceptance 4 of issue 19): the
// knee is within 10% of the simulator's true saturation rate, in a bounded number of probes. The
// true rate is the simulator's own: its slots over the mean time a request held one, taken from
// its write log (admitted → last write) for the requests of the probes at the knee, not from
// the nominal latency settings (a loaded host stretches every timer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestRecord } from '../metrics/record.js';
import { verifyRunFolder } from '../evidence/verify.js';
import { writesById } from '../sim/write-log.js';
import type { SearchDocument } from '../search/search-plan.js';
import { cli, jsonLines, simulatorFixture, writeJobYaml } from './testing/harness.js';

const CAPACITY = 4;
const fixture = simulatorFixture('infermark-search-', {
  capacity: CAPACITY,
  // Each request holds a slot for 30 ms of prefill and 7 gaps of 5 ms: about 65 ms, ~60 req/s.
  ttftMs: 30,
  ttftPerInputTokenMs: 0,
  ttftJitterMs: 0,
  itlMs: 5,
  itlJitterMs: 0,
  batchSlowdown: 0,
  writeLogRequests: 4096,
});

test('search finds the knee within 10% of the simulator saturation rate, in a bounded number of probes', async () => {
  const sim = fixture.sim();
  const tmp = fixture.tmp();
  const job = await writeJobYaml(join(tmp, 'search.yaml'), {
    name: 'search',
    url: sim.url,
    scenarios: ['D(16,8)'],
    concurrency: [1],
    maxRequestsPerIteration: 120,
    spec: [
      'arrival: { distribution: constant }',
      // Below saturation the constant arrivals find a free slot (TTFT 30 ms); above it the queue
      // grows all iteration long, and the p90 request waits far beyond the 90 ms of room.
      "slos: ['p90_ttft_ms<=120']",
      'search: { min: 16, max: 256, precisionPercent: 5 }',
      'costPerHourUsd: 36',
    ],
  });
  const out = join(tmp, 'runs');
  const result = await cli(['search', job, '--out', out, '--quiet', '--json'], { timeoutMs: 180_000 });
  assert.equal(result.code, 0, result.stderr);
  const doc = JSON.parse(result.stdout) as SearchDocument & { dir: string; run_id: string };

  // The bound: a ramp 16 → 256 is at most 5 probes, bisection to 5% at most 6 more.
  assert.ok(
    doc.probes_run <= doc.bounds.probe_bound,
    `${doc.probes_run} probes, bound ${doc.bounds.probe_bound}`,
  );
  assert.ok(doc.probes_run <= 11);
  assert.equal(doc.stopped_by, 'precision');
  assert.ok(
    doc.knee !== null && doc.last_pass && doc.first_fail,
    'a knee with a pass below and a failure above',
  );

  // The simulator's truth at the knee: its slots over the mean slot time of what it served there.
  const slotMs: number[] = [];
  const writes = writesById(await sim.writeLog());
  for (const probe of [doc.last_pass, doc.first_fail]) {
    for (const repeat of probe.repeats) {
      const records = (await jsonLines(join(doc.dir, repeat.evidence.records))) as RequestRecord[];
      for (const record of records) {
        const entry = writes.get(record.request_id);
        if (entry?.admitted_ms != null && entry.done_ms !== null && entry.outcome === 'completed')
          slotMs.push(entry.done_ms - entry.admitted_ms);
      }
    }
  }
  assert.ok(slotMs.length >= 200, `${slotMs.length} requests paired with the write log`);
  const meanSlotMs = slotMs.reduce((a, b) => a + b, 0) / slotMs.length;
  const saturationRps = CAPACITY / (meanSlotMs / 1000);
  const error = Math.abs(doc.knee - saturationRps) / saturationRps;
  assert.ok(
    error <= 0.1,
    `knee ${doc.knee} req/s vs saturation ${saturationRps.toFixed(2)} req/s (slot ${meanSlotMs.toFixed(1)} ms): ${(error * 100).toFixed(1)}% off`,
  );

  // Its evidence: the checks at the knee met, above it missed; cost within SLO from the knee's throughputs.
  assert.ok(doc.last_pass.repeats.every((r) => r.checks.every((c) => c.met === true)));
  assert.ok(doc.first_fail.repeats.some((r) => r.checks.some((c) => c.met === false)));
  assert.ok(doc.frontier.length >= 1);
  const knee = doc.last_pass;
  assert.ok(doc.cost_at_knee && knee.output_throughput_tokens_per_s);
  assert.ok(
    Math.abs(
      (doc.cost_at_knee.cost_per_million_output_tokens_usd ?? 0) -
        (0.01 / knee.output_throughput_tokens_per_s) * 1e6,
    ) < 1e-9,
  );

  // One run like any other: sealed with search.json, its plan as long as its probes.
  const report = await verifyRunFolder(doc.dir);
  assert.equal(report.status, 'complete', JSON.stringify(report.problems));
  const runJson = JSON.parse(await readFile(join(doc.dir, 'run.json'), 'utf8')) as {
    plan: unknown[];
    workloads: { iteration: number }[];
  };
  const iterations = doc.probes.reduce((n, p) => n + p.repeats.length, 0);
  assert.equal(runJson.plan.length, iterations);
  // Every probe's workload is described, so the warehouse files each outcome under it.
  assert.deepEqual(
    runJson.workloads.map((w) => w.iteration),
    runJson.plan.map((_, i) => i),
  );
  const onDisk = JSON.parse(await readFile(join(doc.dir, 'search.json'), 'utf8')) as SearchDocument;
  assert.equal(onDisk.knee, doc.knee);
  const manifest = JSON.parse(await readFile(join(doc.dir, 'manifest.json'), 'utf8')) as {
    artifacts: { path: string }[];
  };
  assert.ok(manifest.artifacts.some((a) => a.path === 'search.json'));

  // Ingested like any run: the report shows every point's cost and the cost within SLO at the knee.
  const report_md = await cli(['report', doc.dir, '--format', 'md', '--view', 'product', '-o', '-'], {
    timeoutMs: 60_000,
  });
  assert.equal(report_md.code, 0, report_md.stderr);
  assert.match(report_md.stdout, /\$\/M output tok/);
  const kneeName = `D(16,8) @ ${doc.knee} req/s`;
  assert.ok(
    report_md.stdout.includes(`Cost within SLO: at ${kneeName}, the highest load meeting every SLO`),
    report_md.stdout,
  );
});

test('a search that cannot run is refused before any load: split runs, no SLO, no scenario chosen (exit 2)', async () => {
  const tmp = fixture.tmp();
  const base = { url: fixture.sim().url, concurrency: [1], maxRequestsPerIteration: 10 };
  const noSlo = await writeJobYaml(join(tmp, 'no-slo.yaml'), {
    name: 'no-slo',
    scenarios: ['D(4,4)', 'D(8,8)'],
    ...base,
  });
  const refused = await cli(['search', noSlo, '--workers', '2', '--out', join(tmp, 'refused')]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /no-slo\.yaml: spec\.slos: the search needs at least one SLO/);
  assert.match(refused.stderr, /command line: --workers: "2": a search runs in one process/);
  assert.match(
    refused.stderr,
    /spec\.search\.scenario: a search probes one scenario: expected one of spec\.trafficScenarios \(D\(4,4\), D\(8,8\)\)/,
  );
  assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
});
