/**
 * Hot metrics: the label builder refuses every name outside the allowlist; a run
 * against the simulator (in process, with injected faults) leaves counters and
 * histograms equal to its iteration summaries; the built CLI with --metrics-port
 * serves /metrics during the run, scraped over HTTP, where no series carries a
 * label outside the allowlist and no label value is a request id, a trace id or
 * a hash; the Grafana dashboard queries only exported names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, jsonLines, ROOT, runFolderUnder, simulatorFixture } from '../cli/testing/harness.js';
import { executeRun } from '../engine/run.js';
import { ValidationError } from '../base/errors.js';
import type { IterationSummary } from '../metrics/iteration-summary.js';
import type { RequestRecord } from '../metrics/record.js';
import { spawnSimulator } from '../sim/spawn.js';
import { jobFromCli, resolveEndpoint } from '../spec/load-job.js';
import {
  concurrencyBucket,
  ENUM_LABELS,
  ERROR_CLASSES,
  HOT_LABEL_NAMES,
  HotLabelError,
  hotLabels,
} from './hot-labels.js';
import { exportedSeriesNames, HOT_METRICS, HotMetrics, topologyLabels } from './hot-metrics.js';
import { startMetricsServer } from './metrics-server.js';
import { freePort } from '../base/testing/free-port.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples (comments skipped, label values unescaped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, (_, c: string) =>
        c === 'n' ? '\n' : c,
      );
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Σ of the samples named `name` whose labels include `where`. */
function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Label names a series may carry: the allowlist, the closed enums, and prom-client's `le`. */
const ALLOWED_LABEL_NAMES = new Set<string>([...HOT_LABEL_NAMES, 'le']);

// D(20,20): ~20 + 19 × 5 = 115 ms per request, independent of load.
const { sim, tmp } = simulatorFixture('infermark-hot-', {
  ttftMs: 20,
  ttftPerInputTokenMs: 0,
  itlMs: 5,
  itlJitterMs: 0,
  batchSlowdown: 0,
});

const RUN_ID = '0190a3b4-1234-7abc-8def-0123456789ab';
const CASE_ID = `sha256:${'ab'.repeat(32)}`;

test('the label builder refuses any label name outside the allowlist', () => {
  for (const name of ['request_id', 'trace_id', 'prompt_hash', 'scenario', 'team', 'model', '']) {
    assert.throws(
      () => hotLabels({ run_id: RUN_ID, [name]: 'x' }),
      (error: unknown) => error instanceof HotLabelError && error.label === name,
      name,
    );
  }
  const ok = hotLabels({
    run_id: RUN_ID,
    benchmark_case_id: CASE_ID,
    cluster: 'prod-eu',
    region: 'eu-west-1',
    node_pool: 'h100.pool',
    gpu_model: 'H100',
    scheduler_path: 'local',
    concurrency_bucket: '5-16',
    phase: 'measured',
    outcome: 'error',
    error_class: 'http_429',
  });
  assert.equal(Object.keys(ok).length, 11);
  assert.ok(Object.isFrozen(ok));
});

test('the label builder refuses values that are identifiers, hashes or outside their enum', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const refused: Record<string, string>[] = [
    { cluster: traceId },
    { region: `eu-${'a1b2c3d4e5f6a7b8'}` },
    { node_pool: RUN_ID },
    { gpu_model: 'x'.repeat(64) },
    { scheduler_path: 'has space' },
    { run_id: '0-17' },
    { run_id: traceId },
    { benchmark_case_id: traceId },
    { concurrency_bucket: '16' },
    { outcome: 'timeout' },
    { phase: 'cooldown' },
    { error_class: 'http_503' },
  ];
  for (const labels of refused) assert.throws(() => hotLabels(labels), HotLabelError, JSON.stringify(labels));
  for (const [name, values] of Object.entries(ENUM_LABELS))
    for (const value of values) assert.doesNotThrow(() => hotLabels({ [name]: value }));
});

test('concurrency buckets are coarse and closed', () => {
  const bucket = (concurrency: number): string => concurrencyBucket({ mode: 'concurrency', concurrency });
  assert.deepEqual([1, 2, 4, 5, 16, 17, 64, 65, 256, 257, 10_000].map(bucket), [
    '1',
    '2-4',
    '2-4',
    '5-16',
    '5-16',
    '17-64',
    '17-64',
    '65-256',
    '65-256',
    '257+',
    '257+',
  ]);
  assert.equal(concurrencyBucket({ mode: 'rate' }), 'rate');
  assert.equal(concurrencyBucket({ mode: 'trace' }), 'trace');
});

test('topology labels come from the job; a label that looks like an id is refused with its path', () => {
  const job = jobFromCli({ url: 'http://127.0.0.1:1', model: 'm' });
  assert.deepEqual(topologyLabels(job, null), {
    cluster: 'unknown',
    region: 'unknown',
    node_pool: 'unknown',
    gpu_model: 'unknown',
    scheduler_path: 'local',
  });
  job.metadata.labels = {
    'infermark.io/cluster': 'c1',
    'topology.kubernetes.io/region': 'r1',
    'infermark.io/node-pool': '9f86d081884c7d659a2feaa0c55ad015',
  };
  assert.throws(
    () => topologyLabels(job, 'job.yaml'),
    (error: unknown) =>
      error instanceof ValidationError &&
      error.issues.length === 1 &&
      error.message.includes('job.yaml: metadata.labels["infermark.io/node-pool"]'),
  );
});

test('after a run with faults and warmup, every counter and histogram equals the iteration summaries', async () => {
  const faulty = await spawnSimulator({
    seed: 3,
    ttftMs: 5,
    ttftPerInputTokenMs: 0,
    itlMs: 1,
    itlJitterMs: 0,
    batchSlowdown: 0,
    errorRate: 0.1,
    disconnectRate: 0.05,
  });
  const outRoot = await mkdtemp(join(tmp(), 'in-process-'));
  const hot = new HotMetrics(topologyLabels(jobFromCli({ url: faulty.url, model: 'm' }), null));
  try {
    const job = jobFromCli({
      url: faulty.url,
      model: 'm',
      scenarios: ['D(20,12)'],
      concurrency: [1, 4],
      maxRequests: 60,
      warmupRequests: 3,
      seed: 11,
    });
    const result = await executeRun({
      job,
      jobFile: null,
      endpoint: resolveEndpoint(job, {}),
      outRoot,
      events: hot.events,
    });
    const samples = parseExposition(await hot.registry.metrics());
    for (const s of samples) assert.equal(s.labels.run_id ?? result.runId, result.runId, s.name);
    let errors = 0;
    for (const summary of result.summaries) {
      const where = {
        concurrency_bucket: concurrencyBucket({ mode: 'concurrency', concurrency: summary.concurrency ?? 0 }),
      };
      assertMatchesSummary(samples, where, summary);
      errors += summary.requests.errored;
    }
    assert.ok(errors > 0, 'the simulator injected errors');
    assert.equal(total(samples, 'infermark_iterations_planned'), 2);
    assert.equal(total(samples, 'infermark_iteration_index'), 1);
  } finally {
    hot.close();
    await faulty.close();
  }
});

function assertMatchesSummary(
  samples: Sample[],
  where: Record<string, string>,
  summary: IterationSummary,
): void {
  const { requests, tokens, distributions: d } = summary;
  const count = (outcome: string, phase = 'measured'): number =>
    total(samples, 'infermark_requests_total', { ...where, phase, outcome });
  const label = JSON.stringify(where);
  assert.equal(count('ok'), requests.completed, `${label} completed`);
  assert.equal(count('error'), requests.errored, `${label} errored`);
  assert.equal(count('cancelled'), requests.cancelled, `${label} cancelled`);
  assert.equal(
    count('ok', 'warmup') + count('error', 'warmup') + count('cancelled', 'warmup'),
    requests.warmup,
  );
  for (const cls of ERROR_CLASSES) {
    const counted = total(samples, 'infermark_request_errors_total', { ...where, error_class: cls });
    assert.equal(counted, requests.errors_by_class[cls], `${label} ${cls}`);
  }
  assert.equal(
    total(samples, 'infermark_output_tokens_total', where),
    tokens.output_total,
    `${label} tokens`,
  );
  const histograms = [
    ['infermark_ttft_seconds', d.ttft_ms],
    ['infermark_tpot_seconds', d.tpot_ms],
    ['infermark_itl_seconds', d.itl_ms],
    ['infermark_e2e_latency_seconds', d.e2e_latency_ms],
  ] as const;
  for (const [name, distribution] of histograms) {
    assert.equal(total(samples, `${name}_count`, where), distribution.count, `${label} ${name}_count`);
    assert.equal(total(samples, `${name}_bucket`, { ...where, le: '+Inf' }), distribution.count);
    const sumMs = total(samples, `${name}_sum`, where) * 1000;
    assert.ok(
      Math.abs(sumMs - (distribution.mean ?? 0) * distribution.count) < 1e-6 * Math.max(1, sumMs),
      name,
    );
    const cumulative = samples.filter(
      (s) => s.name === `${name}_bucket` && s.labels.concurrency_bucket === where.concurrency_bucket,
    );
    for (let i = 1; i < cumulative.length; i++)
      assert.ok(
        (cumulative[i] as Sample).value >= (cumulative[i - 1] as Sample).value,
        `${name} buckets cumulative`,
      );
  }
}

const JOB_YAML = `apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata:
  name: hot-metrics-e2e
  labels:
    infermark.io/cluster: test-cluster
    topology.kubernetes.io/region: local-1
    infermark.io/node-pool: cpu-pool
    infermark.io/scheduler-path: direct
    # An arbitrary user tag: it must not become a label.
    team: perf-team
spec:
  endpoint:
    endpoint:
      url: 'http://127.0.0.1:9/v1/chat/completions'
      apiFormat: openai
      modelName: m
  task: text-to-text
  trafficScenarios: ['D(20,20)']
  numConcurrency: [2, 8]
  maxTimePerIteration: 1
  maxRequestsPerIteration: 40
  serviceMetadata:
    engine: vLLM
    version: simulated
    gpuType: H100
    gpuCount: 1
  warmup:
    requests: 2
  seed: 7
`;

test(
  'run --metrics-port serves /metrics during the run: allowlisted labels only, no id or hash as a value, counters as the summary',
  { timeout: 60_000 },
  async () => {
    const jobFile = join(tmp(), 'hot-job.yaml');
    await writeFile(jobFile, JOB_YAML);
    const out = join(tmp(), 'run-hot');
    const port = await freePort();
    const scrapes: string[] = [];
    let running = true;
    let refusedNonMetricsPath = false;
    const scraper = (async () => {
      while (running) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/metrics`);
          assert.equal(response.status, 200);
          assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
          scrapes.push(await response.text());
          if (!refusedNonMetricsPath) {
            refusedNonMetricsPath = (await fetch(`http://127.0.0.1:${port}/`)).status === 404;
          }
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          // Not listening yet, or no longer.
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const started = performance.now();
    const result = await cli(
      ['run', jobFile, '--url', sim().url, '--out', out, '--no-warehouse', '--metrics-port', String(port)],
      { timeoutMs: 45_000 },
    );
    const wallS = (performance.now() - started) / 1000;
    running = false;
    await scraper;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`hot metrics: http://127\\.0\\.0\\.1:${port}/metrics`));
    assert.ok(refusedNonMetricsPath, 'a path other than /metrics is 404');
    const withSeries = scrapes
      .map(parseExposition)
      .filter((s) => s.some((x) => x.name === 'infermark_requests_total'));
    console.log(
      `# hot metrics: run ${wallS.toFixed(1)} s, ${scrapes.length} scrapes, ${withSeries.length} with series`,
    );
    assert.ok(withSeries.length >= 5, `scrapes with series: ${withSeries.length}`);

    const dir = await runFolderUnder(out);
    const run = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as {
      run_id: string;
      benchmark_case_id: string;
    };
    const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as {
      iterations: IterationSummary[];
    };
    const records = [
      ...((await jsonLines(join(dir, 'iterations', '000', 'requests.jsonl'))) as RequestRecord[]),
      ...((await jsonLines(join(dir, 'iterations', '001', 'requests.jsonl'))) as RequestRecord[]),
    ];
    assert.equal(records.length, 84);
    const forbidden = new Set<string>();
    for (const r of records) {
      forbidden.add(r.request_id);
      if (r.trace_id) forbidden.add(r.trace_id);
    }
    assert.ok(forbidden.size >= 168, 'request and trace ids present');

    const labelValues = new Set<string>();
    for (const samples of withSeries) {
      for (const s of samples) {
        if (!s.name.startsWith('infermark_')) continue;
        for (const [name, value] of Object.entries(s.labels)) {
          assert.ok(ALLOWED_LABEL_NAMES.has(name), `${s.name} carries label ${name}`);
          labelValues.add(value);
        }
        assert.equal(s.labels.run_id, run.run_id);
        assert.equal(s.labels.benchmark_case_id, run.benchmark_case_id);
        assert.equal(s.labels.cluster, 'test-cluster');
        assert.equal(s.labels.region, 'local-1');
        assert.equal(s.labels.node_pool, 'cpu-pool');
        assert.equal(s.labels.scheduler_path, 'direct');
        assert.equal(s.labels.gpu_model, 'H100');
      }
    }
    for (const value of labelValues) {
      assert.ok(!forbidden.has(value), `label value ${value} is a request or trace id`);
      if (value !== run.benchmark_case_id)
        assert.doesNotMatch(value, /[0-9a-f]{32,}/i, 'a hash as a label value');
    }
    assert.ok(!labelValues.has('perf-team'), 'a user tag became a label value');

    // Counters only grow, and never pass what the run folder ends with.
    const series = (samples: Sample[]): Map<string, number> =>
      new Map(
        samples
          .filter((s) => s.name.endsWith('_total') || s.name.endsWith('_count'))
          .map((s) => [`${s.name}${JSON.stringify(s.labels)}`, s.value]),
      );
    const series1 = withSeries.map(series);
    for (let i = 1; i < series1.length; i++)
      for (const [key, value] of series1[i - 1] as Map<string, number>)
        assert.ok(((series1[i] as Map<string, number>).get(key) ?? -1) >= value, `${key} went down`);
    const last = withSeries.at(-1) as Sample[];
    assert.ok(total(last, 'infermark_requests_total') <= records.length);
    assert.ok(
      withSeries.some((s) => total(s, 'infermark_requests_in_flight') > 0),
      'in-flight seen',
    );

    // Once the second iteration (c=8, bucket 5-16) is under way, the first (c=2, bucket 2-4) is final.
    const [first] = summary.iterations as [IterationSummary];
    const afterFirst = withSeries.find((s) => total(s, 'infermark_iteration_index') === 1);
    assert.ok(afterFirst, 'a scrape during the second iteration');
    assertMatchesSummary(afterFirst, { concurrency_bucket: '2-4' }, first);
  },
);

test('a bad or taken --metrics-port exits 2 before any load is sent', async () => {
  const before = (await sim().stats()).requests;
  const args = (port: string): string[] => [
    'run',
    '--url',
    sim().url,
    '--model',
    'm',
    '--max-requests',
    '2',
    '--out',
    join(tmp(), 'bad-port'),
    '--no-warehouse',
    '--metrics-port',
    port,
  ];
  const bad = await cli(args('http'));
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--metrics-port: "http": must be a port number/);
  // The simulator's own port is taken.
  const taken = await cli(args(String(sim().port)));
  assert.equal(taken.code, 2, taken.stderr);
  assert.match(taken.stderr, /cannot listen \(EADDRINUSE\)/);
  assert.equal((await sim().stats()).requests, before, 'no request was sent');
});

test('the metrics server answers /metrics only, and closes with a keep-alive connection open', async () => {
  const hot = new HotMetrics(topologyLabels(jobFromCli({ url: 'http://127.0.0.1:1', model: 'm' }), null));
  const server = await startMetricsServer(hot.registry, { port: 0 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const response = await fetch(server.url);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /# TYPE infermark_ttft_seconds histogram/);
    assert.equal((await fetch(server.url.replace('/metrics', '/nope'))).status, 404);
    assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);
  } finally {
    hot.close();
    await server.close();
  }
});

test('the Grafana dashboard is valid JSON and queries only exported metric names and allowed labels', async () => {
  const dashboard = JSON.parse(
    await readFile(join(ROOT, 'deploy', 'grafana', 'infermark-dashboard.json'), 'utf8'),
  ) as {
    schemaVersion: number;
    templating: { list: Array<{ name: string; type: string }> };
    panels: Array<{
      id: number;
      title: string;
      datasource: { uid: string };
      targets: Array<{ expr: string }>;
    }>;
  };
  assert.ok(dashboard.schemaVersion >= 36);
  const variables = dashboard.templating.list.map((v) => v.name);
  for (const name of ['DS_PROMETHEUS', 'run_id', 'benchmark_case_id', 'gpu_model'])
    assert.ok(variables.includes(name), name);
  const exported = new Set(exportedSeriesNames());
  const used = new Set<string>();
  const ids = new Set<number>();
  for (const panel of dashboard.panels) {
    assert.ok(!ids.has(panel.id), `panel id ${panel.id} repeated`);
    ids.add(panel.id);
    assert.equal(panel.datasource.uid, '${DS_PROMETHEUS}', panel.title);
    assert.ok(panel.targets.length > 0, panel.title);
    for (const { expr } of panel.targets) {
      // Every selector `name{...}` names an exported series, and filters on allowed labels only.
      const selectors = [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)];
      assert.ok(selectors.length > 0, expr);
      for (const [, name, matchers] of selectors) {
        assert.ok(exported.has(name as string), `${panel.title}: ${name} is not exported`);
        used.add((name as string).replace(/_(bucket|sum|count)$/, ''));
        for (const [, label] of (matchers as string).matchAll(/([a-zA-Z_]\w*)\s*=~?/g))
          assert.ok(ALLOWED_LABEL_NAMES.has(label as string), `${panel.title}: label ${label}`);
      }
      for (const name of expr.match(/\binfermark_\w+/g) ?? []) assert.ok(exported.has(name), name);
      for (const [, labels] of expr.matchAll(/\bby \(([^)]*)\)/g))
        for (const label of (labels as string).split(',').map((l) => l.trim()))
          assert.ok(ALLOWED_LABEL_NAMES.has(label), `${panel.title}: by ${label}`);
    }
  }
  const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join('|');
  for (const word of [
    'request rate',
    'error',
    'ttft',
    'tpot',
    'itl',
    'output tokens',
    'in flight',
    'event-loop',
  ])
    assert.ok(titles.includes(word), word);
  for (const metric of Object.values(HOT_METRICS).filter((m) => m.name !== 'infermark_iterations_planned'))
    assert.ok(used.has(metric.name), `${metric.name} has no panel`);
});
