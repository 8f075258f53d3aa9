/**
 * `slo propose` and `slo export` as a user runs them, on a real run against the simulator:
 * the proposal's interval is the order statistics of the run's own records at the ranks
 * the binomial gives, above the simulator's fixed TTFT; the folder and the warehouse give
 * the same proposal; the export passes promtool; bad input exits 2 without a stack.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { RequestRecord } from '../metrics/record.js';
import { planExport } from '../slo/export-plan.js';
import { quantileInterval } from '../slo/quantile-ci.js';
import { parseSlo } from '../spec/slo.js';
import { promtool } from '../slo/testing/promtool.js';
import {
  assertNoStack,
  cli,
  jsonLines,
  runArgs,
  runFolderUnder,
  simulatorFixture,
} from './testing/harness.js';

// The simulator holds every first token 40 ms after admission, nothing per input token, no
// jitter; its capacity is far above the concurrency, so nothing queues.
const SIM_TTFT_MS = 40;
const { sim, tmp } = simulatorFixture('infermark-slo-', {
  ttftMs: SIM_TTFT_MS,
  ttftPerInputTokenMs: 0,
  ttftJitterMs: 0,
  itlMs: 2,
  itlJitterMs: 0,
  batchSlowdown: 0,
  capacity: 64,
});

let folder: string | undefined;
let runId: string | undefined;

/** One small run (concurrency 1 and 4, 120 requests each), shared by the tests. */
async function run(): Promise<{ folder: string; runId: string }> {
  if (folder === undefined || runId === undefined) {
    const out = join(tmp(), 'runs');
    const result = await cli(
      runArgs({
        url: sim().url,
        out,
        scenario: 'D(20,10)',
        concurrency: '1,4',
        maxRequests: 120,
        quiet: true,
      }),
      { timeoutMs: 120_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    folder = await runFolderUnder(out);
    runId = (JSON.parse(await readFile(join(folder, 'run.json'), 'utf8')) as { run_id: string }).run_id;
  }
  return { folder, runId };
}

interface ProposalJson {
  run_id: string;
  load: number;
  load_reason: string;
  iterations: number[];
  slos: {
    slo: string;
    estimate_ms: number;
    samples: number;
    threshold_ms: number;
    ci: { lower: number; upper: number; lower_rank: number; upper_rank: number; level: number };
  }[];
}

test('propose: p90 TTFT at the highest clean load, its interval the records’ own order statistics', async () => {
  const { folder: dir, runId: id } = await run();
  const sloFile = join(tmp(), 'slos.yaml');
  const result = await cli([
    'slo',
    'propose',
    dir,
    '--percentile',
    'p90',
    '--metric',
    'ttft',
    '--json',
    '--out',
    sloFile,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const proposal = JSON.parse(result.stdout) as ProposalJson;
  assert.equal(proposal.run_id, id);
  assert.equal(proposal.load, 4);
  assert.match(proposal.load_reason, /highest load with an error rate of 0 \(of 1, 4\)/);
  const ttft = proposal.slos[0];
  assert.ok(ttft);

  // The truth: the run's records, TTFT recomputed here from the stamps.
  const records = (await jsonLines(
    join(dir, 'iterations', String(proposal.iterations[0]).padStart(3, '0'), 'requests.jsonl'),
  )) as RequestRecord[];
  const values = records
    .filter((r) => r.phase === 'measured' && r.status === 'ok' && r.first_token_at_us !== null)
    .map((r) => ((r.first_token_at_us as number) - r.sent_at_us) / 1000)
    .sort((a, b) => a - b);
  assert.equal(ttft.samples, values.length);
  assert.ok(values.length >= 100, `${values.length} measured requests`);
  const expected = quantileInterval(values, 0.9, 0.95);
  assert.deepEqual([ttft.ci.lower_rank, ttft.ci.upper_rank], [expected.lower_rank, expected.upper_rank]);
  assert.ok(Math.abs(ttft.ci.lower - (expected.lower as number)) < 1e-6);
  assert.ok(Math.abs(ttft.ci.upper - (expected.upper as number)) < 1e-6);
  // The server sent no first token before 40 ms: no order statistic can be below it (1 ms of timer slack).
  assert.ok(
    ttft.ci.lower >= SIM_TTFT_MS - 1,
    `CI lower ${ttft.ci.lower} ms, the server's TTFT is ${SIM_TTFT_MS} ms`,
  );
  assert.ok(ttft.ci.lower <= ttft.estimate_ms && ttft.estimate_ms <= ttft.ci.upper);
  assert.equal(ttft.threshold_ms, Math.ceil(ttft.estimate_ms * 1.2));

  const file = parse(await readFile(sloFile, 'utf8')) as { slos: string[] };
  assert.deepEqual(file.slos, [ttft.slo]);

  // The warehouse (the run ingested into the test's own) gives the same proposal.
  const byId = await cli([
    'slo',
    'propose',
    id.slice(0, 12),
    '--percentile',
    'p90',
    '--metric',
    'ttft',
    '--out',
    '-',
  ]);
  assert.equal(byId.code, 0, byId.stderr);
  assert.match(byId.stdout, /^# SLOs proposed by infermark slo propose/);
  const fromWarehouse = parse(byId.stdout) as {
    slos: string[];
    proposed: { slos: { samples: number; ci_lower_ms: number }[] };
  };
  assert.deepEqual(fromWarehouse.slos, file.slos);
  assert.equal(fromWarehouse.proposed.slos[0]?.samples, ttft.samples);
});

test('export: from an SLO file and from a run, the rules pass promtool and the dashboards are JSON', async () => {
  const { folder: dir } = await run();
  const sloFile = join(tmp(), 'export-slos.yaml');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(sloFile, 'slos:\n  - p99_ttft_ms<=250\n  - p99_e2e_latency_ms<=2000\n');
  for (const [source, out] of [
    [sloFile, join(tmp(), 'exp-file')],
    [dir, join(tmp(), 'exp-run')],
  ] as const) {
    const result = await cli([
      'slo',
      'export',
      source,
      '--model',
      'm',
      '--out',
      out,
      '--availability',
      '99.9%',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote .*rules\.yaml/);
    if (source === sloFile) {
      assert.match(
        result.stdout,
        /p99_ttft_ms<=250: objective 99%, SLI from vllm:time_to_first_token_seconds_bucket\{le≤0\.25\}/,
      );
    } else {
      // Proposed for vLLM: each threshold rounded up to one of its boundaries, so the SLIs are exact.
      assert.doesNotMatch(result.stdout, /not a bucket boundary/);
      assert.match(result.stdout, /^p99_ttft_ms<=\d+: objective 99%/m);
    }
    const check = promtool(['check', 'rules', 'rules.yaml'], out);
    assert.equal(check.code, 0, check.output);
    for (const name of ['executive', 'on-call', 'debug']) {
      const board = JSON.parse(await readFile(join(out, `dashboard-${name}.json`), 'utf8')) as {
        panels: unknown[];
      };
      assert.ok(board.panels.length > 0, name);
    }
  }
});

test('export --buckets: boundaries a deployment set itself decide the SLI bucket', async () => {
  const sloFile = join(tmp(), 'bucket-slos.yaml');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(sloFile, 'spec:\n  slos: ["p99_ttft_ms<=250"]\n');
  const out = join(tmp(), 'exp-buckets');
  const result = await cli([
    'slo',
    'export',
    sloFile,
    '--model',
    'm',
    '--out',
    out,
    '--buckets',
    'ttft=0.2,0.3',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /SLI from vllm:time_to_first_token_seconds_bucket\{le≤0\.2\}/);
  assert.match(result.stdout, /a threshold of 300 ms would be measured exactly/);
});

test("the SLI's bucket matcher selects a real bucket of the simulator's vLLM metrics, which counts at least the requests the client saw within it", async () => {
  const { folder: dir } = await run();
  const parsed = parseSlo('p99_ttft_ms<=250');
  assert.ok(parsed.ok);
  const target = planExport([parsed.slo], { engine: 'vllm', model: 'm' }).targets[0];
  assert.ok(target);
  const response = await fetch(`${sim().url}/metrics`);
  const exposition = await response.text();
  // le=~"0\\.25" in PromQL: the regex 0\.25, anchored as Prometheus anchors it.
  const pattern = /le=~"(.*)"$/.exec(target.le_matcher)?.[1]?.replaceAll('\\\\', '\\') ?? '';
  const le = new RegExp(`^(?:${pattern})$`);
  const value = (line: string): number => Number(line.slice(line.lastIndexOf(' ') + 1));
  const buckets = exposition
    .split('\n')
    .filter((line) => line.startsWith(`${target.histogram.name}_bucket{`) && line.includes('model_name="m"'))
    .filter((line) => le.test(/le="([^"]*)"/.exec(line)?.[1] ?? ''));
  assert.equal(buckets.length, 1, `one bucket matches ${target.le_matcher}:\n${exposition.slice(0, 2000)}`);
  const count = exposition
    .split('\n')
    .find((line) => line.startsWith(`${target.histogram.name}_count{model_name="m"}`));
  assert.ok(count && value(count) > 0, 'the count series exists');
  // The server's TTFT starts when it has the request, the client's before it sends it.
  const records: RequestRecord[] = [];
  for (const iteration of ['000', '001']) {
    records.push(
      ...((await jsonLines(join(dir, 'iterations', iteration, 'requests.jsonl'))) as RequestRecord[]),
    );
  }
  const clientWithin = records.filter(
    (r) =>
      r.status === 'ok' &&
      r.first_token_at_us !== null &&
      r.first_token_at_us - r.sent_at_us <= target.le_s * 1e6,
  ).length;
  assert.ok(clientWithin > 0);
  assert.ok(value(buckets[0] as string) >= clientWithin, `server ${buckets[0]} vs client ${clientWithin}`);
});

test('bad input exits 2 naming the flag or file, without a stack trace', async () => {
  const { folder: dir } = await run();
  const sloFile = join(tmp(), 'bad-slos.yaml');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(sloFile, 'slos:\n  - p99_ttft_ms<=250\n  - p99_ttft<=9\n');
  const cases: [string[], RegExp][] = [
    [['slo', 'propose', dir, '--percentile', 'p100', '--out', '-'], /--percentile/],
    [
      ['slo', 'propose', dir, '--load', '3', '--out', '-'],
      /--load 3: scenario D\(20,10\) ran no such load \(it ran 1, 4\)/,
    ],
    [['slo', 'propose', join(tmp(), 'nope', 'x'), '--out', '-'], /no such folder/],
    // `20` is 20%, not 2000%: refused rather than read as a share of 20.
    [['slo', 'propose', dir, '--margin', '20', '--out', '-'], /--margin.*write 20% for percent/],
    [['slo', 'propose', dir, '--load', 'c4rps', '--out', '-'], /--load.*expected a concurrency/],
    [
      ['slo', 'propose', dir, '--load', '4rps', '--out', '-'],
      /--load 4: scenario D\(20,10\) ran no such load/,
    ],
    [
      ['slo', 'export', sloFile, '--model', 'm', '--out', join(tmp(), 'x')],
      /bad-slos\.yaml: slos\[1\]: "p99_ttft<=9": unknown SLO metric "ttft"/,
    ],
    [['slo', 'export', dir, '--out', join(tmp(), 'x')], /--model/],
    [
      ['slo', 'export', dir, '--model', 'm', '--engine', 'llamacpp', '--out', join(tmp(), 'x')],
      /no SLO can be exported for llamacpp/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const result = await cli(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, pattern, args.join(' '));
    assertNoStack(result);
  }
});
